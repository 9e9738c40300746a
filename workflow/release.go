package workflow

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// ReleaseRequest is a /release TICKET ENV request, as typed.
type ReleaseRequest struct {
	Ticket string // the key as typed; parsed forgivingly
	Env    string
	User   User
	// ID is the release ID to use, e.g. derived from the Slack envelope so
	// that a redelivery finds the same record; "" makes a new one.
	ID string
	// OverrideSoak, when not empty, is why a production release may skip
	// its env's soak gate; only the env's approvers may ask (see soak.go).
	OverrideSoak string
	// RollbackOf and RollbackTo make the request a production rollback:
	// deploy RollbackTo (an earlier production deploy) in place of what
	// release RollbackOf deployed, after the env's approvals. Only
	// Service.Rollback sets them.
	RollbackOf, RollbackTo string
}

// Release runs one release to completion in this process, as a job: it
// submits the request (see Submit) and runs an inline Worker on the env
// (see Worker.RunUntil) until the release's record is final. For a non-prod
// env the job merges the ticket's branch into the env branch (creating it
// from the production branch, syncing the production branch in first),
// pushes it with a lease, deploys it and records the occupants; for prod,
// it checks the ticket is in the production branch and deploys that
// branch's tip.
//
// Invalid input (unknown env, malformed key, user not allowed) and unknown
// or refused tickets return an error before anything is recorded and
// before any Repo call. From then on the release has a record in the Store
// with its journal, every outcome goes to the Notifier as well as being
// returned, and the env's lease is released however the job ends. A
// process that dies mid-release leaves the job queued: the next worker
// (any replica's, or the next Release on the env) resumes it from its
// journal once the lease expires. A merge conflict returns an error of
// kind Conflict that wraps a *ConflictReport.
func (s *Service) Release(ctx context.Context, req ReleaseRequest) (Release, error) {
	rec, _, err := s.Submit(ctx, req)
	if err != nil {
		return rec, err
	}
	return s.RunUntil(ctx, rec.Env, rec.ID)
}

// RunUntil runs an inline Worker on env (see Worker.RunUntil) until the
// job id, submitted already, is final: how a terminal runs its release or
// a production rollback it asked for.
func (s *Service) RunUntil(ctx context.Context, env, id string) (Release, error) {
	w, err := s.NewWorker(WorkerConfig{Envs: []string{env}})
	if err != nil {
		return Release{ID: id, Env: env}, err
	}
	return w.RunUntil(ctx, id)
}

// record stores a validated request's release record, journals it as
// validated and audits the request.
func (s *Service) record(ctx context.Context, req ReleaseRequest, env Env, ticket Ticket) (*run, error) {
	id := req.ID
	if id == "" {
		id = s.newID()
	}
	now := s.clock.Now()
	r := &run{
		s: s, env: env, ticket: ticket, user: req.User, start: now,
		log: s.log.With(slog.String("release", id), slog.String("ticket", string(ticket.Key)), slog.String("env", env.Name)),
		rec: Release{
			ID: id, Ticket: ticket.Key, Env: env.Name, By: req.User.ID, Via: req.User.Via,
			RequestedAt: now, State: StateQueued, UpdatedAt: now,
		},
	}
	if err := s.store.CreateRelease(ctx, r.rec); err != nil {
		return nil, fmt.Errorf("record release %s: %w", id, err)
	}
	r.step(ctx, StepValidated, oneLine(string(ticket.Key)+" "+ticket.Summary, 200))
	r.journalOverride(ctx, req.OverrideSoak)
	if req.RollbackOf != "" {
		r.step(ctx, StepRollbackOf, req.RollbackOf+" "+req.RollbackTo)
	}
	r.audit(ctx, Event{Action: ActionRequested, Actor: req.User.ID, Detail: strings.TrimSpace(req.User.via())})
	return r, nil
}

// lookup finds the ticket and checks it against the policy.
func (s *Service) lookup(ctx context.Context, key TicketKey) (Ticket, error) {
	ticket, err := s.tickets.Lookup(ctx, key)
	if err != nil {
		return Ticket{}, fmt.Errorf("look up %s: %w", key, err)
	}
	if ticket.Key == "" {
		ticket.Key = key
	}
	if err := s.cfg.Policy.Check(ticket); err != nil {
		return Ticket{}, err
	}
	return ticket, nil
}

// validate checks a request without any I/O.
func (s *Service) validate(req ReleaseRequest) (Env, TicketKey, error) {
	env, err := s.Env(req.Env)
	if err != nil {
		return Env{}, "", err
	}
	key, err := ParseTicketKey(req.Ticket)
	if err != nil {
		return Env{}, "", err
	}
	if req.User.ID == "" {
		return Env{}, "", Errorf("release", Invalid, "who is releasing? a user is required")
	}
	if !env.Allows(req.User) {
		return Env{}, "", Errorf("release", Forbidden, "%s may not release to %s", req.User, env.Name)
	}
	if err := checkSoakOverride(env, req); err != nil {
		return Env{}, "", err
	}
	return env, key, nil
}
