package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/code-releaser/code-releaser/workflow"
)

// The action_ids of the bot's buttons.
const (
	ActionApprove  = "release_approve"  // value: release id
	ActionReject   = "release_reject"   // value: release id
	ActionConfirm  = "release_confirm"  // value: what to confirm, e.g. reset:dev
	ActionCancel   = "release_cancel"   // value: what to dismiss, e.g. reset:dev
	ActionRefresh  = "home_refresh"     // value: unused
	ActionRollback = "release_rollback" // value: release id
)

// action is one button's handler. A click is claimed in the shared store
// under its own identity (user, action_ts, trigger_id, action_id and
// value), so that a click re-delivered or routed to another replica runs
// once, while another click, by another person or later, is its own.
// Actions with a check run it before the claim: a click refused for one
// person claims nothing another may need.
type action struct {
	noClaim bool                                          // idempotent by nature (refresh)
	check   func(ctx context.Context, req *Request) error // authorisation, without side effects
	run     Handler
}

func (b *Bot) actionTable() map[string]action {
	return map[string]action{
		// Votes are checked by Approve and Reject, which record one vote
		// per person whatever the clicks.
		ActionApprove: {run: b.approve},
		ActionReject:  {run: b.reject},
		ActionConfirm: {check: b.mayConfirm, run: b.confirm},
		ActionCancel:  {run: b.dismiss},
		ActionRefresh: {noClaim: true, run: b.refresh},
		// Rollback checks who may (the release's requester, or who may
		// remove tickets from the env) and that the release is the env's
		// last change; a second click finds it rolled back already.
		ActionRollback: {run: b.rollback},
		ActionKeep:     {run: b.keep},
		ActionLeave:    {run: b.leave},
		// Handoff: anyone may ask; the owner (or an env admin) answers.
		ActionAskRelease:    {run: b.askRelease},
		ActionHandoffRemove: {run: b.answerRelease(true)},
		ActionHandoffKeep:   {run: b.answerRelease(false)},
	}
}

// ActionIDs lists the action_ids the bot handles.
func (b *Bot) ActionIDs() []string {
	out := make([]string, 0, len(b.actions))
	for id := range b.actions {
		out = append(out, id)
	}
	return out
}

// errDuplicate is a click handled already, here or by another replica.
var errDuplicate = errors.New("duplicate click")

// click checks, dedupes and runs one button click.
func (b *Bot) click(ctx context.Context, req *Request) (Reply, error) {
	a, ok := b.actions[req.Action.ID]
	if !ok {
		return Reply{}, fmt.Errorf("unknown action_id %q", req.Action.ID)
	}
	if a.check != nil {
		if err := a.check(ctx, req); err != nil {
			return Reply{}, err
		}
	}
	if !a.noClaim {
		if req.Action.TS == "" && req.Trigger == "" {
			return Reply{}, workflow.Errorf("click", workflow.Invalid, "this click came without action_ts or trigger_id, so it cannot be told from a repeat; nothing was done")
		}
		key := strings.Join([]string{"slack:click", req.Action.ID, req.Action.Value, req.User.ID, req.Action.TS, req.Trigger}, ":")
		claimed, err := b.d.Claims.Claim(ctx, key, b.cfg.ClaimTTL)
		if err != nil {
			return Reply{}, err
		}
		if !claimed {
			return Reply{}, errDuplicate
		}
	}
	return a.run(ctx, req)
}

func (b *Bot) approve(ctx context.Context, req *Request) (Reply, error) {
	a, err := b.d.Approvals.Approve(ctx, req.Action.Value, req.User)
	if err != nil {
		return b.voteRefused(a, err)
	}
	return textReply(fmt.Sprintf(":white_check_mark: Your approval of `%s` to *%s* is recorded (%d of %d).", shortSHA(a.SHA), a.Env, a.Approvals(), a.Required)), nil
}

func (b *Bot) reject(ctx context.Context, req *Request) (Reply, error) {
	a, err := b.d.Approvals.Reject(ctx, req.Action.Value, req.User)
	if err != nil {
		return b.voteRefused(a, err)
	}
	return textReply(fmt.Sprintf(":x: You rejected the deploy of `%s` to *%s*.", shortSHA(a.SHA), a.Env)), nil
}

// mayConfirm refuses a confirm click of someone who may not do what it
// confirms.
func (b *Bot) mayConfirm(ctx context.Context, req *Request) error {
	what, env, _ := strings.Cut(req.Action.Value, ":")
	switch what {
	case "reset":
		if _, err := parseEnv(env, b.envNames()); err != nil {
			return err
		}
		return b.d.Lifecycle.Authorize(env, workflow.ActReset, req.User)
	}
	return fmt.Errorf("unknown confirmation %q", req.Action.Value)
}

// confirm runs what a confirm button stands for, once mayConfirm let it.
func (b *Bot) confirm(ctx context.Context, req *Request) (Reply, error) {
	what, env, _ := strings.Cut(req.Action.Value, ":")
	switch what {
	case "reset":
		c, err := b.d.Lifecycle.Reset(withOrigin(ctx, req), env, req.User)
		if err != nil {
			return Reply{}, err
		}
		return Reply{ReplaceOriginal: true, Text: fmt.Sprintf(":recycle: *%s* is master again (`%s`); %s", env, shortSHA(c.SHA), whoLeft(c.Left))}, nil
	}
	return Reply{}, fmt.Errorf("unknown confirmation %q", req.Action.Value)
}

// rollback is the Roll back button of a failed release: the env branch
// back to before it, redeployed (in production: a release job that waits
// for the approvals). The announcement tells the channel; the button's
// message says what was done.
func (b *Bot) rollback(ctx context.Context, req *Request) (Reply, error) {
	r, err := b.rollBack(ctx, req, workflow.RollbackRequest{Release: req.Action.Value, By: req.User})
	r.ReplaceOriginal = err == nil
	return r, err
}

// rollBack runs rr for req (a click or /release rollback) and says what
// was done.
func (b *Bot) rollBack(ctx context.Context, req *Request, rr workflow.RollbackRequest) (Reply, error) {
	// A production rollback is a release of its own: its messages go
	// where it was asked for.
	rr.ID = releaseID(req)
	if err := b.d.Notifier.Expect(ctx, rr.ID, Origin{Channel: req.Channel, User: req.User.ID}); err != nil {
		return Reply{}, err
	}
	c, err := b.d.Lifecycle.Rollback(withOrigin(ctx, req), rr)
	if err != nil {
		return Reply{}, err
	}
	if c.Action == workflow.ActionRollbackRequested {
		return Reply{Text: fmt.Sprintf(":rewind: You asked to roll back *%s* to `%s`, its deploy before `%s`: release `%s` deploys it once *%s*'s approvers approve.",
			c.Env.Name, shortSHA(c.To), shortSHA(c.SHA), c.Release, c.Env.Name)}, nil
	}
	left := whoLeft(c.Left)
	if len(c.Left) == 0 {
		left = fmt.Sprintf("*%s* stays, as it was before this release.", c.Ticket)
	}
	text := fmt.Sprintf(":rewind: You rolled back *%s*'s release: *%s* is back to `%s` (commit `%s` on `%s`); %s",
		c.Ticket, c.Env.Name, shortSHA(c.To), shortSHA(c.SHA), c.Env.Branch, left)
	if c.Deploy.Status != "" {
		text += "\n" + deployLine(c.Deploy)
	}
	return Reply{Text: text}, nil
}

// dismiss is the Cancel button of a confirmation.
func (b *Bot) dismiss(ctx context.Context, req *Request) (Reply, error) {
	return Reply{ReplaceOriginal: true, Text: "Cancelled; nothing was changed."}, nil
}

// refresh re-publishes the clicker's App Home.
func (b *Bot) refresh(ctx context.Context, req *Request) (Reply, error) {
	return Reply{}, b.publishHome(ctx, req.User.ID)
}
