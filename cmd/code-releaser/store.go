package main

import (
	"context"
	"log/slog"

	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/workflow"
)

// openStore returns the workflow's shared state: Redis when the redis
// section names one (url, sentinel or cluster; the passwords from
// REDIS_PASSWORD and SENTINEL_PASSWORD), else an in-memory store whose
// state dies with the process. close releases it.
func openStore(ctx context.Context, cfg config) (st workflow.Store, close func(), err error) {
	if !cfg.Redis.shared() {
		return redactingStore{store.NewMemory(workflow.SystemClock{}), cfg.secrets}, func() {}, nil
	}
	target, err := cfg.redisTarget()
	if err != nil {
		return nil, nil, err
	}
	var envs []string
	for _, e := range cfg.Environments {
		envs = append(envs, e.Name)
	}
	r, err := store.Dial(ctx, target, store.RedisOptions{Prefix: cfg.Redis.Prefix, EpochEnvs: envs})
	if err != nil {
		return nil, nil, err
	}
	return redactingStore{r, cfg.secrets}, func() { r.Close() }, nil
}

// requireSharedState refuses, before anything happens, a command whose
// whole effect is state other processes must see (a hold, a cancel, a
// vote) when there is no redis.url: this process's in-memory store ends
// with it, so the command would report success and change nothing. What a
// release needs from the env (its occupants) is read from git instead.
func requireSharedState(cfg config, cmd, what string) error {
	if cfg.Redis.shared() {
		return nil
	}
	return workflow.Errorf(cmd, workflow.Invalid,
		"%s needs the state the bot shares (%s), and this config has no redis section: without it the state lives in this process only and ends with it. Point redis (url, sentinel or cluster) at the bot's Redis, or use /release %s in Slack",
		cmd, what, cmd)
}

// sharedStateOf says what each command that only changes shared state
// keeps there; "" for the commands that work without it.
func sharedStateOf(cmd string) string {
	switch cmd {
	case "hold", "unhold":
		return "the env's hold"
	case "cancel":
		return "the env's queue"
	case "approve", "reject":
		return "the pending prod approvals"
	case "rollback":
		return "the release's record"
	}
	return ""
}

// requireApprovalsShared refuses a release to an env that needs approvals
// when there is no redis.url: nobody else could ever see the request, let
// alone approve it, and the release would wait until it expired.
func (a *app) requireApprovalsShared(envName string) error {
	env, err := a.svc.Env(envName)
	if err != nil || !env.Production || env.Approvals.Required == 0 {
		return nil // a bad env is the release's to report
	}
	return requireSharedState(a.cfg, "release", "a prod release waits for approvals that another process gives")
}

// reconcileStore starts a process from git's truth when the store is new
// or lost its data (always so for the in-memory store): the occupants of
// every env are rebuilt from the env branches. A failure is logged and
// does not stop the process; releases read the occupants from git anyway.
func reconcileStore(ctx context.Context, log *slog.Logger, svc *workflow.Service) {
	if _, err := svc.Reconcile(ctx); err != nil {
		log.Warn("rebuild the occupants from git", slog.Any("err", err))
	}
}
