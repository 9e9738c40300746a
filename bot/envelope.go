package bot

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/code-releaser/code-releaser/workflow"
)

// toRequest turns a socketmode event into the bot's Request: the one
// place that reads slack-go's payload types.
func toRequest(evt socketmode.Event, received time.Time) (*Request, error) {
	env := evt.Request
	r := &Request{EnvelopeID: env.EnvelopeID, Retry: env.RetryAttempt, Received: received}
	switch data := evt.Data.(type) {
	case slack.SlashCommand:
		if data.Command != SlashCommand {
			return nil, fmt.Errorf("unknown slash command %q", data.Command)
		}
		r.Kind = KindCommand
		r.Team, r.App = data.TeamID, data.APIAppID
		r.User = workflow.User{ID: data.UserID, Name: data.UserName}
		r.Channel, r.Text, r.ResponseURL = data.ChannelID, data.Text, data.ResponseURL
		r.Trigger = data.TriggerID
	case slack.InteractionCallback:
		if data.Type != slack.InteractionTypeBlockActions || len(data.ActionCallback.BlockActions) == 0 {
			return nil, fmt.Errorf("unhandled interaction %q", data.Type)
		}
		a := data.ActionCallback.BlockActions[0]
		r.Kind = KindAction
		r.Team, r.App = data.Team.ID, data.APIAppID
		r.User = workflow.User{ID: data.User.ID, Name: data.User.Name}
		r.Channel, r.ResponseURL, r.Trigger = data.Channel.ID, data.ResponseURL, data.TriggerID
		if r.Channel == "" {
			r.Channel = data.Container.ChannelID
		}
		r.Action = Action{ID: a.ActionID, Value: a.Value, MessageTS: data.Container.MessageTs, TS: a.ActionTs}
	case slackevents.EventsAPIEvent:
		r.Kind = KindEvent
		r.Team, r.App = data.TeamID, data.APIAppID
		switch ev := data.InnerEvent.Data.(type) {
		case *slackevents.AppHomeOpenedEvent:
			r.User = workflow.User{ID: ev.User}
			r.Event = Event{Type: ev.Type, Tab: ev.Tab}
		default:
			return nil, fmt.Errorf("unhandled event %q", data.InnerEvent.Type)
		}
	default:
		return nil, fmt.Errorf("unhandled envelope %q", env.Type)
	}
	return r, nil
}

// what names the request for the log.
func (r *Request) what() string {
	switch r.Kind {
	case KindCommand:
		return SlashCommand + " " + truncate(r.Text, 60)
	case KindAction:
		return "click " + r.Action.ID
	case KindEvent:
		return r.Event.Type
	}
	return string(r.Kind)
}

// newErrorID makes the id an internal error is logged with, for people to
// quote to the operators.
func newErrorID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "E" + hex.EncodeToString(b[:])
}

func stack() string { return string(debug.Stack()) }
