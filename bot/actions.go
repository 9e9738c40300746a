package bot

import (
	"context"
	"fmt"
	"strings"
)

// The action_ids of the bot's buttons.
const (
	ActionApprove = "release_approve" // value: release id
	ActionReject  = "release_reject"  // value: release id
	ActionConfirm = "release_confirm" // value: what to confirm, e.g. reset:dev
	ActionCancel  = "release_cancel"  // value: what to dismiss, e.g. reset:dev
	ActionRefresh = "home_refresh"    // value: unused
)

// action is one button's handler. A click is claimed in the shared store
// under its action_id and value (and user, for votes), so that a click
// re-delivered, double-clicked or routed to another replica runs once.
type action struct {
	perUser bool // one claim per person (votes), else one per value
	noClaim bool // idempotent by nature (refresh)
	run     Handler
}

func (b *Bot) actionTable() map[string]action {
	return map[string]action{
		ActionApprove: {perUser: true, run: b.approve},
		ActionReject:  {perUser: true, run: b.reject},
		ActionConfirm: {run: b.confirm},
		ActionCancel:  {run: b.dismiss},
		ActionRefresh: {noClaim: true, run: b.refresh},
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

// click dedupes and runs one button click.
func (b *Bot) click(ctx context.Context, req *Request) (Reply, error) {
	a, ok := b.actions[req.Action.ID]
	if !ok {
		return Reply{}, fmt.Errorf("unknown action_id %q", req.Action.ID)
	}
	if !a.noClaim {
		key := "slack:click:" + req.Action.ID + ":" + req.Action.Value
		if a.perUser {
			key += ":" + req.User.ID
		}
		claimed, err := b.d.Claims.Claim(ctx, key, b.cfg.ClaimTTL)
		if err != nil {
			return Reply{}, err
		}
		if !claimed {
			return Reply{}, nil // handled already, here or by another replica
		}
	}
	return a.run(ctx, req)
}

func (b *Bot) approve(ctx context.Context, req *Request) (Reply, error) {
	if b.d.Approvals == nil {
		return Reply{}, notYet("approve")
	}
	a, err := b.d.Approvals.Approve(ctx, req.Action.Value, req.User)
	if err != nil {
		return Reply{}, err
	}
	return textReply(fmt.Sprintf(":white_check_mark: Your approval of `%s` to *%s* is recorded (%d of %d).", shortSHA(a.SHA), a.Env, a.Approvals(), a.Required)), nil
}

func (b *Bot) reject(ctx context.Context, req *Request) (Reply, error) {
	if b.d.Approvals == nil {
		return Reply{}, notYet("reject")
	}
	a, err := b.d.Approvals.Reject(ctx, req.Action.Value, req.User)
	if err != nil {
		return Reply{}, err
	}
	return textReply(fmt.Sprintf(":x: You rejected the deploy of `%s` to *%s*.", shortSHA(a.SHA), a.Env)), nil
}

// confirm runs what a confirm button stands for.
func (b *Bot) confirm(ctx context.Context, req *Request) (Reply, error) {
	what, env, _ := strings.Cut(req.Action.Value, ":")
	switch what {
	case "reset":
		if b.d.Lifecycle == nil {
			return Reply{}, notYet("reset")
		}
		if _, err := parseEnv(env, b.envNames()); err != nil {
			return Reply{}, err
		}
		c, err := b.d.Lifecycle.Reset(withOrigin(ctx, req), env, req.User)
		if err != nil {
			return Reply{}, err
		}
		return Reply{ReplaceOriginal: true, Text: fmt.Sprintf(":recycle: *%s* is master again (`%s`); %s left it and were told.", env, shortSHA(c.SHA), orNone(occupantList(c.Left), "no ticket"))}, nil
	}
	return Reply{}, fmt.Errorf("unknown confirmation %q", req.Action.Value)
}

// dismiss is the Cancel button of a confirmation.
func (b *Bot) dismiss(ctx context.Context, req *Request) (Reply, error) {
	return Reply{ReplaceOriginal: true, Text: "Cancelled; nothing was changed."}, nil
}

// refresh re-publishes the clicker's App Home.
func (b *Bot) refresh(ctx context.Context, req *Request) (Reply, error) {
	return Reply{}, b.publishHome(ctx, req.User.ID)
}
