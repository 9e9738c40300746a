package bot

import (
	"context"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/code-releaser/code-releaser/workflow"
)

// The handoff's buttons: "Ask to release" on the board (value env|ticket|
// release), and the owner's answer in a DM (value env|ticket|release|asker).
const (
	ActionAskRelease    = "handoff_ask"
	ActionHandoffRemove = "handoff_remove"
	ActionHandoffKeep   = "handoff_keep"
)

// maxHandoffButtons bounds the Ask buttons of one env on the board
// (an actions block holds 25 elements).
const maxHandoffButtons = 10

// handoffBlock is an env's "Ask to release" buttons on the board, nil
// when there is nobody to ask.
func (b *Bot) handoffBlock(st workflow.EnvStatus) slack.Block {
	if st.Env.Production || len(st.Occupants) == 0 {
		return nil
	}
	var buttons []slack.BlockElement
	for i, o := range st.Occupants {
		if i == maxHandoffButtons {
			break
		}
		buttons = append(buttons, button(ActionAskRelease, strings.Join([]string{st.Env.Name, string(o.Ticket), o.ReleaseID}, "|"), "Ask to release "+string(o.Ticket), ""))
	}
	return slack.NewActionBlock("handoff:"+st.Env.Name, buttons...)
}

func parseHandoffValue(v string, n int) ([]string, error) {
	parts := strings.Split(v, "|")
	if len(parts) != n {
		return nil, workflow.Errorf("click", workflow.Invalid, "this button is not a handoff's; nothing was changed")
	}
	return parts, nil
}

// askRelease is the board's Ask to release: the owner gets a DM with
// Remove it / Keep it; the asker is told the answer when it comes.
func (b *Bot) askRelease(ctx context.Context, req *Request) (Reply, error) {
	p, err := parseHandoffValue(req.Action.Value, 3)
	if err != nil {
		return Reply{}, err
	}
	env, ticket, rel := p[0], p[1], p[2]
	o, err := b.d.Occupancy.AskRelease(ctx, env, ticket, rel, req.User)
	if err != nil {
		return Reply{}, err
	}
	if !isSlackUserID(o.By) {
		return Reply{}, workflow.Errorf("ask", workflow.Invalid, "%s was released by %s from the terminal; ask them outside Slack", o.Ticket, mention(o.By))
	}
	dm, err := b.client.openDM(ctx, o.By)
	if err != nil {
		return Reply{}, err
	}
	text := fmt.Sprintf(":wave: %s asks you to take *%s* out of *%s* (it has been there since %s).", mention(req.User.ID), o.Ticket, env, when(o.At))
	v := strings.Join([]string{env, ticket, rel, req.User.ID}, "|")
	blocks := []slack.Block{section(text), slack.NewActionBlock("handoff",
		button(ActionHandoffRemove, v, "Remove it", slack.StyleDanger),
		button(ActionHandoffKeep, v, "Keep it", ""),
	)}
	if _, err := b.client.post(ctx, message{channel: dm, text: text, blocks: blocks}); err != nil {
		return Reply{}, err
	}
	return textReply(fmt.Sprintf("Asked %s to take *%s* out of *%s*; you will get their answer here.", mention(o.By), o.Ticket, env)), nil
}

// answerRelease is the owner's Remove it / Keep it; the asker is told.
func (b *Bot) answerRelease(remove bool) Handler {
	return func(ctx context.Context, req *Request) (Reply, error) {
		p, err := parseHandoffValue(req.Action.Value, 4)
		if err != nil {
			return Reply{}, err
		}
		env, ticket, rel, asker := p[0], p[1], p[2], p[3]
		c, err := b.d.Occupancy.AnswerRelease(withOrigin(ctx, req), env, ticket, rel, asker, remove, req.User)
		if err != nil {
			return Reply{}, err
		}
		tell := fmt.Sprintf(":ok_hand: %s keeps *%s* in *%s* for now.", mention(req.User.ID), ticket, env)
		reply := fmt.Sprintf("You keep *%s* in *%s*; %s was told.", ticket, env, mention(asker))
		if remove {
			tell = fmt.Sprintf(":outbox_tray: %s took *%s* out of *%s* as you asked: `%s` is master plus %s.", mention(req.User.ID), ticket, env, shortSHA(c.SHA), orNone(occupantList(c.Stayed), "nothing else"))
			reply = fmt.Sprintf(":outbox_tray: *%s* left *%s*; %s was told.", ticket, env, mention(asker))
		}
		if isSlackUserID(asker) {
			dm, err := b.client.openDM(ctx, asker)
			if err == nil {
				_, err = b.client.post(ctx, message{channel: dm, text: tell})
			}
			if err != nil {
				reply = fmt.Sprintf("%s (but %s could not be told: %s)", strings.TrimSuffix(reply, " was told."), mention(asker), workflow.UserMessage(err))
			}
		}
		return Reply{ReplaceOriginal: true, Text: reply}, nil
	}
}
