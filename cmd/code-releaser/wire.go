package main

import (
	"context"
	"log/slog"

	"github.com/code-releaser/code-releaser/integrations/gitrepo"
	"github.com/code-releaser/code-releaser/integrations/jira"
	"github.com/code-releaser/code-releaser/workflow"
)

// wiring is the workflow as every command builds it, serve and the
// terminal ones alike: the git mirror, the store (Redis when the redis
// section names one, else in memory), the tickets (Jira when jira.url is
// set, else unchecked), the deployer and the Service over them, its
// occupants reconciled with git. close releases the store and the mirror.
type wiring struct {
	repo    *gitrepo.Mirror
	store   workflow.Store
	tickets workflow.Tickets
	jira    *jira.Client // nil without jira.url
	svc     *workflow.Service
	close   func()
}

// wireOptions is where the commands differ.
type wireOptions struct {
	// notifier returns the command's Notifier once the store is open (the
	// Slack one keeps its messages' places in it). With Jira, finished
	// releases are also written back to their tickets.
	notifier func(workflow.Store) workflow.Notifier
	// serve: Jira's credentials are checked at start (not at the first
	// release), and automatic changes (an expiry) are written on tickets.
	serve bool
}

// wire builds the dependencies in order; on an error it releases what it
// had opened.
func wire(ctx context.Context, log *slog.Logger, cfg config, o wireOptions) (*wiring, error) {
	w := &wiring{close: func() {}}
	done := false
	defer func() {
		if !done {
			w.close()
		}
	}()
	var err error
	// Jira first: its configuration is checked without any I/O.
	if w.tickets, w.jira, err = openJira(log, cfg); err != nil {
		return nil, err
	}
	if w.repo, err = gitrepo.Open(ctx, log, cfg.gitConfig()); err != nil {
		return nil, err
	}
	w.close = func() { w.repo.Close() }
	st, closeStore, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	w.store = st
	w.close = func() { closeStore(); w.repo.Close() }
	notifier := o.notifier(st)
	deps := workflow.Deps{Repo: w.repo, Tickets: w.tickets, Store: st}
	if w.jira != nil {
		notifier = workflow.RecordTickets(log, notifier, w.jira, 0)
		if o.serve {
			if _, err := w.jira.Preflight(ctx); err != nil {
				return nil, err
			}
			deps.Commenter = w.jira // expiries are written on the ticket
		}
	}
	deps.Notifier = notifier
	if deps.Deployer, err = newDeployer(log, cfg, w.repo); err != nil {
		return nil, err
	}
	if w.svc, err = workflow.NewService(log, cfg.workflowConfig(), deps); err != nil {
		return nil, err
	}
	reconcileStore(ctx, log, w.svc)
	done = true
	return w, nil
}
