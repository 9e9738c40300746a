package bot

import (
	"log/slog"

	"github.com/code-releaser/code-releaser/workflow"
)

// errorReply turns err into a sentence a person can act on, once, at the
// edge. Errors without a user message, and internal ones, are logged
// with an id the user can quote.
func (b *Bot) errorReply(log *slog.Logger, err error) Reply {
	return Reply{Text: userText(log, err)}
}

// userText is the sentence for err; log receives the unclassified ones.
func userText(log *slog.Logger, err error) string {
	msg := workflow.UserMessage(err)
	kind := workflow.KindOf(err)
	if msg == "" || kind == workflow.Internal {
		id := newErrorID()
		log.Error("internal error", slog.String("id", id), slog.Any("err", err))
		return ":boom: internal error, logged as " + id
	}
	msg = sentence(people(msg))
	switch kind {
	case workflow.Unavailable:
		return ":hourglass: " + msg + " Try again in a minute; if it goes on, tell the operators."
	case workflow.Forbidden:
		return ":no_entry: " + msg + " Ask an admin of the env to add you to its allow list."
	case workflow.Busy:
		return ":traffic_light: " + msg
	case workflow.NotFound:
		return ":mag: " + msg
	}
	return ":warning: " + msg
}

// sentence ends msg with a full stop unless it ends with punctuation
// already.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	switch msg[len(msg)-1] {
	case '.', '?', '!', '`', ')':
		return msg
	}
	return msg + "."
}
