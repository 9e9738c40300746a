package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
)

// The env lifecycle from a terminal: reset, remove, hold, unhold, cancel,
// approve and reject act on the shared store (Redis when redis.url is
// set). Without it hold, unhold, cancel, approve and reject are refused
// (requireSharedState); reset and remove rewrite the env branch.

// lifecycleArgs parses `CMD ARGS... --as USER --config FILE [--until T]`
// and opens the app.
func lifecycleArgs(ctx context.Context, e *env, cmd string, args []string, npos int, valued ...string) (*app, []string, map[string]string, error) {
	pos, opts, err := parseFlags(args, append([]string{"as", "config"}, valued...), nil)
	if err != nil {
		return nil, nil, nil, err
	}
	if npos >= 0 && len(pos) != npos {
		return nil, nil, nil, usageError{fmt.Sprintf("%s takes %d argument(s)", cmd, npos)}
	}
	if opts["as"] == "" {
		return nil, nil, nil, usageError{"--as USER is required: who is asking?"}
	}
	a, err := openApp(ctx, e, opts["config"], cmd)
	if err != nil {
		return nil, nil, nil, err
	}
	if what := sharedStateOf(cmd); what != "" {
		if err := requireSharedState(a.cfg, cmd, what); err != nil {
			a.close()
			return nil, nil, nil, failWith(e, cmd, err)
		}
	}
	return a, pos, opts, nil
}

// runReset is `reset ENV --as USER --config FILE`.
func runReset(ctx context.Context, e *env, args []string) error {
	a, pos, opts, err := lifecycleArgs(ctx, e, "reset", args, 1)
	if err != nil {
		return err
	}
	defer a.close()
	c, err := a.svc.Reset(ctx, pos[0], workflow.User{ID: opts["as"], Via: workflow.ViaTerminal})
	if err != nil {
		return failWith(e, "reset", err)
	}
	fmt.Fprintf(e.stdout, "reset %s: %s is %s (%s); left: %s; deploy %s\n", c.Env.Name, c.Env.Branch, a.cfg.Repo.ProductionBranch, shortSHA(c.SHA), tickets(c.Left), c.Deploy.Status)
	return nil
}

// runRemove is `remove TICKET ENV [--reason TEXT] --as USER --config FILE`.
func runRemove(ctx context.Context, e *env, args []string) error {
	a, pos, opts, err := lifecycleArgs(ctx, e, "remove", args, 2, "reason")
	if err != nil {
		return err
	}
	defer a.close()
	by := workflow.User{ID: opts["as"], Via: workflow.ViaTerminal}
	var c workflow.EnvChange
	if opts["reason"] != "" {
		c, err = a.svc.ForceRemove(ctx, pos[0], pos[1], by, opts["reason"])
	} else {
		c, err = a.svc.Remove(ctx, pos[0], pos[1], by)
	}
	if err != nil {
		return failWith(e, "remove", err)
	}
	why := ""
	if c.Reason != "" {
		why = " (" + c.Reason + ")"
	}
	fmt.Fprintf(e.stdout, "removed %s from %s%s: %s at %s with %s; deploy %s\n", c.Ticket, c.Env.Name, why, c.Env.Branch, shortSHA(c.SHA), tickets(c.Stayed), c.Deploy.Status)
	return nil
}

// runRollback is `rollback (RELEASE | TICKET ENV) --as USER --config FILE`.
func runRollback(ctx context.Context, e *env, args []string) error {
	a, pos, opts, err := lifecycleArgs(ctx, e, "rollback", args, -1)
	if err != nil {
		return err
	}
	defer a.close()
	rr := workflow.RollbackRequest{By: workflow.User{ID: opts["as"], Via: workflow.ViaTerminal}}
	switch len(pos) {
	case 1:
		rr.Release = pos[0]
	case 2:
		rr.Ticket, rr.Env = pos[0], pos[1]
	default:
		return usageError{"rollback takes a release ID, or a ticket and an env"}
	}
	c, err := a.svc.Rollback(ctx, rr)
	if c.Action == workflow.ActionRollbackRequested && err == nil {
		// A release job, run here as `release` runs its own.
		fmt.Fprintf(e.stdout, "asked to roll back %s to %s (its deploy before %s): release %s\n", c.Env.Name, shortSHA(c.To), shortSHA(c.SHA), c.Release)
		rec, err := a.svc.RunUntil(ctx, c.Env.Name, c.Release)
		if err != nil {
			fmt.Fprintf(e.stderr, "code-releaser rollback: %s %s: %s\n", rec.State, c.Env.Name, oneLineErr(err))
			return exitError{1}
		}
		return nil
	}
	if err != nil {
		return failWith(e, "rollback", err)
	}
	fmt.Fprintf(e.stdout, "rolled back %s's release %s in %s: %s at %s (the tree of %s); left: %s; in it: %s; deploy %s\n",
		c.Ticket, c.Undone, c.Env.Name, c.Env.Branch, shortSHA(c.SHA), shortSHA(c.To), tickets(c.Left), tickets(c.Stayed), c.Deploy.Status)
	return nil
}

// runHold is `hold ENV [REASON...] [--until DURATION|RFC3339] --as USER --config FILE`.
func runHold(ctx context.Context, e *env, args []string) error {
	a, pos, opts, err := lifecycleArgs(ctx, e, "hold", args, -1, "until")
	if err != nil {
		return err
	}
	defer a.close()
	if len(pos) < 1 {
		return usageError{"hold needs an env"}
	}
	var until time.Time
	if u := opts["until"]; u != "" {
		if d, err := time.ParseDuration(u); err == nil {
			until = time.Now().Add(d)
		} else if t, err := time.Parse(time.RFC3339, u); err == nil {
			until = t
		} else {
			return usageError{fmt.Sprintf("--until %q is neither a duration (2h) nor an RFC 3339 time", u)}
		}
	}
	h, err := a.svc.Hold(ctx, workflow.HoldRequest{Env: pos[0], By: workflow.User{ID: opts["as"], Via: workflow.ViaTerminal}, Reason: strings.Join(pos[1:], " "), Until: until})
	if err != nil {
		return failWith(e, "hold", err)
	}
	fmt.Fprintf(e.stdout, "held %s by %s: %s\n", h.Env, h.By, h.Reason)
	return nil
}

// runUnhold is `unhold ENV --as USER --config FILE`.
func runUnhold(ctx context.Context, e *env, args []string) error {
	a, pos, opts, err := lifecycleArgs(ctx, e, "unhold", args, 1)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.svc.Unhold(ctx, pos[0], workflow.User{ID: opts["as"], Via: workflow.ViaTerminal}); err != nil {
		return failWith(e, "unhold", err)
	}
	fmt.Fprintf(e.stdout, "unheld %s\n", pos[0])
	return nil
}

// runCancel is `cancel TICKET ENV --as USER --config FILE`.
func runCancel(ctx context.Context, e *env, args []string) error {
	a, pos, opts, err := lifecycleArgs(ctx, e, "cancel", args, 2)
	if err != nil {
		return err
	}
	defer a.close()
	n, err := a.svc.Cancel(ctx, pos[0], pos[1], workflow.User{ID: opts["as"], Via: workflow.ViaTerminal})
	if err != nil {
		return failWith(e, "cancel", err)
	}
	fmt.Fprintf(e.stdout, "cancelled %d queued release(s) of %s to %s\n", n, pos[0], pos[1])
	return nil
}

// runVote is `approve|reject REQUEST --as USER --config FILE`.
func runVote(approve bool) func(ctx context.Context, e *env, args []string) error {
	cmd := "approve"
	if !approve {
		cmd = "reject"
	}
	return func(ctx context.Context, e *env, args []string) error {
		a, pos, opts, err := lifecycleArgs(ctx, e, cmd, args, 1)
		if err != nil {
			return err
		}
		defer a.close()
		vote := a.svc.Approve
		if !approve {
			vote = a.svc.Reject
		}
		r, err := vote(ctx, pos[0], workflow.User{ID: opts["as"], Via: workflow.ViaTerminal})
		if err != nil {
			return failWith(e, cmd, err)
		}
		fmt.Fprintf(e.stdout, "%s: %s of %s to %s, %d of %d approvals\n", cmd, r.ID, shortSHA(r.SHA), r.Env, r.Approvals(), r.Required)
		return nil
	}
}

func tickets(os []workflow.Occupant) string {
	if len(os) == 0 {
		return "none"
	}
	s := make([]string, len(os))
	for i, o := range os {
		s[i] = string(o.Ticket)
	}
	return strings.Join(s, ", ")
}

// printStoreHistory prints env's last n audit events from the store (who
// released, approved, rejected, reset, removed, held, deployed, and why),
// newest first. Without redis.url the store is this process's own and
// holds nothing from the bot: it says so instead.
func (a *app) printStoreHistory(ctx context.Context, w io.Writer, env string, n int) error {
	if !a.cfg.Redis.shared() {
		fmt.Fprintf(w, "(no redis section: the actions of the bot and of other terminals — approvals, resets, removals, holds, deploys — are in their store, not here)\n")
		return nil
	}
	evs, err := a.svc.History(ctx, env, n)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "(history from the store: the last %d action(s) in %s, newest first)\n", len(evs), env)
	for _, e := range evs {
		line := fmt.Sprintf("%s %-20s @%s", e.At.UTC().Format("2006-01-02 15:04"), e.Action, e.Actor)
		if e.Ticket != "" {
			line += " " + string(e.Ticket)
		}
		if e.SHA != "" {
			line += " " + shortSHA(e.SHA)
		}
		if e.Detail != "" {
			line += " — " + e.Detail
		}
		fmt.Fprintln(w, line)
	}
	return nil
}
