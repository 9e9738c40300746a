package workflow

import (
	"context"
	"fmt"
)

// The audit actions of a handoff.
const (
	ActionHandoffAsked = "occupant.handoff.asked"
	ActionHandoffKept  = "occupant.handoff.kept"
)

// maxRemoveReason bounds a forced removal's reason.
const maxRemoveReason = 200

// AskRelease records that by asks the owner of ticket (its release
// releaseID) in env to take it out, and returns the occupant: the caller
// asks the owner (the bot: a DM with Remove it / Keep it). Anyone may ask;
// an owner asking about their own ticket is told to remove it instead.
func (s *Service) AskRelease(ctx context.Context, env, ticket, releaseID string, by User) (Occupant, error) {
	const op = "ask"
	e, o, err := s.findOccupant(ctx, op, env, ticket, releaseID)
	if err != nil {
		return Occupant{}, err
	}
	if by.ID == "" {
		return Occupant{}, Errorf(op, Invalid, "who is asking? a user is required")
	}
	if by.ID == o.By {
		return Occupant{}, Errorf(op, Invalid, "%s is yours: `/release remove %s %s` takes it out", o.Ticket, o.Ticket, e.Name)
	}
	s.auditEnv(ctx, Event{Env: e.Name, Action: ActionHandoffAsked, Actor: by.ID, Ticket: o.Ticket, ReleaseID: o.ReleaseID,
		Detail: fmt.Sprintf("%s asked %s to take %s out of %s%s", by.ID, o.By, o.Ticket, e.Name, by.via())})
	return o, nil
}

// AnswerRelease is the owner's answer to AskRelease: remove takes the
// ticket out by the remove path (the reason names the asker), otherwise
// the answer is recorded. Only the owner, or someone who may remove
// tickets from env, answers.
func (s *Service) AnswerRelease(ctx context.Context, env, ticket, releaseID, asker string, remove bool, by User) (EnvChange, error) {
	const op = "answer"
	e, o, err := s.ownOccupant(ctx, op, env, ticket, releaseID, by)
	if err != nil {
		return EnvChange{}, err
	}
	if remove {
		return s.removeTicket(ctx, e, o.Ticket, by, removal{askedBy: asker, release: o.ReleaseID})
	}
	s.auditEnv(ctx, Event{Env: e.Name, Action: ActionHandoffKept, Actor: by.ID, Ticket: o.Ticket, ReleaseID: o.ReleaseID,
		Detail: fmt.Sprintf("%s keeps %s in %s (asked by %s)%s", by.ID, o.Ticket, e.Name, asker, by.via())})
	return EnvChange{Env: e, By: by, Ticket: o.Ticket, Stayed: []Occupant{o}}, nil
}

// ForceRemove is an env admin's remove with a reason (allowed_for.remove
// decides who): the reason and the user are in the audit trail and the
// channel's announcement. The reason is made safe like a hold's.
func (s *Service) ForceRemove(ctx context.Context, ticket, env string, by User, reason string) (EnvChange, error) {
	e, key, err := s.removeRequest(ticket, env, by)
	if err != nil {
		return EnvChange{}, err
	}
	reason = cleanText(reason, maxRemoveReason)
	if reason == "" {
		return EnvChange{}, Errorf("remove", Invalid, "a forced removal needs a reason")
	}
	return s.removeTicket(ctx, e, key, by, removal{why: reason})
}

// findOccupant finds ticket's entry in env for release releaseID ("": any).
func (s *Service) findOccupant(ctx context.Context, op, env, ticket, releaseID string) (Env, Occupant, error) {
	e, err := s.Env(env)
	if err != nil {
		return Env{}, Occupant{}, err
	}
	key, err := ParseTicketKey(ticket)
	if err != nil {
		return Env{}, Occupant{}, err
	}
	occ, err := s.store.Occupants(ctx, e.Name)
	if err != nil {
		return Env{}, Occupant{}, fmt.Errorf("read %s's occupants: %w", e.Name, err)
	}
	for _, o := range occ {
		if o.Ticket != key {
			continue
		}
		if releaseID != "" && o.ReleaseID != releaseID {
			return Env{}, Occupant{}, Errorf(op, Invalid, "%s was released to %s again since this message; nothing was changed", key, e.Name)
		}
		return e, o, nil
	}
	return Env{}, Occupant{}, Errorf(op, NotFound, "%s is not in %s any more; nothing was changed", key, e.Name)
}
