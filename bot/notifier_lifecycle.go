package bot

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/slack-go/slack"

	"github.com/code-releaser/code-releaser/workflow"
)

var _ workflow.LifecycleNotifier = (*Notifier)(nil)

// releaseChannel is where release id is told: the announce channel, else
// where it was asked for (as the shared store remembers it).
func (n *Notifier) releaseChannel(ctx context.Context, id string) string {
	ref, err := n.ref(ctx, id)
	if err != nil {
		n.log.Warn("read a release's message ref", slog.String("release", id), slog.Any("err", err))
	}
	return ref.Channel
}

// ApprovalRequested implements workflow.LifecycleNotifier: the preview
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
	fmt.Fprintf(&s, ":rocket: %s asks to deploy `%s` (master) to *%s* for *%s*.\n", mention(a.By), shortSHA(a.SHA), a.Env, a.Ticket)
	since := "the first prod deploy"
	if p.Base != "" {
		since = "`" + shortSHA(p.Base) + "`, the last prod deploy"
	}
	fmt.Fprintf(&s, "Since %s: %s; tickets: %s.\n", since, plural(len(p.Commits)+p.More, "commit"), orNone(keyList(p.Tickets), "none named"))
	s.WriteString(soakText(p.Soak))
	switch {
	case p.Plan != nil:
		s.WriteString(planText(p.Plan))
	case p.PlanErr != "":
		fmt.Fprintf(&s, ":grey_question: no deploy plan: %s\n", escape(p.PlanErr))
	}
	for i, c := range p.Commits {
		if i == 10 {
			fmt.Fprintf(&s, "…and %d more\n", len(p.Commits)+p.More-10)
			break
		}
		fmt.Fprintf(&s, "• `%s` %s\n", shortSHA(c.SHA), escape(truncate(c.Subject, 80)))
	}
	fmt.Fprintf(&s, "Needs %d approval(s); expires %s.", a.Required, a.Expires.UTC().Format("Jan 2 15:04 MST"))
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

// ApprovalChanged implements workflow.LifecycleNotifier: the request's
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
	status := fmt.Sprintf("%d of %d approvals: %s", a.Approvals(), a.Required, orNone(strings.Join(votes, " "), "none yet"))
	var blocks []slack.Block
	text := m.Text
	if a.State == workflow.ApprovalPending {
		blocks = append(ApprovalBlocks(text, a.ID), contextBlock(status))
	} else {
		icon := map[workflow.ApprovalState]string{workflow.ApprovalApproved: ":white_check_mark:", workflow.ApprovalRejected: ":x:",
			workflow.ApprovalVoided: ":no_entry_sign:", workflow.ApprovalExpired: ":hourglass:"}[a.State]
		outcome := fmt.Sprintf("%s *%s*: %s", icon, a.State, escape(a.Reason))
		blocks = []slack.Block{section(text), section(outcome), contextBlock(status)}
		text += "\n" + outcome
		if err := n.client.update(ctx, message{channel: m.Channel, ts: m.TS, text: text, blocks: blocks}); err != nil {
			return err
		}
		_, err := n.client.post(ctx, message{channel: m.Channel, thread: m.ThreadTS(), text: fmt.Sprintf("%s: the request is %s: %s", mention(a.By), a.State, escape(a.Reason))})
		return err
	}
	return n.client.update(ctx, message{channel: m.Channel, ts: m.TS, text: text, blocks: blocks})
}

// YourTurn implements workflow.LifecycleNotifier: a thread reply that
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

// EnvChanged implements workflow.LifecycleNotifier: the env's people are
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
			fmt.Fprintf(&s, "\n%s: your tickets left %s (%s); release them again if you still need them there.", owners(c.Left), c.Env.Name, occupantList(c.Left))
		}
	case workflow.ActionRemoved:
		fmt.Fprintf(&s, ":outbox_tray: %s took *%s* out of *%s*: `%s` is master plus %s.", by, c.Ticket, c.Env.Name, shortSHA(c.SHA), orNone(occupantList(c.Stayed), "nothing else"))
		if len(c.Left) > 0 {
			fmt.Fprintf(&s, "\n%s: %s left %s.", owners(c.Left), occupantList(c.Left), c.Env.Name)
		}
		if len(c.Stayed) > 0 {
			fmt.Fprintf(&s, "\n%s: your tickets were merged again on master; the env was redeployed.", owners(c.Stayed))
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
	if c.Deploy.Status != "" {
		fmt.Fprintf(&s, "\nDeploy %s: %s", c.Deploy.Status, escape(c.Deploy.Summary))
	}
	_, err := n.client.post(ctx, message{channel: ch, text: s.String(), blocks: []slack.Block{section(s.String())}})
	return err
}

func owners(os []workflow.Occupant) string {
	var who []string
	for _, o := range os {
		who = append(who, mention(o.By))
	}
	return strings.Join(dedupe(who), " ")
}

func keyList(keys []workflow.TicketKey) string {
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
