package main

import (
	"log/slog"

	"github.com/code-releaser/code-releaser/integrations/jira"
	"github.com/code-releaser/code-releaser/workflow"
)

// jiraConfig is the Jira adapter's part of the config; the token comes
// from JIRA_API_TOKEN only.
func (c config) jiraConfig() jira.Config {
	return jira.Config{
		URL:              c.Jira.URL,
		Email:            c.Jira.Email,
		Token:            c.JiraToken,
		BrowseURL:        c.Jira.BrowseURL,
		AllowUnvalidated: c.Jira.AllowUnvalidated,
		Transitions:      c.Jira.Transitions,
		// One set of remote links per infra repo.
		LinkNamespace: redactedURL(c.Repo.URL),
		LinkURL:       webURL(c.Repo.URL),
		// No comment or link carries a secret, whatever it was built from.
		Transport: redactingTransport{secrets: c.secrets},
	}
}

// openJira returns the workflow's Tickets: without jira.url, every
// well-formed ticket passes unchecked (and the client is nil); with it,
// tickets are looked up in Jira, whose client also writes releases back
// (see wire). It does no I/O; serve also calls Preflight at start.
func openJira(log *slog.Logger, cfg config) (workflow.Tickets, *jira.Client, error) {
	if cfg.Jira.URL == "" {
		return workflow.UncheckedTickets{}, nil, nil
	}
	c, err := jira.New(log, cfg.jiraConfig())
	if err != nil {
		return nil, nil, err
	}
	return c, c, nil
}

// webURL is the repo's URL for people: https without credentials or .git;
// "" for other schemes (ssh, file), which a browser cannot open.
func webURL(raw string) string {
	u := redactedURL(raw)
	if len(u) < 8 || u[:8] != "https://" {
		return ""
	}
	if len(u) > 4 && u[len(u)-4:] == ".git" {
		u = u[:len(u)-4]
	}
	return u
}
