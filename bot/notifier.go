package bot

import (
	"context"
	"fmt"
	"hash/fnv"
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
	// MessageTTL is how long the shared store remembers where a
	// release's or an approval request's message is. Default 8 days (a
	// job may wait a day, an approval request is kept a week).
	MessageTTL time.Duration
	// EditInterval is the least time between two edits of a release's
	// message while it works (its outcome is written at once). Default
	// 2 s.
	EditInterval time.Duration
}

// NotifierStore is the shared state the Notifier keeps its messages'
// places in, so that any replica edits them; the workflow's Store is one.
type NotifierStore interface {
	workflow.MessageRefs
	workflow.Claims
}

// Origin is where a release was asked for.
type Origin struct {
	Channel string
	User    string
}

// postWait bounds how long a replica waits for another one that claimed
// the first post of a message to say where it is, before posting itself.
const postWait = 15 * time.Second

// Notifier is the Slack workflow.Notifier: one message per release,
// posted at its first step and edited (chat.update) as its steps
// complete; the details (the journal, the conflict's files and hunks, the
// occupants to mention) go in that message's thread, as new messages so
// that mentions notify. Where each message is (channel, ts) lives in the
// shared store, keyed by release and approval ID, so the replica that
// resumes a release, or receives a vote, edits the same message. The
// message's content comes from the release record the workflow passes,
// journal included, so no replica needs another's memory. The workflow
// logs its errors and goes on.
type Notifier struct {
	log    *slog.Logger
	client *Client
	cfg    NotifierConfig
	st     NotifierStore
	locks  [64]sync.Mutex // by key: one process edits one message at a time
	seen   *seenRefs      // this process's messages, should the store lose them
	edits  *edits         // coalesced chat.update calls
}

var _ workflow.Notifier = (*Notifier)(nil)

// NewNotifier returns a Notifier posting through c and keeping its
// messages' places in st.
func NewNotifier(log *slog.Logger, c *Client, cfg NotifierConfig, st NotifierStore) *Notifier {
	if cfg.MessageTTL <= 0 {
		cfg.MessageTTL = 8 * 24 * time.Hour
	}
	return &Notifier{log: log, client: c, cfg: cfg, st: st, seen: newSeenRefs(), edits: newEdits(log, c, cfg.EditInterval)}
}

// Flush writes the release messages' pending edits and waits for them
// until ctx ends; call it before the process exits.
func (n *Notifier) Flush(ctx context.Context) error { return n.edits.flush(ctx) }

func releaseKey(id string) string  { return "release:" + id }
func approvalKey(id string) string { return "approval:" + id }

func (n *Notifier) lock(key string) func() {
	h := fnv.New32a()
	h.Write([]byte(key))
	m := &n.locks[h.Sum32()%uint32(len(n.locks))]
	m.Lock()
	return m.Unlock
}

// Expect records where release id was asked for, before the workflow
// runs it, in the shared store: whichever replica runs it tells that
// channel (when no announce channel is set).
func (n *Notifier) Expect(ctx context.Context, id string, o Origin) error {
	if _, ok, err := n.st.GetMessageRef(ctx, releaseKey(id)); err != nil || ok {
		return err // known already (a redelivery)
	}
	return n.st.PutMessageRef(ctx, releaseKey(id), workflow.MessageRef{Channel: o.Channel}, n.cfg.MessageTTL)
}

// ref returns release id's message as stored, with the channel it goes
// to; ref.Channel is "" when there is nowhere to tell.
func (n *Notifier) ref(ctx context.Context, id string) (workflow.MessageRef, error) {
	key := releaseKey(id)
	ref, _, err := n.st.GetMessageRef(ctx, key)
	if err != nil {
		return workflow.MessageRef{}, err
	}
	if seen, ok := n.seen.get(key); ok && ref.TS == "" {
		// The shared store lost it: this process knows, and says again.
		n.log.Warn("the store lost a release message's place; using this process's", slog.String("release", id))
		ref = seen
		if err := n.st.PutMessageRef(ctx, key, ref, n.cfg.MessageTTL); err != nil {
			n.log.Warn("write a release message's place again", slog.String("release", id), slog.Any("err", err))
		}
	}
	if ref.TS == "" && n.cfg.AnnounceChannel != "" {
		ref.Channel = n.cfg.AnnounceChannel
	}
	return ref, nil
}

// ReleaseLink implements workflow.Notifier: the permalink of release
// r's message (chat.getPermalink on the channel and ts in the shared
// store), whose thread holds the release's details, so that the ticket's
// comment and remote link point there. It is "" when the message was not
// posted or Slack cannot say; the failure is logged.
func (n *Notifier) ReleaseLink(ctx context.Context, r workflow.Release) string {
	log := n.log.With(slog.String("release", r.ID))
	ref, ok, err := n.st.GetMessageRef(ctx, releaseKey(r.ID))
	switch {
	case err != nil:
		log.Warn("release link: where the message is", slog.Any("err", err))
		return ""
	case !ok || ref.Channel == "" || ref.TS == "":
		log.Debug("release link: the release has no Slack message")
		return ""
	}
	link, err := n.client.permalink(ctx, ref.Channel, ref.TS)
	if err != nil {
		log.Warn("release link: chat.getPermalink", slog.String("channel", ref.Channel), slog.String("ts", ref.TS), slog.Any("err", err))
		return ""
	}
	return link
}

// render posts release r's message with headline, or edits it when some
// replica posted it, and returns where it is. Edits are coalesced (see
// edits); final marks the release's outcome, written at once.
func (n *Notifier) render(ctx context.Context, r workflow.Release, headline string, final bool) (workflow.MessageRef, error) {
	blocks := []slack.Block{section(headline)}
	if line := stepLine(r.Steps); line != "" {
		blocks = append(blocks, contextBlock(line))
	}
	blocks = append(blocks, contextBlock(fmt.Sprintf("release `%s` · asked by %s", r.ID, mention(r.By))))
	key := releaseKey(r.ID)
	defer n.lock(key)()
	ref, err := n.ref(ctx, r.ID)
	if err != nil {
		return ref, err
	}
	msg := message{channel: ref.Channel, ts: ref.TS, text: headline, blocks: blocks}
	if ref.TS != "" {
		n.seen.put(key, ref)
		n.edits.update(msg, final)
		return ref, nil
	}
	if ref.Channel == "" {
		return ref, nil
	}
	// First post: one replica posts, the others wait for it and edit.
	claimed, err := n.st.Claim(ctx, "slack:post:"+key, postWait)
	if err != nil {
		return ref, err
	}
	if !claimed {
		if posted, ok := n.waitPosted(ctx, key); ok {
			msg.channel, msg.ts = posted.Channel, posted.TS
			n.seen.put(key, posted)
			n.edits.update(msg, final)
			return posted, nil
		}
		n.log.Warn("the replica posting a release's message never said where; posting again", slog.String("release", r.ID))
	}
	ts, err := n.client.post(ctx, msg)
	if err != nil {
		return ref, err
	}
	ref = workflow.MessageRef{Channel: ref.Channel, TS: ts, Thread: ts}
	n.edits.posted(ref.Channel, ts, final)
	n.seen.put(key, ref)
	return ref, n.st.PutMessageRef(ctx, key, ref, n.cfg.MessageTTL)
}

// waitPosted waits up to postWait for key's message to be posted.
func (n *Notifier) waitPosted(ctx context.Context, key string) (workflow.MessageRef, bool) {
	deadline := time.Now().Add(postWait)
	for time.Now().Before(deadline) {
		ref, ok, err := n.st.GetMessageRef(ctx, key)
		if err == nil && ok && ref.TS != "" {
			return ref, true
		}
		t := time.NewTimer(25 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return workflow.MessageRef{}, false
		case <-t.C:
		}
	}
	return workflow.MessageRef{}, false
}

// thread posts details in the release's thread (or in the channel when
// the message could not be posted).
func (n *Notifier) thread(ctx context.Context, ref workflow.MessageRef, text string, blocks []slack.Block) error {
	_, err := n.client.post(ctx, message{channel: ref.Channel, thread: ref.ThreadTS(), text: text, blocks: blocks})
	return err
}

func working(r workflow.Release) string {
	if of, _, ok := r.RollbackOf(); ok {
		return fmt.Sprintf(":gear: %s is rolling back *%s* (release `%s` of *%s*)", mention(r.By), r.Env, of, r.Ticket)
	}
	return fmt.Sprintf(":gear: %s is releasing *%s* to *%s*", mention(r.By), r.Ticket, r.Env)
}

// Queued implements workflow.Notifier.
func (n *Notifier) Queued(ctx context.Context, r workflow.Release, w workflow.Waiting) error {
	why := ""
	switch {
	case w.Hold != nil:
		why = fmt.Sprintf(": %s is held by %s (%s)", r.Env, mention(w.Hold.By), people(escape(orNone(w.Hold.Reason, "no reason given"))))
	case w.Holder != nil && w.Holder.ReleaseID != r.ID:
		why = fmt.Sprintf(": %s is releasing %s", mention(w.Holder.By), w.Holder.Ticket)
	}
	_, err := n.render(ctx, r, fmt.Sprintf(":hourglass_flowing_sand: %s's *%s* is #%d in the *%s* queue%s", mention(r.By), r.Ticket, w.Position, r.Env, why), false)
	return err
}

// Started implements workflow.Notifier.
func (n *Notifier) Started(ctx context.Context, r workflow.Release) error {
	_, err := n.render(ctx, r, working(r), false)
	return err
}

// Progress implements workflow.Notifier: the step joins the message's
// step line; a step after the release ended (the ticket write-back) is a
// thread reply, so that the announcement stays. Steps of a queued release
// (validated, queued) are only journaled: a release that waits is told
// by Queued, one that starts at once by Started, so an idle env never
// shows queue text.
func (n *Notifier) Progress(ctx context.Context, r workflow.Release, s workflow.Step) error {
	if s.Name == workflow.StepFailed || s.Name == workflow.StepAnnounced {
		return nil // the final message says it
	}
	if r.State.Final() {
		// A step after the outcome (the ticket write-back): the message
		// is the announcement now and stays so; the step goes in its thread.
		ref, err := n.ref(ctx, r.ID)
		if err != nil || ref.TS == "" {
			return err
		}
		text := s.Name
		if s.Detail != "" {
			text += ": " + people(escape(truncate(s.Detail, 500)))
		}
		if s.Name == workflow.StepTicket {
			text = ":memo: " + text
		}
		return n.thread(ctx, ref, text, nil)
	}
	if r.State == workflow.StateQueued || r.State == "" {
		return nil
	}
	_, err := n.render(ctx, r, working(r), false)
	return err
}

// Released implements workflow.Notifier: the message becomes the
// announcement (who released what, the commit, the deploy's result, who
// else is in the env) and a thread reply mentions the other occupants.
func (n *Notifier) Released(ctx context.Context, a workflow.Announcement) error {
	r := a.Release
	sha := orNone(r.PushedSHA, r.DeployedSHA)
	var h strings.Builder
	if a.RollbackOf != "" {
		fmt.Fprintf(&h, ":rewind: %s rolled back *%s*: it runs `%s` again, its deploy before release `%s` of *%s*. `%s` is unchanged: fix or revert *%s* there before the next release to *%s*.",
			mention(r.By), r.Env, shortSHA(r.MergedSHA), a.RollbackOf, r.Ticket, a.Env.Branch, r.Ticket, r.Env)
	} else {
		fmt.Fprintf(&h, ":white_check_mark: %s released *%s* to *%s*: `%s` at `%s`", mention(r.By), r.Ticket, r.Env, a.Env.Branch, shortSHA(sha))
	}
	if a.Ticket.Summary != "" && a.RollbackOf == "" {
		fmt.Fprintf(&h, " — %s", escape(truncate(a.Ticket.Summary, 120)))
	}
	if a.Ticket.Unverified != "" {
		fmt.Fprintf(&h, "\n:warning: *%s* was not checked in Jira: %s", r.Ticket, escape(truncate(a.Ticket.Unverified, 300)))
	}
	h.WriteString("\n" + deployLine(a.Deploy))
	if len(a.Others) > 0 {
		fmt.Fprintf(&h, "\nAlso in %s: %s", r.Env, occupantList(a.Others))
	} else if !a.Env.Production {
		fmt.Fprintf(&h, "\nNothing else is in %s.", r.Env)
	}
	ref, err := n.render(ctx, r, h.String(), true)
	if err != nil || ref.Channel == "" {
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
		fmt.Fprintf(&s, "• stack `%s`: %s", st.Name, st.Status)
		if st.Reason != "" {
			fmt.Fprintf(&s, " — %s", escape(st.Reason))
		}
		s.WriteString("\n")
	}
	s.WriteString(journal(r.Steps))
	return n.thread(ctx, ref, s.String(), []slack.Block{section(s.String())})
}

// Conflict implements workflow.Notifier: the message names the
// conflicting files and whose work they meet (ticket and owner); the
// thread holds the hunks. The user who asked gets the same directly, as
// an ephemeral message (a direct message when they are not in the
// channel): the edit of the message that their command's reply pointed
// to does not notify them.
func (n *Notifier) Conflict(ctx context.Context, r workflow.Release, c workflow.ConflictReport) error {
	var s strings.Builder
	fmt.Fprintf(&s, ":x: %s: *%s* cannot go to *%s*: merging `%s` into `%s` conflicts in %s: %s.",
		mention(r.By), r.Ticket, r.Env, c.Theirs, c.Ours, plural(len(c.Files), "file"), fileList(c.Paths(), 5))
	if len(c.Culprits) > 0 {
		var who []string
		for _, cu := range c.Culprits {
			who = append(who, fmt.Sprintf("*%s* of %s (%s)", cu.Occupant.Ticket, mention(cu.Occupant.By), fileList(cu.Files, 3)))
		}
		fmt.Fprintf(&s, "\nIt meets %s.", strings.Join(who, ", "))
	}
	s.WriteString("\nNothing was pushed. The conflicting lines are in the thread.")
	ref, err := n.render(ctx, r, s.String(), true)
	if err != nil || ref.Channel == "" {
		return err
	}
	terr := n.thread(ctx, ref, "Conflicts of "+string(r.Ticket)+" in "+r.Env, conflictBlocks(c))
	if isSlackUserID(r.By) {
		text := s.String()
		if link := n.ReleaseLink(ctx, r); link != "" {
			text += " <" + link + "|Open the thread>"
		}
		m := message{channel: ref.Channel, text: text, blocks: []slack.Block{section(text)}}
		if err := n.client.ephemeral(ctx, r.By, m); err != nil {
			// Not in that channel (the announce channel, say): a direct
			// message instead.
			n.log.Info("tell the requester of a conflict: ephemeral refused; sending a direct message", slog.String("release", r.ID), slog.Any("err", err))
			m.channel = r.By
			if _, err := n.client.post(ctx, m); err != nil {
				n.log.Warn("tell the requester of a conflict", slog.String("release", r.ID), slog.Any("err", err))
			}
		}
	}
	return terr
}

// fileList names up to n paths in code font, then how many more.
func fileList(paths []string, n int) string {
	var out []string
	for i, p := range paths {
		if i == n {
			out = append(out, fmt.Sprintf("and %d more", len(paths)-n))
			break
		}
		out = append(out, "`"+escape(strings.ReplaceAll(p, "`", "'"))+"`")
	}
	return strings.Join(out, ", ")
}

// Failed implements workflow.Notifier.
func (n *Notifier) Failed(ctx context.Context, r workflow.Release, err error) error {
	msg := workflow.UserMessage(err)
	if msg == "" || workflow.KindOf(err) == workflow.Internal {
		msg = "internal error, logged as release " + r.ID
	}
	ref, uerr := n.render(ctx, r, fmt.Sprintf(":warning: %s: *%s* to *%s* %s.\n%s", mention(r.By), r.Ticket, r.Env, r.State, capitalize(sentence(people(escape(msg))))), true)
	if uerr != nil || ref.Channel == "" {
		return uerr
	}
	j := journal(r.Steps)
	if err := n.thread(ctx, ref, j, []slack.Block{section(j)}); err != nil {
		return err
	}
	text, blocks, ok := rollbackOffer(r)
	if !ok {
		return nil
	}
	return n.thread(ctx, ref, text, blocks)
}

// rollbackOffer is the Roll back button of a release that failed after
// it changed its env: in an env with a branch, after its push (its ticket
// is on the branch, maybe half deployed); in production, after its deploy
// started (prod may run a half-deployed master). ok is false for a
// release that changed nothing, and for a rollback itself.
func rollbackOffer(r workflow.Release) (text string, blocks []slack.Block, ok bool) {
	var confirm string
	switch {
	case r.PushedSHA != "":
		text = fmt.Sprintf("*%s* is on *%s*'s branch (`%s`) although its release failed. *Roll back* puts the branch back to how it was before this release (with a new commit: its history is kept), takes *%s* out and redeploys *%s*. %s, or whoever may remove tickets from *%s*, may do it.",
			r.Ticket, r.Env, shortSHA(r.PushedSHA), r.Ticket, r.Env, capitalize(mention(r.By)), r.Env)
		confirm = fmt.Sprintf("%s leaves %s and %s is redeployed as it was before this release.", r.Ticket, r.Env, r.Env)
	case r.MergedSHA != "" && r.HasStep(workflow.StepDeploying) && !r.HasStep(workflow.StepRollbackOf):
		text = fmt.Sprintf("*%s* may run part of `%s` now: its deploy failed. *Roll back* asks *%s*'s approvers to deploy its previous deploy again, as for a release; master stays as it is.",
			r.Env, shortSHA(r.MergedSHA), r.Env)
		confirm = fmt.Sprintf("%s's approvers are asked to deploy its previous deploy again.", r.Env)
	default:
		return "", nil, false
	}
	b := button(ActionRollback, r.ID, "Roll back", slack.StyleDanger)
	b.Confirm = slack.NewConfirmationBlockObject(plain("Roll back "+r.Env+"?"), plain(confirm), plain("Roll back"), plain("Cancel"))
	return text, []slack.Block{section(text), slack.NewActionBlock("rollback", b)}, true
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
			fmt.Fprintf(&s, "`%s` %s vs `%s` %s\n", c.Ours, lineRange(h.OursStart, h.OursLines), c.Theirs, lineRange(h.TheirsStart, h.TheirsLines))
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
			fmt.Fprintf(&s, "• *%s* of %s (in %s since %s) touched %s:", o.Ticket, mention(o.By), c.Env, o.At.UTC().Format("Jan 2 15:04 MST"), fileList(cu.Files, 5))
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
		out = append(out, contextBlock(":bulb: "+people(escape(c.Hint))))
	}
	return out
}

// lineRange names a hunk's lines on one side: "line 3", "lines 3–5", or
// "no lines (after line 2)" for a side that removed them.
func lineRange(start, n int) string {
	switch {
	case n <= 0:
		return fmt.Sprintf("no lines (after line %d)", max(start-1, 0))
	case n == 1:
		return fmt.Sprintf("line %d", start)
	}
	return fmt.Sprintf("lines %d–%d", start, start+n-1)
}

// deployLine says how a deploy went: "Deploy succeeded: 2 stacks
// updated", without repeating the status the summary starts with.
func deployLine(d workflow.DeployResult) string {
	status := orNone(string(d.Status), "done")
	sum := d.Summary
	for _, p := range []string{"deploy " + status + ":", status + ":"} {
		if len(sum) >= len(p) && strings.EqualFold(sum[:len(p)], p) {
			sum = strings.TrimSpace(sum[len(p):])
			break
		}
	}
	if sum == "" {
		return "Deploy " + status + "."
	}
	return "Deploy " + status + ": " + escape(sum)
}

func capLines(lines []string, n int) []string {
	if len(lines) <= n {
		return lines
	}
	return append(append([]string(nil), lines[:n]...), fmt.Sprintf("… %d more lines", len(lines)-n))
}

// stepLine is the message's one-line progress: each step done so far,
// once, where it first happened (a step journaled twice, such as the
// approval asked and then given, shows its latest state). An approval
// still awaited shows as waiting.
func stepLine(steps []workflow.Step) string {
	var parts []string
	at := map[string]int{}
	for i, s := range steps {
		p := stepMark(s) + " " + s.Name
		switch {
		case s.Name == workflow.StepQueued || s.Name == workflow.StepRetry:
			p = s.Name + " (" + people(escape(s.Detail)) + ")"
		case s.Name == workflow.StepApproval && i == len(steps)-1 && awaiting(s.Detail):
			p = ":hourglass_flowing_sand: " + s.Name
		}
		if j, ok := at[s.Name]; ok {
			parts[j] = p
			continue
		}
		at[s.Name] = len(parts)
		parts = append(parts, p)
	}
	// Keep the newest steps when the line would be too long.
	for len(parts) > 1 && len(strings.Join(parts, " · ")) > 2000 {
		parts = parts[1:]
	}
	return strings.Join(parts, " · ")
}

// awaiting reports whether an approval step's detail says the release
// waits for votes.
func awaiting(detail string) bool {
	return strings.HasPrefix(detail, "asked ") || strings.HasPrefix(detail, "waiting ")
}

// journal is the release's steps with their times and details.
func journal(steps []workflow.Step) string {
	var s strings.Builder
	s.WriteString("*Journal*\n")
	for _, st := range steps {
		fmt.Fprintf(&s, "`%s` %s", st.At.UTC().Format(time.TimeOnly), st.Name)
		if st.Detail != "" {
			fmt.Fprintf(&s, " — %s", people(escape(truncate(st.Detail, 200))))
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

// capitalize upper-cases s's first letter.
func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
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
