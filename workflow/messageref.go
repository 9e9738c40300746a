package workflow

// MessageRef is where a release or an approval request was told in chat,
// kept in the shared Store so that whichever replica runs the release
// next edits the same message and replies in the same thread.
type MessageRef struct {
	Channel string
	TS      string // the message; "" while only the channel is known
	Thread  string // the thread to reply in; "" means TS
	// Text is the message's text as first posted, for edits that keep it
	// (an approval request's preview); optional.
	Text string
}

// ThreadTS returns the thread to reply in.
func (m MessageRef) ThreadTS() string {
	if m.Thread != "" {
		return m.Thread
	}
	return m.TS
}
