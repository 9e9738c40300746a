package bot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/code-releaser/code-releaser/workflow"
)

// Slack's limits on what a message may hold.
const (
	maxSectionText = 3000 // characters of a section's text
	maxBlocks      = 50   // blocks of a message (100 on the Home tab)
	maxHomeBlocks  = 100
)

// mention renders a user or a user group: a Slack mention for a Slack
// user ID (<@U…>) or user group ID (<!subteam^S…>), the name otherwise
// (the CLI's users, the bot itself).
func mention(id string) string {
	switch {
	case isSlackUserID(id):
		return "<@" + id + ">"
	case isSlackGroupID(id):
		return "<!subteam^" + id + ">"
	case id == "":
		return "someone"
	}
	return "@" + id
}

// mentions renders ids with mention, joined with commas.
func mentions(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = mention(id)
	}
	return strings.Join(out, ", ")
}

// isSlackGroupID reports whether id is a user group's ID: S, then
// capitals and digits, at least one digit.
func isSlackGroupID(id string) bool {
	if len(id) < 3 || id[0] != 'S' {
		return false
	}
	digit := false
	for i := 1; i < len(id); i++ {
		c := id[i]
		switch {
		case '0' <= c && c <= '9':
			digit = true
		case 'A' <= c && c <= 'Z':
		default:
			return false
		}
	}
	return digit
}

// people turns the Slack IDs the workflow writes into its sentences
// ("approved by U0ANA", "held by U0BEN") into mentions. text is mrkdwn,
// escaped already. An ID is a word of capitals and digits that starts
// with U or W (a user) or S (a user group) followed by a digit, as Slack's
// IDs do ("U024BE7LH", "S0614TZR7"); words such as SHA256, UTF8 or S3 are
// left alone, and so are IDs in code, quotes, paths and mentions.
func people(text string) string {
	var out strings.Builder
	word := func(c byte) bool {
		return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_'
	}
	for i := 0; i < len(text); {
		if !word(text[i]) {
			out.WriteByte(text[i])
			i++
			continue
		}
		j := i
		for j < len(text) && word(text[j]) {
			j++
		}
		w := text[i:j]
		prev, next := byte(' '), byte(' ')
		if i > 0 {
			prev = text[i-1]
		}
		if j < len(text) {
			next = text[j]
		}
		if looksLikeSlackID(w) && !strings.ContainsRune("<@^/-.#|`\"", rune(prev)) && !strings.ContainsRune("-/>|`\"", rune(next)) {
			out.WriteString(mention(w))
		} else {
			out.WriteString(w)
		}
		i = j
	}
	return out.String()
}

func looksLikeSlackID(w string) bool {
	if len(w) < 4 || !strings.ContainsRune("UWS", rune(w[0])) || w[1] < '0' || w[1] > '9' {
		return false
	}
	return isSlackUserID(w) || isSlackGroupID(w)
}

func isSlackUserID(id string) bool {
	if len(id) < 3 || (id[0] != 'U' && id[0] != 'W') {
		return false
	}
	for i := 1; i < len(id); i++ {
		c := id[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func shortSHA(s string) string { return workflow.ShortSHA(s) }

func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return s
}

// escape makes user-provided text inert in mrkdwn.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func mrkdwn(text string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, truncate(text, maxSectionText), false, false)
}

func plain(text string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, truncate(text, 150), true, false)
}

func section(text string) slack.Block { return slack.NewSectionBlock(mrkdwn(text), nil, nil) }

func contextBlock(text string) slack.Block { return slack.NewContextBlock("", mrkdwn(text)) }

func button(actionID, value, text string, style slack.Style) *slack.ButtonBlockElement {
	b := slack.NewButtonBlockElement(actionID, value, plain(text))
	if style != "" {
		b.Style = style
	}
	return b
}

// confirmBlocks asks to confirm what value names (e.g. reset:dev).
func confirmBlocks(text, value string) []slack.Block {
	return []slack.Block{
		section(text),
		slack.NewActionBlock("confirm",
			button(ActionConfirm, value, "Confirm", slack.StyleDanger),
			button(ActionCancel, value, "Cancel", ""),
		),
	}
}

// ApprovalBlocks is the Approve / Reject prompt of a prod release; the
// approval flow posts it to the approvers.
func ApprovalBlocks(text, releaseID string) []slack.Block {
	return []slack.Block{
		section(text),
		slack.NewActionBlock("approval",
			button(ActionApprove, releaseID, "Approve", slack.StylePrimary),
			button(ActionReject, releaseID, "Reject", slack.StyleDanger),
		),
	}
}

// age says how long ago t was, for people.
func age(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case t.IsZero():
		return "?"
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// ago says when t was, for people: "just now", "5m ago", "3d ago".
func ago(now, t time.Time) string {
	switch a := age(now, t); a {
	case "just now", "?":
		return a
	default:
		return a + " ago"
	}
}

// boardBlocks renders envs for the App Home or /release status, within
// limit blocks. Jira statuses are looked up when a Tickets port is wired,
// each within a short timeout; a failed lookup shows "?".
func (b *Bot) boardBlocks(ctx context.Context, envs []workflow.EnvStatus, limit int) []slack.Block {
	now := b.d.Clock.Now()
	var out []slack.Block
	for _, st := range envs {
		if len(out)+4 > limit {
			out = append(out, contextBlock("…more envs than fit; use `/release status ENV`"))
			break
		}
		out = append(out, section(b.envText(ctx, now, st)))
		if hb := b.handoffBlock(st); hb != nil {
			out = append(out, hb)
		}
		if st.LastDeploy != nil || st.Lease != nil {
			out = append(out, contextBlock(envFooter(now, st)))
		}
		out = append(out, slack.NewDividerBlock())
	}
	return out
}

// envText is one env's board entry.
func (b *Bot) envText(ctx context.Context, now time.Time, st workflow.EnvStatus) string {
	var s strings.Builder
	fmt.Fprintf(&s, "*%s*  `%s`", st.Env.Name, st.Env.Branch)
	if st.Env.Production {
		s.WriteString("  :lock: production")
	}
	s.WriteString("\n")
	if st.Hold != nil {
		fmt.Fprintf(&s, ":double_vertical_bar: held by %s", mention(st.Hold.By))
		if !st.Hold.Until.IsZero() {
			fmt.Fprintf(&s, " until %s", st.Hold.Until.UTC().Format("Jan 2 15:04 MST"))
		}
		fmt.Fprintf(&s, ": %s\n", escape(orNone(st.Hold.Reason, "no reason given")))
	}
	if len(st.Occupants) == 0 {
		if !st.Env.Production {
			s.WriteString("_no tickets: the branch is master_\n")
		}
	}
	for _, o := range st.Occupants {
		fmt.Fprintf(&s, "• *%s* %s, %s%s", o.Ticket, mention(o.By), ago(now, o.At), expiryNote(now, st, o))
		if js, done := b.jiraStatus(ctx, o.Ticket); js != "" {
			fmt.Fprintf(&s, " · Jira: %s%s", escape(js), doneFlag(st, done))
		}
		s.WriteString("\n")
	}
	if len(st.Queue) > 0 {
		var q []string
		for i, e := range st.Queue {
			q = append(q, fmt.Sprintf("%d. %s (%s)", i+1, e.Ticket, mention(e.By)))
		}
		fmt.Fprintf(&s, ":hourglass_flowing_sand: queue: %s\n", strings.Join(q, ", "))
	}
	return truncate(s.String(), maxSectionText)
}

// envFooter is the working release and the last deploy of an env.
func envFooter(now time.Time, st workflow.EnvStatus) string {
	var parts []string
	if st.Lease != nil {
		parts = append(parts, fmt.Sprintf(":gear: %s is releasing %s", mention(st.Lease.By), st.Lease.Ticket))
	}
	if d := st.LastDeploy; d != nil {
		parts = append(parts, fmt.Sprintf("last deploy: `%s` %s by %s, %s", shortSHA(d.Result.SHA), orNone(string(d.Result.Status), "?"), mention(d.By), ago(now, d.At)))
	}
	return strings.Join(parts, " · ")
}

// jiraStatus is the ticket's Jira status, "" without a Tickets port, and
// whether it is in the done category.
func (b *Bot) jiraStatus(ctx context.Context, key workflow.TicketKey) (string, bool) {
	if b.d.Tickets == nil {
		return "", false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	t, err := b.d.Tickets.Lookup(ctx, key)
	if err != nil {
		return "?", false
	}
	return orNone(t.Status, t.StatusCategory), t.StatusCategory == "done"
}

// boardText is the board's plain-text fallback (notifications, screen
// readers).
func boardText(envs []workflow.EnvStatus) string {
	var parts []string
	for _, st := range envs {
		var ts []string
		for _, o := range st.Occupants {
			ts = append(ts, string(o.Ticket))
		}
		parts = append(parts, fmt.Sprintf("%s: %s", st.Env.Name, orNone(strings.Join(ts, ", "), "master only")))
	}
	return strings.Join(parts, "; ")
}
