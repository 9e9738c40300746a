package workflow

import (
	"errors"
	"fmt"
)

// Kind classifies an error so that callers can branch on it and the edges
// (Slack, CLI) can turn it into a sentence a person can act on.
type Kind int

// The error kinds.
const (
	Internal    Kind = iota // a bug or an unclassified failure
	Invalid                 // bad input: unknown env, malformed ticket key, bad branch name
	NotFound                // a ticket, branch or release that does not exist
	Busy                    // the env is leased, held or the ref moved under us
	Conflict                // the merge conflicts
	Forbidden               // the user may not do this
	Unavailable             // Git, Jira, AWS or the store cannot be reached
)

func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case NotFound:
		return "not found"
	case Busy:
		return "busy"
	case Conflict:
		return "conflict"
	case Forbidden:
		return "forbidden"
	case Unavailable:
		return "unavailable"
	default:
		return "internal"
	}
}

// Error is the structured error of the workflow and its adapters.
// Msg is safe to show to users (no secrets); Err is for operators.
type Error struct {
	Op   string // the operation, e.g. "release", "git.push"
	Kind Kind
	Msg  string // a sentence for the user
	Err  error  // the underlying cause, if any
}

func (e *Error) Error() string {
	s := e.Op
	if e.Msg != "" {
		if s != "" {
			s += ": "
		}
		s += e.Msg
	}
	if e.Err != nil {
		if s != "" {
			s += ": "
		}
		s += e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error with a formatted user message.
func Errorf(op string, kind Kind, format string, args ...any) *Error {
	return &Error{Op: op, Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Wrap builds an *Error around a cause.
func Wrap(op string, kind Kind, msg string, err error) *Error {
	return &Error{Op: op, Kind: kind, Msg: msg, Err: err}
}

// KindOf returns the Kind of the first *Error in err's chain, Internal if none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// UserMessage returns the first user message in err's chain, or "" if none.
func UserMessage(err error) string {
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return ""
		}
		if e.Msg != "" {
			return e.Msg
		}
		err = e.Err
	}
	return ""
}
