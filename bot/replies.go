package bot

import (
	"fmt"
	"slices"

	"github.com/code-releaser/code-releaser/workflow"
)

// voteRefused answers a vote the workflow refused as Forbidden (not an
// approver, or the requester voting on their own release): the refusal
// names who can approve, since approvers are their own list and the
// env's allow list has nothing to do with it. Other errors go to the
// usual error reply.
func (b *Bot) voteRefused(a workflow.ApprovalRequest, err error) (Reply, error) {
	if workflow.KindOf(err) != workflow.Forbidden || a.Env == "" || workflow.UserMessage(err) == "" {
		return Reply{}, err
	}
	text := ":no_entry: " + sentence(people(escape(workflow.UserMessage(err))))
	if who := b.approversOf(a.Env, a.By); len(who) > 0 {
		text += " Who can approve: " + mentions(who) + "."
	}
	return textReply(text), nil
}

// approversOf lists env's approvers (users and user groups), without the
// requester unless the env lets requesters approve their own releases.
func (b *Bot) approversOf(env, requester string) []string {
	i := slices.IndexFunc(b.d.Service.Envs(), func(e workflow.Env) bool { return e.Name == env })
	if i < 0 {
		return nil
	}
	pol := b.d.Service.Envs()[i].Approvals
	var out []string
	for _, id := range pol.Approvers {
		if id != requester || pol.AllowSelf {
			out = append(out, id)
		}
	}
	return out
}

// whoLeft says which tickets a reset took out of an env and that their
// owners were told.
func whoLeft(left []workflow.Occupant) string {
	switch len(left) {
	case 0:
		return "no ticket was in it."
	case 1:
		return fmt.Sprintf("%s left it; its owner was told.", occupantList(left))
	}
	return fmt.Sprintf("%s left it; their owners were told.", occupantList(left))
}
