package workflow

import (
	"context"
	"fmt"
	"time"
)

// maxHoldReason bounds a hold's reason.
const maxHoldReason = 200

// HoldRequest is /release hold ENV [reason] [--until T].
type HoldRequest struct {
	Env    string
	By     User
	Reason string    // free text; cleaned and cut to 200 bytes
	Until  time.Time // zero: until unheld
}

// Hold freezes an env: releases to it queue (their position shown, the
// hold named) until Unhold or Until. Holding a held env replaces its hold.
// The reason is made safe: one line, no markup or broadcast mentions.
func (s *Service) Hold(ctx context.Context, req HoldRequest) (Hold, error) {
	const op = "hold"
	env, err := s.lifecycleEnv(op, req.Env, ActHold, req.By)
	if err != nil {
		return Hold{}, err
	}
	now := s.clock.Now()
	if !req.Until.IsZero() && !req.Until.After(now) {
		return Hold{}, Errorf(op, Invalid, "the hold would end at %s, which is past; give a later time or a duration like 2h", req.Until.UTC().Format("Jan 2 15:04 MST"))
	}
	if !req.Until.IsZero() && req.Until.Sub(now) > 30*24*time.Hour {
		return Hold{}, Errorf(op, Invalid, "a hold may last at most 30 days; leave --until out to hold until unheld")
	}
	h := Hold{Env: env.Name, By: req.By.ID, Reason: cleanText(req.Reason, maxHoldReason), At: now, Until: req.Until}
	was, held, err := s.store.Hold(ctx, env.Name)
	if err != nil {
		return Hold{}, fmt.Errorf("read %s's hold: %w", env.Name, err)
	}
	if err := s.store.SetHold(ctx, h); err != nil {
		return Hold{}, fmt.Errorf("hold %s: %w", env.Name, err)
	}
	detail := h.Reason
	if !h.Until.IsZero() {
		detail += " (until " + h.Until.UTC().Format(time.DateTime) + " UTC)"
	}
	if held && was.By != h.By {
		detail += fmt.Sprintf("; replaced the hold of %s (%s)", was.By, was.Reason)
	}
	detail += req.By.via()
	s.auditEnv(ctx, Event{Env: env.Name, Action: ActionHeld, Actor: req.By.ID, Detail: detail})
	s.told("held", s.notify.EnvChanged(ctx, EnvChange{Action: ActionHeld, Env: env, By: req.By, Hold: &h}))
	return h, nil
}

// Unhold lifts env's hold; the queue moves on. Lifting an env that is not
// held is a NotFound error.
func (s *Service) Unhold(ctx context.Context, env string, by User) error {
	const op = "unhold"
	e, err := s.lifecycleEnv(op, env, ActHold, by)
	if err != nil {
		return err
	}
	was, ok, err := s.store.Hold(ctx, e.Name)
	if err != nil {
		return fmt.Errorf("read %s's hold: %w", e.Name, err)
	}
	cleared, err := s.store.ClearHold(ctx, e.Name)
	if err != nil {
		return fmt.Errorf("unhold %s: %w", e.Name, err)
	}
	if !ok || !cleared {
		return Errorf(op, NotFound, "%s is not held", e.Name)
	}
	s.auditEnv(ctx, Event{Env: e.Name, Action: ActionUnheld, Actor: by.ID, Detail: "held by " + was.By + ": " + was.Reason + by.via()})
	s.told("unheld", s.notify.EnvChanged(ctx, EnvChange{Action: ActionUnheld, Env: e, By: by, Hold: &was}))
	return nil
}

// heldBy is the journal's note of a hold a release waits behind.
func heldBy(h *Hold) string {
	if h == nil {
		return ""
	}
	return fmt.Sprintf(", %s held by %s", h.Env, h.By)
}
