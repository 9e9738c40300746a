package bot

import (
	"context"
	"time"

	"github.com/slack-go/slack"

	"github.com/code-releaser/code-releaser/workflow"
)

// Kind says what reached the bot.
type Kind string

// The kinds of requests.
const (
	KindCommand Kind = "command" // a /release slash command
	KindAction  Kind = "action"  // a button click (block_actions)
	KindEvent   Kind = "event"   // an Events API event (app_home_opened)
)

// Request is one envelope from Slack, in the bot's own terms.
type Request struct {
	Kind        Kind
	EnvelopeID  string
	Trigger     string // a command's or click's trigger_id: the same on every delivery
	Retry       int    // Events API retry_attempt
	Team, App   string
	User        workflow.User
	Channel     string // where the command was typed or the button lives
	Text        string // a command's text
	Args        Args   // a command's arguments, once parsed
	ResponseURL string
	Action      Action // for KindAction
	Event       Event  // for KindEvent
	Received    time.Time

	toldRetrying bool // the user was told the bot retries (retryUnavailable)
}

// Action is one click.
type Action struct {
	ID        string // the button's action_id
	Value     string // the button's value: a release ID, an env, ...
	MessageTS string // the message the button is in, when in a message
	TS        string // action_ts: when this click happened, the same on every delivery
}

// Event is one Events API event.
type Event struct {
	Type string // app_home_opened
	Tab  string // home, messages
}

// Reply is what a handler answers. An empty Reply sends nothing.
type Reply struct {
	Text   string        // fallback text, or the whole message
	Blocks []slack.Block // optional Block Kit body
	// Public posts the reply in the channel instead of to the user only.
	Public bool
	// ReplaceOriginal replaces the message a clicked button lives in.
	ReplaceOriginal bool
}

// Empty reports whether r has nothing to send.
func (r Reply) Empty() bool { return r.Text == "" && len(r.Blocks) == 0 }

// Handler is the one shape of the bot's handlers.
type Handler func(ctx context.Context, req *Request) (Reply, error)

// textReply is a plain reply to the user.
func textReply(format string) Reply { return Reply{Text: format} }
