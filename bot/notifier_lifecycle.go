package bot

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/slack-go/slack"

	"github.com/code-releaser/code-releaser/workflow"
)

// releaseChannel is where release id is told: the announce channel, else
// where it was asked for (as the shared store remembers it).
func (n *Notifier) releaseChannel(ctx context.Context, id string) string {
	ref, err := n.ref(ctx, id)
	if err != nil {
		n.log.Warn("read a release's message ref", slog.String("release", id), slog.Any("err", err))
	}
	return ref.Channel
}

// ApprovalRequested implements workflow.Notifier: the preview
// with Approve and Reject buttons, in the approvals channel.
func (n *Notifier) ApprovalRequested(ctx context.Context, a workflow.ApprovalRequest, p workflow.Preview) error {
	ch := n.cfg.ApprovalsChannel
	if ch == "" {
		ch = n.releaseChannel(ctx, a.ReleaseID)
	}
	if ch == "" {
		return nil
	}
	var s strings.Builder
	if p.RollbackOf != "" {
		fmt.Fprintf(&s, ":rewind: %s asks to roll back *%s* to `%s`, its deploy before release `%s` of *%s*, in place of `%s`. Master stays as it is.\n",
			mention(a.By), a.Env, shortSHA(a.SHA), p.RollbackOf, a.Ticket, shortSHA(p.Base))
		fmt.Fprintf(&s, "Leaving %s: %s; tickets: %s.\n", a.Env, plural(len(p.Leaving)+p.LeavingMore, "commit"), orNone(keyList(p.LeavingTickets), "none named"))
	} else {
		fmt.Fprintf(&s, ":rocket: %s asks to deploy `%s` (master) to *%s* for *%s*.\n", mention(a.By), shortSHA(a.SHA), a.Env, a.Ticket)
	}
	switch n := len(p.Commits) + p.More; {
	case p.RollbackOf != "":
	case p.Base != "" && n == 0:
		fmt.Fprintf(&s, "Nothing new in master since `%s`, the last prod deploy.\n", shortSHA(p.Base))
	case p.Base != "":
		fmt.Fprintf(&s, "Since `%s`, the last prod deploy: %s; tickets: %s.\n", shortSHA(p.Base), plural(len(p.Commits)+p.More, "commit"), orNone(keyList(p.Tickets), "none named"))
	default:
		fmt.Fprintf(&s, "No prod deploy is recorded yet, so all of master is new to prod: %s; tickets: %s.\n", plural(len(p.Commits)+p.More, "commit"), orNone(keyList(p.Tickets), "none named"))
	}
	s.WriteString(soakText(p.Soak))
	switch {
	case p.Plan != nil:
		s.WriteString(planText(p.Plan))
	case p.PlanErr != "":
		fmt.Fprintf(&s, ":grey_question: no deploy plan: %s\n", escape(p.PlanErr))
	}
	commits, more := p.Commits, p.More
	if p.RollbackOf != "" {
		commits, more = p.Leaving, p.LeavingMore
	}
	for i, c := range commits {
		if i == 10 {
			fmt.Fprintf(&s, "…and %d more\n", len(commits)+more-10)
			break
		}
		fmt.Fprintf(&s, "• `%s` %s\n", shortSHA(c.SHA), escape(truncate(c.Subject, 80)))
	}
	fmt.Fprintf(&s, "Needs %s", plural(a.Required, "approval"))
	if len(a.Approvers) > 0 {
		fmt.Fprintf(&s, " from %s", mentions(a.Approvers))
	}
	fmt.Fprintf(&s, "; expires %s.", a.Expires.UTC().Format("Jan 2 15:04 MST"))
	text := s.String()
	blocks := append(ApprovalBlocks(text, a.ID), contextBlock(fmt.Sprintf("request `%s` · release `%s` · approving binds to `%s` and this preview", a.ID, a.ReleaseID, shortSHA(a.SHA))))
	defer n.lock(approvalKey(a.ID))()
	ts, err := n.client.post(ctx, message{channel: ch, text: text, blocks: blocks})
	if err != nil {
		return err
	}
	// Any replica edits it as votes arrive; the preview's text is kept to
	// edit it with.
	return n.st.PutMessageRef(ctx, approvalKey(a.ID), workflow.MessageRef{Channel: ch, TS: ts, Thread: ts, Text: text}, n.cfg.MessageTTL)
}

// ApprovalChanged implements workflow.Notifier: the request's
// message shows the votes, and loses its buttons once decided.
func (n *Notifier) ApprovalChanged(ctx context.Context, a workflow.ApprovalRequest) error {
	defer n.lock(approvalKey(a.ID))()
	m, ok, err := n.st.GetMessageRef(ctx, approvalKey(a.ID))
	if err != nil || !ok {
		return err // never posted: nothing to edit
	}
	var votes []string
	for _, v := range a.Votes {
		mark := ":white_check_mark:"
		if !v.Approve {
			mark = ":x:"
		}
		votes = append(votes, mark+" "+mention(v.User))
	}
	status := fmt.Sprintf("Approvals: %d of %d · %s", a.Approvals(), a.Required, orNone(strings.Join(votes, " "), "no votes yet"))
	var blocks []slack.Block
	text := m.Text
	if a.State == workflow.ApprovalPending {
		blocks = append(ApprovalBlocks(text, a.ID), contextBlock(status))
	} else {
		icon := map[workflow.ApprovalState]string{workflow.ApprovalApproved: ":white_check_mark:", workflow.ApprovalRejected: ":x:",
			workflow.ApprovalVoided: ":no_entry_sign:", workflow.ApprovalExpired: ":hourglass:", workflow.ApprovalLapsed: ":zzz:"}[a.State]
		outcome := fmt.Sprintf("%s The request is %s.", orNone(icon, ":grey_question:"), sentenceless(approvalOutcome(a)))
		blocks = []slack.Block{section(text), section(outcome), contextBlock(status)}
		text += "\n" + outcome
		if err := n.client.update(ctx, message{channel: m.Channel, ts: m.TS, text: text, blocks: blocks}); err != nil {
			return err
		}
		_, err := n.client.post(ctx, message{channel: m.Channel, thread: m.ThreadTS(), text: fmt.Sprintf("%s: your request to deploy `%s` to *%s* is %s.", mention(a.By), shortSHA(a.SHA), a.Env, sentenceless(approvalOutcome(a)))})
		return err
	}
	return n.client.update(ctx, message{channel: m.Channel, ts: m.TS, text: text, blocks: blocks})
}

// YourTurn implements workflow.Notifier: a thread reply that
// mentions the requester.
func (n *Notifier) YourTurn(ctx context.Context, r workflow.Release) error {
	text := fmt.Sprintf("%s: your turn — *%s* is now releasing to *%s*.", mention(r.By), r.Ticket, r.Env)
	ref, err := n.ref(ctx, r.ID)
	if err != nil || ref.Channel == "" {
		return err
	}
	_, err = n.client.post(ctx, message{channel: ref.Channel, thread: ref.ThreadTS(), text: text})
	return err
}

// EnvChanged implements workflow.Notifier: the env's people are
// told in the announce channel, else where the command was typed.
func (n *Notifier) EnvChanged(ctx context.Context, c workflow.EnvChange) error {
	ch := n.cfg.AnnounceChannel
	if ch == "" {
		ch = originOf(ctx).Channel
	}
	if ch == "" {
		return nil
	}
	var s strings.Builder
	by := mention(c.By.ID)
	switch c.Action {
	case workflow.ActionReset:
		fmt.Fprintf(&s, ":recycle: %s reset *%s*: `%s` is master again (`%s`).", by, c.Env.Name, c.Env.Branch, shortSHA(c.SHA))
		if len(c.Left) > 0 {
			if len(c.Left) == 1 {
				fmt.Fprintf(&s, "\n%s: your ticket %s left %s; release it again if you still need it there.", owners(c.Left), tickets(c.Left), c.Env.Name)
			} else {
				fmt.Fprintf(&s, "\n%s: your tickets %s left %s; release them again if you still need them there.", owners(c.Left), tickets(c.Left), c.Env.Name)
			}
		}
	case workflow.ActionRemoved:
		fmt.Fprintf(&s, ":outbox_tray: %s took *%s* out of *%s*: `%s` is master plus %s.", by, c.Ticket, c.Env.Name, shortSHA(c.SHA), orNone(occupantList(c.Stayed), "nothing else"))
		if len(c.Left) > 0 {
			fmt.Fprintf(&s, "\n%s: %s left %s.", owners(c.Left), tickets(c.Left), c.Env.Name)
		}
		if len(c.Stayed) > 0 {
			what := "your tickets " + tickets(c.Stayed) + " were"
			if len(c.Stayed) == 1 {
				what = "your ticket " + tickets(c.Stayed) + " was"
			}
			fmt.Fprintf(&s, "\n%s: %s merged again on master; the env was redeployed.", owners(c.Stayed), what)
		}
	case workflow.ActionRolledBack:
		fmt.Fprintf(&s, ":rewind: %s rolled back the release of *%s* to *%s*: `%s` has its tree from before it again (`%s`); in it: %s.",
			by, c.Ticket, c.Env.Name, c.Env.Branch, shortSHA(c.To), orNone(occupantList(c.Stayed), "nothing but master"))
		if len(c.Left) > 0 {
			fmt.Fprintf(&s, "\n%s: %s left %s; release it again once it is fixed: all of it comes back.", owners(c.Left), tickets(c.Left), c.Env.Name)
		}
	case workflow.ActionHeld:
		return nil // the command's public reply says it
	case workflow.ActionUnheld:
		return nil
	case workflow.ActionCancelled:
		return nil
	default:
		return nil
	}
	if c.Reason != "" {
		fmt.Fprintf(&s, "\nWhy: %s.", escape(c.Reason))
	}
	if c.AskedBy != "" {
		fmt.Fprintf(&s, "\n%s asked for it.", mention(c.AskedBy))
	}
	if c.Deploy.Status != "" {
		s.WriteString("\n" + deployLine(c.Deploy))
	}
	_, err := n.client.post(ctx, message{channel: ch, text: s.String(), blocks: []slack.Block{section(s.String())}})
	return err
}

// approvalOutcome says how a decided request ended, naming who decided:
// "approved by <@U1>, <@U2>", "rejected by <@U3>", "voided: master moved…".
func approvalOutcome(a workflow.ApprovalRequest) string {
	switch a.State {
	case workflow.ApprovalApproved:
		var ids []string
		for _, v := range a.Votes {
			if v.Approve {
				ids = append(ids, v.User)
			}
		}
		if len(ids) > 0 {
			return "*approved* by " + mentions(ids)
		}
	case workflow.ApprovalRejected:
		if v, ok := a.Rejection(); ok {
			return "*rejected* by " + mention(v.User)
		}
	case workflow.ApprovalLapsed, workflow.ApprovalExpired:
		return fmt.Sprintf("*%s*: %s; to deploy, ask again with `/release %s %s`", a.State, people(escape(sentenceless(orNone(a.Reason, "no reason given")))), a.Ticket, a.Env)
	}
	return fmt.Sprintf("*%s*: %s", a.State, people(escape(orNone(a.Reason, "no reason given"))))
}

// sentenceless drops a final full stop, for text put inside a sentence.
func sentenceless(s string) string { return strings.TrimSuffix(s, ".") }

func owners(os []workflow.Occupant) string {
	var who []string
	for _, o := range os {
		who = append(who, mention(o.By))
	}
	return strings.Join(dedupe(who), " ")
}

// tickets lists the occupants' tickets in bold, for a sentence that
// mentions their owners already.
func tickets(os []workflow.Occupant) string {
	var out []string
	for _, o := range os {
		out = append(out, "*"+string(o.Ticket)+"*")
	}
	return strings.Join(out, ", ")
}

func keyList(keys []workflow.TicketKey) string {
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
