package bot

import "time"

// Metrics receives what the bot counts; the composition root exports it
// (Prometheus in cmd/code-releaser). A nil Metrics counts nothing.
type Metrics interface {
	// Envelope is one envelope handled: its kind, how it ended (ok,
	// error, duplicate, refused, panic, ignored) and how long its ack
	// took from receipt.
	Envelope(kind, outcome string, ack time.Duration)
	// InFlight moves the number of envelopes being worked on.
	InFlight(delta int)
	// APICall is one Web API call: ok, error or rate_limited.
	APICall(method, outcome string)
	// Connected says whether the socket is up (hello received).
	Connected(up bool)
}

type nopMetrics struct{}

func (nopMetrics) Envelope(string, string, time.Duration) {}
func (nopMetrics) InFlight(int)                           {}
func (nopMetrics) APICall(string, string)                 {}
func (nopMetrics) Connected(bool)                         {}
