package bot

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/code-releaser/code-releaser/workflow"
)

// The reminder's buttons. Their value is tenancyValue's.
const (
	ActionKeep  = "occupancy_keep"
	ActionLeave = "occupancy_leave"
)

// Occupancy is what the reminder's buttons (Keep, Remove) and the
// handoff's (Ask to release, and the owner's answer) do;
// *workflow.Service implements it.
type Occupancy interface {
	Keep(ctx context.Context, env, ticket, releaseID string, seen int, by workflow.User) (workflow.Tenancy, error)
	Leave(ctx context.Context, env, ticket, releaseID string, by workflow.User) (workflow.EnvChange, error)
	AskRelease(ctx context.Context, env, ticket, releaseID string, by workflow.User) (workflow.Occupant, error)
	AnswerRelease(ctx context.Context, env, ticket, releaseID, asker string, remove bool, by workflow.User) (workflow.EnvChange, error)
}

// tenancyValue is a reminder button's value: env, ticket, release and the
// Keeps used when it was sent, so that a click on an old reminder (the
// ticket kept or released again since) changes nothing.
func tenancyValue(env string, o workflow.Occupant, tn workflow.Tenancy) string {
	return strings.Join([]string{env, string(o.Ticket), o.ReleaseID, strconv.Itoa(tn.Extensions)}, "|")
}

// parseTenancyValue reads a reminder button's value.
func parseTenancyValue(v string) (env, ticket, release string, seen int, err error) {
	parts := strings.Split(v, "|")
	if len(parts) == 4 {
		if seen, err = strconv.Atoi(parts[3]); err == nil && seen >= 0 {
			return parts[0], parts[1], parts[2], seen, nil
		}
	}
	return "", "", "", 0, workflow.Errorf("click", workflow.Invalid, "this button is not one of a reminder's; nothing was changed")
}

func when(t time.Time) string { return t.UTC().Format("Mon Jan 2 15:04 MST") }

// Remind implements workflow.Notifier: a DM to the owner
// (conversations.open, then chat.postMessage) with Keep and Remove
// buttons.
func (n *Notifier) Remind(ctx context.Context, r workflow.Reminder) error {
	o := r.Occupant
	if !isSlackUserID(o.By) {
		return fmt.Errorf("remind %s's owner %q: not a Slack user", o.Ticket, o.By)
	}
	dm, err := n.client.openDM(ctx, o.By)
	if err != nil {
		return err
	}
	left := r.Tenancy.Max - r.Tenancy.Extensions
	unless := " unless you keep it"
	if left <= 0 {
		unless = ""
	}
	text := fmt.Sprintf(":hourglass: *%s* has been in *%s* for %s. It leaves %s at %s (it is rebuilt from master and the other tickets)%s.",
		o.Ticket, r.Env.Name, workflow.FormatAge(r.Age), r.Env.Name, when(r.Tenancy.Expires), unless)
	v := tenancyValue(r.Env.Name, o, r.Tenancy)
	blocks := []slack.Block{section(text)}
	var buttons []slack.BlockElement
	if left > 0 {
		buttons = append(buttons, button(ActionKeep, v, "Keep "+workflow.FormatAge(r.ExtendBy)+" more", slack.StylePrimary))
		blocks = append(blocks, contextBlock(fmt.Sprintf("Keep moves the expiry by %s; %s left.", workflow.FormatAge(r.ExtendBy), plural(left, "Keep"))))
	} else {
		blocks = append(blocks, contextBlock(fmt.Sprintf("It was kept %s already, the most %s allows: release it again to start over.", plural(r.Tenancy.Extensions, "time"), r.Env.Name)))
	}
	buttons = append(buttons, button(ActionLeave, v, "Remove it now", slack.StyleDanger))
	blocks = append(blocks, slack.NewActionBlock("occupancy", buttons...))
	_, err = n.client.post(ctx, message{channel: dm, text: text, blocks: blocks})
	return err
}

// OccupancyNotice implements workflow.Notifier: in the announce
// channel, the owner (and, for a failed expiry, the other occupants'
// owners) mentioned.
func (n *Notifier) OccupancyNotice(ctx context.Context, c workflow.OccupancyNotice) error {
	ch := n.cfg.AnnounceChannel
	if ch == "" {
		return nil
	}
	o := c.Occupant
	var s strings.Builder
	switch c.Kind {
	case workflow.NoticeExpiryFailed:
		fmt.Fprintf(&s, ":warning: %s: *%s* expired in *%s*, but it could not be taken out: %s\n`%s` was left as it was.", mention(o.By), o.Ticket, c.Env.Name, escape(c.Error), c.Env.Branch)
		if len(c.Others) > 0 {
			share := "your tickets share"
			if len(c.Others) == 1 {
				share = "your ticket shares"
			}
			fmt.Fprintf(&s, "\n%s: %s %s with it (%s).", owners(c.Others), share, c.Env.Name, occupantList(c.Others))
		}
		s.WriteString("\nCode-Releaser tries again in an hour; `/release remove` or `/release reset` do it now by hand.")
	case workflow.NoticeExpiryHeld:
		fmt.Fprintf(&s, ":double_vertical_bar: %s: *%s* expired in *%s*, which is held by %s; it stays until the hold ends.", mention(o.By), o.Ticket, c.Env.Name, mention(c.Hold.By))
	case workflow.NoticeExtendRefused:
		fmt.Fprintf(&s, ":no_entry_sign: %s asked to keep *%s* (%s) in *%s* again, but it was kept %s already, the most %s allows. It leaves at %s unless it is released again.",
			mention(c.By.ID), o.Ticket, mention(o.By), c.Env.Name, plural(c.Tenancy.Extensions, "time"), c.Env.Name, when(c.Tenancy.Expires))
	default:
		return nil
	}
	_, err := n.client.post(ctx, message{channel: ch, text: s.String(), blocks: []slack.Block{section(s.String())}})
	return err
}

// keep is the reminder's Keep button.
func (b *Bot) keep(ctx context.Context, req *Request) (Reply, error) {
	env, ticket, rel, seen, err := parseTenancyValue(req.Action.Value)
	if err != nil {
		return Reply{}, err
	}
	tn, err := b.d.Occupancy.Keep(ctx, env, ticket, rel, seen, req.User)
	if err != nil {
		return Reply{}, err
	}
	return Reply{ReplaceOriginal: true, Text: fmt.Sprintf(":white_check_mark: *%s* stays in *%s* until %s (kept %d of %d times).", ticket, env, when(tn.Expires), tn.Extensions, tn.Max)}, nil
}

// leave is the reminder's Remove button.
func (b *Bot) leave(ctx context.Context, req *Request) (Reply, error) {
	env, ticket, rel, _, err := parseTenancyValue(req.Action.Value)
	if err != nil {
		return Reply{}, err
	}
	c, err := b.d.Occupancy.Leave(withOrigin(ctx, req), env, ticket, rel, req.User)
	if err != nil {
		return Reply{}, err
	}
	return Reply{ReplaceOriginal: true, Text: fmt.Sprintf(":outbox_tray: *%s* left *%s*: `%s` is master plus %s; the channel was told.", ticket, env, shortSHA(c.SHA), orNone(occupantList(c.Stayed), "nothing else"))}, nil
}

// expiryNote is an occupant's expiry on the board: "expires in 2d (Dec
// 9)", or "in master" for one whose commits are all in master.
func expiryNote(now time.Time, st workflow.EnvStatus, o workflow.Occupant) string {
	tn, ok := st.Tenancies[o.Ticket]
	switch {
	case !ok:
		return ""
	case tn.InMaster:
		return " · in master"
	case tn.Expires.IsZero():
		return ""
	case !now.Before(tn.Expires):
		return " · :hourglass: expired, leaving"
	}
	note := fmt.Sprintf(" · expires in %s (%s)", workflow.FormatAge(tn.Expires.Sub(now)), tn.Expires.UTC().Format("Jan 2 15:04 MST"))
	if tn.Extensions > 0 {
		note += fmt.Sprintf(", kept %d of %d", tn.Extensions, tn.Max)
	}
	return note
}

// doneFlag flags a ticket whose Jira ticket is done: it may leave the env
// (and will, with remove_when_done).
func doneFlag(st workflow.EnvStatus, done bool) string {
	if !done {
		return ""
	}
	if st.Env.Occupancy.RemoveWhenDone {
		return " :checkered_flag: done in Jira: leaving"
	}
	return " :checkered_flag: done in Jira: remove it?"
}
