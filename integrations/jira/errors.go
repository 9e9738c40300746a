package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
)

// StatusError is the operator's side of a failed Jira request: the status,
// the endpoint and what Jira said. It is the Err of the *workflow.Error
// the client returns.
type StatusError struct {
	Method, Path string
	Status       int
	RetryAfter   time.Duration // from a 429/503, 0 when absent
	Detail       string        // Jira's errorMessages/errors, or the start of its body
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("%s %s: HTTP %d", e.Method, e.Path, e.Status)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// classify turns Jira's answer to a request about subject ("OPS-1", "the
// bot's account") into a workflow error a person can act on.
func classify(op, subject string, se *StatusError) *workflow.Error {
	var (
		kind workflow.Kind
		msg  string
	)
	switch s := se.Status; {
	case s == http.StatusUnauthorized:
		kind = workflow.Unavailable
		msg = "Jira rejected Code-Releaser's credentials (HTTP 401): JIRA_API_TOKEN is wrong, revoked or expired (Cloud API tokens last at most a year), or jira.email does not match it; an admin must renew it"
	case s == http.StatusForbidden:
		kind = workflow.Forbidden
		msg = fmt.Sprintf("Code-Releaser's Jira account may not do this on %s (HTTP 403)%s; a Jira admin must grant it the project's Browse, Add Comments, Link Issues and Transition permissions", subject, detail(se))
	case s == http.StatusNotFound:
		kind = workflow.NotFound
		msg = fmt.Sprintf("%s does not exist in Jira, or Code-Releaser's Jira account cannot see it (HTTP 404); check the key, or ask a Jira admin to let the account browse its project", subject)
	case s == http.StatusGone:
		kind = workflow.Unavailable
		msg = fmt.Sprintf("Jira no longer serves the API Code-Releaser called (HTTP 410 on %s %s); Code-Releaser needs an update", se.Method, se.Path)
	case s == http.StatusTooManyRequests:
		kind = workflow.Unavailable
		msg = "Jira is rate limiting Code-Releaser (HTTP 429)"
		if se.RetryAfter > 0 {
			msg += fmt.Sprintf("; try again in %s", roundUp(se.RetryAfter))
		} else {
			msg += "; try again in a minute"
		}
	case s >= 500:
		kind = workflow.Unavailable
		msg = fmt.Sprintf("Jira is not working right now (HTTP %d); try again in a few minutes, and check Jira's status page if it lasts", s)
	case s == http.StatusBadRequest:
		kind = workflow.Invalid
		msg = fmt.Sprintf("Jira refused the request about %s (HTTP 400)%s", subject, detail(se))
	default:
		kind = workflow.Internal
		msg = fmt.Sprintf("Jira answered HTTP %d about %s", s, subject)
	}
	return &workflow.Error{Op: op, Kind: kind, Msg: msg, Err: se}
}

// noAnswer marks a request that got no answer from Jira.
type noAnswer struct{ err error }

func (e noAnswer) Error() string { return e.err.Error() }
func (e noAnswer) Unwrap() error { return e.err }

// transportError is the error of a request that got no answer.
func transportError(ctx context.Context, op string, err error) *workflow.Error {
	if ctx.Err() != nil {
		return workflow.Wrap(op, workflow.Unavailable, "the Jira request was cancelled or took too long", err)
	}
	return workflow.Wrap(op, workflow.Unavailable, "Jira cannot be reached; try again in a few minutes", noAnswer{err})
}

// isDown reports whether err says Jira itself is down (no answer, a 5xx,
// rate limiting) rather than refusing the bot or the ticket: the one
// predicate that decides whether a release may go on unvalidated.
func isDown(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status >= 500 || se.Status == http.StatusTooManyRequests
	}
	return errors.As(err, new(noAnswer))
}

// detail formats Jira's own words for a user message.
func detail(se *StatusError) string {
	if se.Detail == "" {
		return ""
	}
	return ": " + se.Detail
}

// jiraMessage extracts Jira's error messages from a body: the JSON
// {"errorMessages": [...], "errors": {...}} of the REST API, else the
// start of a text body.
func jiraMessage(body []byte) string {
	var je struct {
		ErrorMessages []string          `json:"errorMessages"`
		Errors        map[string]string `json:"errors"`
		Message       string            `json:"message"`
	}
	if json.Unmarshal(body, &je) == nil {
		parts := append([]string(nil), je.ErrorMessages...)
		for _, k := range slices.Sorted(maps.Keys(je.Errors)) {
			parts = append(parts, k+": "+je.Errors[k])
		}
		if je.Message != "" {
			parts = append(parts, je.Message)
		}
		return clip(strings.Join(parts, "; "), 300)
	}
	s := strings.TrimSpace(string(body))
	if strings.HasPrefix(s, "<") {
		return "" // an HTML error page says nothing useful in a message
	}
	return clip(s, 300)
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// roundUp rounds d up to whole seconds, for people.
func roundUp(d time.Duration) time.Duration {
	return (d + time.Second - 1) / time.Second * time.Second
}
