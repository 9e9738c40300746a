package bot

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/code-releaser/code-releaser/workflow"
)

// NotifierConfig says where releases are told.
type NotifierConfig struct {
	// AnnounceChannel gets every release's message; "" posts in the
	// channel the command was typed in.
	AnnounceChannel string
	// ApprovalsChannel gets prod approval requests with their buttons;
	// "" posts them where releases are announced.
	ApprovalsChannel string
}

// Origin is where a release was asked for.
type Origin struct {
	Channel string
	User    string
}

// Notifier is the Slack workflow.Notifier: one message per release,
// posted when the release starts and edited (chat.update) as its steps
// complete; the details (the journal, the conflict's files and hunks, the
// occupants to mention) go in that message's thread, as new messages so
// that mentions notify. The workflow logs its errors and goes on.
type Notifier struct {
	log    *slog.Logger
	client *Client
	cfg    NotifierConfig
	clock  workflow.Clock

	mu      sync.Mutex
	origins map[string]Origin
	msgs    map[string]*releaseMsg

	approvalMsgs sync.Map // approval ID → *approvalMsg
}

// releaseMsg is one release's message.
type releaseMsg struct {
	mu       sync.Mutex
	channel  string
	ts       string // "" until posted
	headline string
	steps    []workflow.Step
}

var _ workflow.Notifier = (*Notifier)(nil)

// NewNotifier returns a Notifier posting through c.
func NewNotifier(log *slog.Logger, c *Client, cfg NotifierConfig) *Notifier {
	return &Notifier{log: log, client: c, cfg: cfg, clock: workflow.SystemClock{},
		origins: map[string]Origin{}, msgs: map[string]*releaseMsg{}}
}

// Expect tells the Notifier where release id was asked for, before the
// workflow runs it.
func (n *Notifier) Expect(id string, o Origin) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.origins[id] = o
}

// Forget drops what Expect recorded (the release was refused before it
// started).
func (n *Notifier) Forget(id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.origins, id)
	delete(n.msgs, id)
}

// message returns release r's message state; nil when there is no channel
// to tell.
func (n *Notifier) message(r workflow.Release) *releaseMsg {
	n.mu.Lock()
	defer n.mu.Unlock()
	if m, ok := n.msgs[r.ID]; ok {
		return m
	}
	ch := n.cfg.AnnounceChannel
	if ch == "" {
		ch = n.origins[r.ID].Channel
	}
	if ch == "" {
		return nil
	}
	m := &releaseMsg{channel: ch}
	n.msgs[r.ID] = m
	return m
}

// done forgets a finished release.
func (n *Notifier) done(id string) { n.Forget(id) }

// render posts the release's message or edits it.
func (n *Notifier) render(ctx context.Context, r workflow.Release, m *releaseMsg) error {
	blocks := []slack.Block{section(m.headline)}
	if line := stepLine(m.steps); line != "" {
		blocks = append(blocks, contextBlock(line))
	}
	blocks = append(blocks, contextBlock(fmt.Sprintf("release `%s` · asked by %s", r.ID, mention(r.By))))
	msg := message{channel: m.channel, ts: m.ts, text: m.headline, blocks: blocks}
	if m.ts != "" {
		return n.client.update(ctx, msg)
	}
	ts, err := n.client.post(ctx, msg)
	if err != nil {
		return err
	}
	m.ts = ts
	return nil
}

// thread posts details in the release's thread (or in the channel when
// the message could not be posted).
func (n *Notifier) thread(ctx context.Context, m *releaseMsg, text string, blocks []slack.Block) error {
	_, err := n.client.post(ctx, message{channel: m.channel, thread: m.ts, text: text, blocks: blocks})
	return err
}

// update changes the message under its lock.
func (n *Notifier) update(ctx context.Context, r workflow.Release, f func(m *releaseMsg)) (*releaseMsg, error) {
	m := n.message(r)
	if m == nil {
		return nil, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m)
	return m, n.render(ctx, r, m)
}

func working(r workflow.Release) string {
	return fmt.Sprintf(":gear: %s is releasing *%s* to *%s*", mention(r.By), r.Ticket, r.Env)
}

// Queued implements workflow.Notifier.
func (n *Notifier) Queued(ctx context.Context, r workflow.Release, w workflow.Waiting) error {
	_, err := n.update(ctx, r, func(m *releaseMsg) {
		why := ""
		switch {
		case w.Hold != nil:
			why = fmt.Sprintf(": %s is held by %s (%s)", r.Env, mention(w.Hold.By), escape(orNone(w.Hold.Reason, "no reason given")))
		case w.Holder != nil:
			why = fmt.Sprintf(": %s is releasing %s", mention(w.Holder.By), w.Holder.Ticket)
		}
		m.headline = fmt.Sprintf(":hourglass_flowing_sand: %s's *%s* is #%d in the *%s* queue%s", mention(r.By), r.Ticket, w.Position, r.Env, why)
	})
	return err
}

// Started implements workflow.Notifier.
func (n *Notifier) Started(ctx context.Context, r workflow.Release) error {
	_, err := n.update(ctx, r, func(m *releaseMsg) { m.headline = working(r) })
	return err
}

// Progress implements workflow.Notifier: the step joins the message's
// step line.
func (n *Notifier) Progress(ctx context.Context, r workflow.Release, s workflow.Step) error {
	if s.Name == workflow.StepFailed || s.Name == workflow.StepAnnounced {
		n.mu.Lock()
		m := n.msgs[r.ID]
		n.mu.Unlock()
		if m != nil {
			m.mu.Lock()
			m.steps = append(m.steps, s)
			m.mu.Unlock()
		}
		return nil // the final message says it
	}
	_, err := n.update(ctx, r, func(m *releaseMsg) {
		if m.headline == "" {
			m.headline = working(r)
		}
		m.steps = append(m.steps, s)
	})
	return err
}

// Released implements workflow.Notifier: the message becomes the
// announcement (who released what, the commit, the deploy's result, who
// else is in the env) and a thread reply mentions the other occupants.
func (n *Notifier) Released(ctx context.Context, a workflow.Announcement) error {
	r := a.Release
	defer n.done(r.ID)
	sha := orNone(r.PushedSHA, r.DeployedSHA)
	m, err := n.update(ctx, r, func(m *releaseMsg) {
		var s strings.Builder
		fmt.Fprintf(&s, ":white_check_mark: %s released *%s* to *%s*: `%s` at `%s`", mention(r.By), r.Ticket, r.Env, a.Env.Branch, shortSHA(sha))
		if a.Ticket.Summary != "" {
			fmt.Fprintf(&s, " — %s", escape(truncate(a.Ticket.Summary, 120)))
		}
		fmt.Fprintf(&s, "\nDeploy %s", orNone(string(a.Deploy.Status), "done"))
		if a.Deploy.Summary != "" {
			fmt.Fprintf(&s, ": %s", escape(a.Deploy.Summary))
		}
		if len(a.Others) > 0 {
			fmt.Fprintf(&s, "\nAlso in %s: %s", r.Env, occupantList(a.Others))
		} else if !a.Env.Production {
			fmt.Fprintf(&s, "\nNothing else is in %s.", r.Env)
		}
		m.headline = s.String()
	})
	if err != nil || m == nil {
		return err
	}
	var s strings.Builder
	if len(a.Others) > 0 {
		var who []string
		for _, o := range a.Others {
			who = append(who, mention(o.By))
		}
		fmt.Fprintf(&s, "%s: *%s* joined your tickets in *%s*.\n", strings.Join(dedupe(who), " "), r.Ticket, r.Env)
	}
	for _, g := range a.Graduated {
		fmt.Fprintf(&s, "*%s* of %s is in master now and left %s.\n", g.Ticket, mention(g.By), r.Env)
	}
	for _, st := range a.Deploy.Stacks {
		fmt.Fprintf(&s, "• stack `%s`: %s %s\n", st.Name, st.Status, escape(st.Reason))
	}
	s.WriteString(journal(m.steps))
	return n.thread(ctx, m, s.String(), []slack.Block{section(s.String())})
}

// Conflict implements workflow.Notifier: the message says what conflicts
// with whose work; the thread lists files, hunks and the occupants.
func (n *Notifier) Conflict(ctx context.Context, r workflow.Release, c workflow.ConflictReport) error {
	defer n.done(r.ID)
	m, err := n.update(ctx, r, func(m *releaseMsg) {
		var s strings.Builder
		fmt.Fprintf(&s, ":x: %s: *%s* cannot go to *%s*: merging `%s` into `%s` conflicts in %s. Nothing was pushed.",
			mention(r.By), r.Ticket, r.Env, c.Theirs, c.Ours, plural(len(c.Files), "file"))
		if len(c.Culprits) > 0 {
			var who []string
			for _, cu := range c.Culprits {
				who = append(who, fmt.Sprintf("*%s* (%s)", cu.Occupant.Ticket, mention(cu.Occupant.By)))
			}
			fmt.Fprintf(&s, "\nIt meets %s.", strings.Join(who, ", "))
		}
		m.headline = s.String()
	})
	if err != nil || m == nil {
		return err
	}
	blocks := conflictBlocks(c)
	return n.thread(ctx, m, "Conflicts of "+string(r.Ticket)+" in "+r.Env, blocks)
}

// Failed implements workflow.Notifier.
func (n *Notifier) Failed(ctx context.Context, r workflow.Release, err error) error {
	defer n.done(r.ID)
	msg := workflow.UserMessage(err)
	if msg == "" || workflow.KindOf(err) == workflow.Internal {
		msg = "internal error, logged as release " + r.ID
	}
	m, uerr := n.update(ctx, r, func(m *releaseMsg) {
		m.headline = fmt.Sprintf(":warning: %s: *%s* to *%s* %s: %s", mention(r.By), r.Ticket, r.Env, r.State, sentence(escape(msg)))
	})
	if uerr != nil || m == nil {
		return uerr
	}
	j := journal(m.steps)
	return n.thread(ctx, m, j, []slack.Block{section(j)})
}

// conflictBlocks lists the conflict's files with their hunks, the
// occupants whose commits touched them, and the hint.
func conflictBlocks(c workflow.ConflictReport) []slack.Block {
	var out []slack.Block
	for i, f := range c.Files {
		if len(out) >= maxBlocks-4 {
			out = append(out, section(fmt.Sprintf("…and %d more files", len(c.Files)-i)))
			break
		}
		var s strings.Builder
		fmt.Fprintf(&s, "*%s* — %s conflict\n", escape(f.Path), orNone(f.Kind, "content"))
		for _, h := range f.Hunks {
			fmt.Fprintf(&s, "`%s` lines %s vs `%s` lines %s\n", c.Ours, lineRange(h.OursStart, h.OursLines), c.Theirs, lineRange(h.TheirsStart, h.TheirsLines))
			var code strings.Builder
			for _, l := range capLines(h.Ours, 8) {
				code.WriteString("- " + l + "\n")
			}
			for _, l := range capLines(h.Theirs, 8) {
				code.WriteString("+ " + l + "\n")
			}
			if code.Len() > 0 {
				fmt.Fprintf(&s, "```%s```\n", escape(strings.ReplaceAll(code.String(), "```", "'''")))
			}
		}
		out = append(out, section(s.String()))
	}
	if len(c.Culprits) > 0 {
		var s strings.Builder
		s.WriteString("*Whose work it meets*\n")
		for _, cu := range c.Culprits {
			o := cu.Occupant
			fmt.Fprintf(&s, "• *%s* of %s (in %s since %s) touched %s", o.Ticket, mention(o.By), c.Env, o.At.UTC().Format("Jan 2 15:04 MST"), escape(strings.Join(cu.Files, ", ")))
			for i, cm := range cu.Commits {
				if i == 3 {
					fmt.Fprintf(&s, " …")
					break
				}
				fmt.Fprintf(&s, " `%s` %s;", shortSHA(cm.SHA), escape(truncate(cm.Subject, 60)))
			}
			s.WriteString("\n")
		}
		out = append(out, section(s.String()))
	}
	if c.Hint != "" {
		out = append(out, contextBlock(":bulb: "+escape(c.Hint)))
	}
	return out
}

func lineRange(start, n int) string {
	if n <= 1 {
		return fmt.Sprint(start)
	}
	return fmt.Sprintf("%d–%d", start, start+n-1)
}

func capLines(lines []string, n int) []string {
	if len(lines) <= n {
		return lines
	}
	return append(append([]string(nil), lines[:n]...), fmt.Sprintf("… %d more lines", len(lines)-n))
}

// stepLine is the message's one-line progress: each step done so far.
func stepLine(steps []workflow.Step) string {
	var parts []string
	for _, s := range steps {
		p := ":white_check_mark: " + s.Name
		if s.Name == workflow.StepQueued || s.Name == workflow.StepRetry {
			p = s.Name + " (" + s.Detail + ")"
		}
		parts = append(parts, p)
	}
	// Keep the newest steps when the line would be too long.
	for len(parts) > 1 && len(strings.Join(parts, " · ")) > 2000 {
		parts = parts[1:]
	}
	return strings.Join(parts, " · ")
}

// journal is the release's steps with their times and details.
func journal(steps []workflow.Step) string {
	var s strings.Builder
	s.WriteString("*Journal*\n")
	for _, st := range steps {
		fmt.Fprintf(&s, "`%s` %s", st.At.UTC().Format(time.TimeOnly), st.Name)
		if st.Detail != "" {
			fmt.Fprintf(&s, " — %s", escape(truncate(st.Detail, 200)))
		}
		s.WriteString("\n")
	}
	return truncate(s.String(), maxSectionText)
}

func occupantList(os []workflow.Occupant) string {
	var parts []string
	for _, o := range os {
		parts = append(parts, fmt.Sprintf("*%s* (%s)", o.Ticket, mention(o.By)))
	}
	return strings.Join(parts, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
