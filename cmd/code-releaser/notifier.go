package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
)

// textNotifier is the workflow's Notifier for a terminal: it prints what
// the Slack channel would show, one line per message, details indented as
// they would be in the message's thread. It prints a release's own
// messages (the soak override's included); the other notices (approvals, env changes, reminders) are
// NopNotifier's: the terminal commands print their outcome themselves.
type textNotifier struct {
	workflow.NopNotifier
	mu sync.Mutex
	w  io.Writer
}

func newTextNotifier(w io.Writer) *textNotifier { return &textNotifier{w: w} }

func (n *textNotifier) printf(format string, args ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	fmt.Fprintf(n.w, format, args...)
}

func (n *textNotifier) Queued(ctx context.Context, r workflow.Release, w workflow.Waiting) error {
	why := ""
	switch {
	case w.Hold != nil:
		why = fmt.Sprintf(": %s is held by @%s (%s)", r.Env, w.Hold.By, w.Hold.Reason)
	case w.Holder != nil:
		why = fmt.Sprintf(": @%s is releasing %s", w.Holder.By, w.Holder.Ticket)
	}
	n.printf("[channel] @%s: %s is #%d in the %s queue%s\n", r.By, r.Ticket, w.Position, r.Env, why)
	return nil
}

func (n *textNotifier) Started(ctx context.Context, r workflow.Release) error {
	n.printf("[channel] @%s is releasing %s to %s (release %s)\n", r.By, r.Ticket, r.Env, r.ID)
	return nil
}

func (n *textNotifier) Progress(ctx context.Context, r workflow.Release, s workflow.Step) error {
	if s.Detail != "" {
		n.printf("  [thread] %-9s %s\n", s.Name, s.Detail)
	} else {
		n.printf("  [thread] %s\n", s.Name)
	}
	return nil
}

func (n *textNotifier) Conflict(ctx context.Context, r workflow.Release, c workflow.ConflictReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "[channel] :x: @%s: %s cannot go to %s: merging %s into %s conflicts. Nothing was pushed.\n",
		r.By, r.Ticket, r.Env, c.Theirs, c.Ours)
	for _, f := range c.Files {
		fmt.Fprintf(&b, "  [thread] conflict (%s) in %s\n", f.Kind, f.Path)
		for _, h := range f.Hunks {
			fmt.Fprintf(&b, "  [thread]   %s lines %d-%d vs %s lines %d-%d\n",
				c.Ours, h.OursStart, h.OursStart+max(h.OursLines-1, 0), c.Theirs, h.TheirsStart, h.TheirsStart+max(h.TheirsLines-1, 0))
			for _, l := range h.Ours {
				fmt.Fprintf(&b, "  [thread]     - %s\n", l)
			}
			for _, l := range h.Theirs {
				fmt.Fprintf(&b, "  [thread]     + %s\n", l)
			}
		}
	}
	for _, cu := range c.Culprits {
		fmt.Fprintf(&b, "  [thread] %s of @%s (in %s since %s) touched %s\n",
			cu.Occupant.Ticket, cu.Occupant.By, c.Env, cu.Occupant.At.Format(time.DateTime), strings.Join(cu.Files, ", "))
	}
	if c.Hint != "" {
		fmt.Fprintf(&b, "  [thread] %s\n", c.Hint)
	}
	n.printf("%s", b.String())
	return nil
}

func (n *textNotifier) Released(ctx context.Context, a workflow.Announcement) error {
	var b strings.Builder
	r := a.Release
	sha := r.PushedSHA
	if sha == "" {
		sha = r.DeployedSHA
	}
	if a.RollbackOf != "" {
		fmt.Fprintf(&b, "[channel] :rewind: @%s rolled back %s: it runs %s again, its deploy before release %s of %s; %s is unchanged\n",
			r.By, r.Env, shortSHA(sha), a.RollbackOf, r.Ticket, a.Env.Branch)
	} else {
		fmt.Fprintf(&b, "[channel] :white_check_mark: @%s released %s to %s (%s, %s)\n", r.By, r.Ticket, r.Env, a.Env.Branch, shortSHA(sha))
	}
	if a.Ticket.Unverified != "" {
		fmt.Fprintf(&b, "  :warning: %s was not checked in Jira: %s\n", r.Ticket, a.Ticket.Unverified)
	}
	if len(a.Others) > 0 {
		var who []string
		for _, o := range a.Others {
			who = append(who, fmt.Sprintf("%s of @%s", o.Ticket, o.By))
		}
		fmt.Fprintf(&b, "  also in %s: %s\n", r.Env, strings.Join(who, ", "))
	}
	for _, g := range a.Graduated {
		fmt.Fprintf(&b, "  %s of @%s is in %s now and left %s\n", g.Ticket, g.By, "the production branch", r.Env)
	}
	n.printf("%s", b.String())
	return nil
}

func (n *textNotifier) Failed(ctx context.Context, r workflow.Release, err error) error {
	msg := workflow.UserMessage(err)
	if msg == "" {
		msg = "internal error, logged as release " + r.ID
	}
	n.printf("[channel] :warning: @%s: %s to %s %s: %s\n", r.By, r.Ticket, r.Env, r.State, msg)
	if r.PushedSHA != "" {
		n.printf("[thread] %s is on %s's branch (%s) although its release failed; to put the branch back as it was before: code-releaser rollback %s --as USER\n",
			r.Ticket, r.Env, shortSHA(r.PushedSHA), r.ID)
	}
	return nil
}

// SoakOverridden prints what Slack posts in the release's thread when an
// approver's override let the release past the soak gate: who, why, and
// the tickets short of the soak.
func (n *textNotifier) SoakOverridden(ctx context.Context, r workflow.Release, rep workflow.SoakReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "  [thread] :rotating_light: @%s overrode %s's soak of %s in %s", r.By, r.Env, workflow.Human(rep.Need), rep.Env)
	if rep.OverrideReason != "" {
		fmt.Fprintf(&b, ": %s", rep.OverrideReason)
	}
	b.WriteString("\n")
	for _, t := range rep.Short() {
		fmt.Fprintf(&b, "           %s\n", rep.Describe(t))
	}
	n.printf("%s", b.String())
	return nil
}

func shortSHA(s string) string { return workflow.ShortSHA(s) }
