package jira

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"

	gojira "github.com/andygrunwald/go-jira"

	"github.com/code-releaser/code-releaser/workflow"
)

// lookupFields are the only fields Lookup asks for.
const lookupFields = "summary,issuetype,status,assignee"

// checkKey validates a key before it goes into any URL: whatever the
// caller's TicketKey holds, only PROJECT-123 reaches Jira (no blanks,
// slashes, dots, escapes or non-ASCII digits).
func checkKey(op string, key workflow.TicketKey) (workflow.TicketKey, error) {
	k, err := workflow.ParseTicketKey(string(key))
	if err != nil {
		return "", workflow.Wrap(op, workflow.Invalid, workflow.UserMessage(err), err)
	}
	return k, nil
}

// issuePath is the REST path of an issue; k is a checked key.
func issuePath(k workflow.TicketKey, rest string) string {
	return "rest/api/2/issue/" + url.PathEscape(string(k)) + rest
}

// Lookup implements workflow.Tickets: it returns the ticket with its
// summary, type, status and status category, assignee and browse URL. A
// ticket that does not exist or that the bot cannot see is NotFound; Jira
// down is Unavailable, unless AllowUnvalidated, when the ticket comes back
// Unverified with only its key.
func (c *Client) Lookup(ctx context.Context, key workflow.TicketKey) (workflow.Ticket, error) {
	const op = "jira.lookup"
	k, err := checkKey(op, key)
	if err != nil {
		return workflow.Ticket{}, err
	}
	var is gojira.Issue
	err = c.call(ctx, op, string(k), http.MethodGet, issuePath(k, "?fields="+lookupFields), nil, &is)
	if err != nil {
		if c.cfg.AllowUnvalidated && isDown(err) {
			c.log.Warn("jira down: ticket not validated", slog.String("ticket", string(k)), slog.Any("err", err))
			return workflow.Ticket{
				Key: k, URL: c.browseURL(k),
				Unverified: "Jira could not be asked (" + workflow.UserMessage(err) + "), so the ticket was not validated",
			}, nil
		}
		return workflow.Ticket{}, err
	}
	t := workflow.Ticket{Key: k}
	// A moved issue answers with its new key.
	if nk, err := workflow.ParseTicketKey(is.Key); err == nil {
		t.Key = nk
	}
	t.URL = c.browseURL(t.Key)
	if f := is.Fields; f != nil {
		t.Summary = f.Summary
		t.Type = f.Type.Name
		if f.Status != nil {
			t.Status = f.Status.Name
			t.StatusCategory = f.Status.StatusCategory.Key
		}
		if a := f.Assignee; a != nil {
			t.Assignee = firstNonEmpty(a.DisplayName, a.Name, a.AccountID)
		}
	}
	if t.StatusCategory == "" {
		return workflow.Ticket{}, workflow.Errorf(op, workflow.Unavailable,
			"Jira's answer for %s has no status category; is jira.url Jira's REST base URL?", k)
	}
	return t, nil
}

// browseURL is the page of a ticket, "" when BrowseURL is unknown.
func (c *Client) browseURL(k workflow.TicketKey) string {
	if c.cfg.BrowseURL == "" {
		return ""
	}
	return c.cfg.BrowseURL + "/browse/" + string(k)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
