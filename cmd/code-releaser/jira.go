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

// withJira returns the workflow's Tickets and Notifier: without jira.url,
// every well-formed ticket passes unchecked and nothing is written back;
// with it, tickets are looked up in Jira and releases written back to them.
// It does no I/O; the serve command should also call Preflight at start.
func withJira(log *slog.Logger, cfg config, n workflow.Notifier) (workflow.Tickets, workflow.Notifier, *jira.Client, error) {
	if cfg.Jira.URL == "" {
		return workflow.UncheckedTickets{}, n, nil, nil
	}
	c, err := jira.New(log, cfg.jiraConfig())
	if err != nil {
		return nil, nil, nil, err
	}
	return c, workflow.RecordTickets(log, n, c, 0), c, nil
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
