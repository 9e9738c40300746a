package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/code-releaser/code-releaser/integrations/gitrepo"
	"github.com/code-releaser/code-releaser/workflow"
)

// app is the workflow wired for one terminal command (see wire), with
// the text notifier.
type app struct {
	cfg    config
	repo   *gitrepo.Mirror
	svc    *workflow.Service
	notify *textNotifier
	close  func() // releases the store and the mirror
}

// newApp wires the workflow for a terminal command printing to out.
func newApp(ctx context.Context, log *slog.Logger, cfg config, out io.Writer) (*app, error) {
	n := newTextNotifier(out)
	w, err := wire(ctx, log, cfg, wireOptions{notifier: func(workflow.Store) workflow.Notifier { return n }})
	if err != nil {
		return nil, err
	}
	return &app{cfg: cfg, repo: w.repo, svc: w.svc, notify: n, close: w.close}, nil
}

// cliLogger is the operator's log on stderr: warnings and errors only, so
// that stdout stays what the channel would show.
func cliLogger(e *env) *slog.Logger {
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// parseFlags splits args into positional arguments and --name VALUE /
// --name=VALUE options; "--" ends the options. valued lists the options
// that take a value, the others are boolean.
func parseFlags(args []string, valued, boolean []string) (pos []string, opts map[string]string, err error) {
	opts = map[string]string{}
	isIn := func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case isIn(valued, name):
			if !hasVal {
				if i+1 >= len(args) {
					return nil, nil, usageError{fmt.Sprintf("--%s needs a value", name)}
				}
				i++
				val = args[i]
			}
			opts[name] = val
		case isIn(boolean, name) && !hasVal:
			opts[name] = "true"
		default:
			return nil, nil, usageError{fmt.Sprintf("unknown option %q (put -- before a ticket that starts with a dash)", a)}
		}
	}
	return pos, opts, nil
}

// failWith prints err's user message and returns the exit status for it:
// 2 for invalid input or a refusal of the user, 1 for anything else.
func failWith(e *env, cmd string, err error) error {
	msg := workflow.UserMessage(err)
	if msg == "" || workflow.KindOf(err) == workflow.Internal {
		msg = err.Error()
	}
	fmt.Fprintf(e.stderr, "code-releaser %s: %s\n", cmd, msg)
	switch workflow.KindOf(err) {
	case workflow.Invalid, workflow.Forbidden:
		return exitError{2}
	}
	return exitError{1}
}

// runRelease is `release TICKET ENV --as USER [--override-soak REASON]
// --config FILE`. --override-soak is Slack's break-glass (/release T prod
// --override-soak "why"): the workflow lets only the env's approvers ask,
// with a reason, and journals and audits it; from here the --as user is
// self-declared, which the journal and the trail say.
func runRelease(ctx context.Context, e *env, args []string) error {
	pos, opts, err := parseFlags(args, []string{"as", "config", overrideSoakOpt}, nil)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageError{"need a ticket and an env"}
	}
	if opts["as"] == "" {
		return usageError{"--as USER is required: who is releasing?"}
	}
	override, overriding := opts[overrideSoakOpt]
	if overriding && strings.TrimSpace(override) == "" {
		return usageError{"--" + overrideSoakOpt + " needs a reason: --" + overrideSoakOpt + " \"why it cannot wait\""}
	}
	cfg, err := loadConfig(opts["config"], e.dir, e.getenv)
	if err != nil {
		if errors.As(err, new(usageError)) {
			return err
		}
		fmt.Fprintf(e.stderr, "code-releaser release: %s\n", err)
		return exitError{2}
	}
	a, err := newApp(ctx, cliLogger(e), cfg, e.stdout)
	if err != nil {
		return failWith(e, "release", err)
	}
	defer a.close()
	return a.release(ctx, e, workflow.ReleaseRequest{Ticket: pos[0], Env: pos[1], User: workflow.User{ID: opts["as"], Via: workflow.ViaTerminal}, OverrideSoak: override})
}

// overrideSoakOpt is release's break-glass option (see runRelease).
const overrideSoakOpt = "override-soak"

// release runs one release and maps its outcome to an exit status.
func (a *app) release(ctx context.Context, e *env, req workflow.ReleaseRequest) error {
	if err := a.requireApprovalsShared(req.Env); err != nil {
		return failWith(e, "release", err)
	}
	rec, err := a.svc.Release(ctx, req)
	if err != nil {
		if rec.ID == "" {
			// Refused before anything started: the notifier saw nothing.
			return failWith(e, "release", err)
		}
		fmt.Fprintf(e.stderr, "code-releaser release: %s %s to %s: %s\n", rec.State, rec.Ticket, rec.Env, oneLineErr(err))
		return exitError{1}
	}
	return nil
}

func oneLineErr(err error) string {
	if m := workflow.UserMessage(err); m != "" {
		return m
	}
	return err.Error()
}

// runStatus is `status [ENV] --config FILE`, reconstructed from git.
func runStatus(ctx context.Context, e *env, args []string) error {
	pos, opts, err := parseFlags(args, []string{"config"}, nil)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError{"at most one env"}
	}
	a, err := openApp(ctx, e, opts["config"], "status")
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.repo.Fetch(ctx); err != nil {
		return failWith(e, "status", err)
	}
	if err := a.printStatus(ctx, e.stdout, pos...); err != nil {
		return failWith(e, "status", err)
	}
	return nil
}

// openApp loads the config and builds the app, mapping failures to exit
// statuses.
func openApp(ctx context.Context, e *env, path, cmd string) (*app, error) {
	cfg, err := loadConfig(path, e.dir, e.getenv)
	if err != nil {
		if errors.As(err, new(usageError)) {
			return nil, err
		}
		fmt.Fprintf(e.stderr, "code-releaser %s: %s\n", cmd, err)
		return nil, exitError{2}
	}
	a, err := newApp(ctx, cliLogger(e), cfg, e.stdout)
	if err != nil {
		return nil, failWith(e, cmd, err)
	}
	return a, nil
}

// printStatus prints the env branches' tips and their occupants as git
// shows them: the bot's release merges on release/<env> not in the
// production branch, whose ticket is not in it either.
func (a *app) printStatus(ctx context.Context, w io.Writer, names ...string) error {
	envs := a.svc.Envs()
	if len(names) > 0 {
		envs = nil
		for _, n := range names {
			env, err := a.svc.Env(n)
			if err != nil {
				return err
			}
			envs = append(envs, env)
		}
	}
	prodBranch := a.svc.ProductionBranch()
	master, ok, err := a.repo.Tip(ctx, prodBranch)
	if err != nil {
		return err
	}
	if !ok {
		return workflow.Errorf("status", workflow.NotFound, "the remote has no %s branch", prodBranch)
	}
	fmt.Fprintf(w, "(status from git: occupants are the bot's release merges in each env branch that are not in %s)\n", prodBranch)
	for _, env := range envs {
		if env.Production {
			fmt.Fprintf(w, "%-8s %s @ %s (prod deploys %s)\n", env.Name, prodBranch, shortSHA(master), prodBranch)
			continue
		}
		tip, ok, err := a.repo.Tip(ctx, env.Branch)
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintf(w, "%-8s %s does not exist yet: nothing released\n", env.Name, env.Branch)
			continue
		}
		occ, err := a.svc.OccupantsInGit(ctx, master, tip)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%-8s %s @ %s, %d ticket(s) not in %s\n", env.Name, env.Branch, shortSHA(tip), len(occ), prodBranch)
		ten, err := a.svc.Tenancies(ctx, env, occ)
		if err != nil {
			return err
		}
		for _, o := range occ {
			fmt.Fprintf(w, "           %-10s released by @%s (release %s, merge %s)%s\n", o.Ticket, o.By, o.ReleaseID, shortSHA(o.MergeSHA), cliExpiry(ten[o.Ticket]))
		}
	}
	return nil
}

// runHistory is `history ENV [N] --config FILE`, read from git.
func runHistory(ctx context.Context, e *env, args []string) error {
	pos, opts, err := parseFlags(args, []string{"config"}, nil)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return usageError{"need an env and optionally a count"}
	}
	n := 10
	if len(pos) == 2 {
		if n, err = strconv.Atoi(pos[1]); err != nil || n < 1 {
			return usageError{fmt.Sprintf("%q is not a positive count", pos[1])}
		}
	}
	a, err := openApp(ctx, e, opts["config"], "history")
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.repo.Fetch(ctx); err != nil {
		return failWith(e, "history", err)
	}
	if err := a.printHistory(ctx, e.stdout, pos[0], n); err != nil {
		return failWith(e, "history", err)
	}
	return nil
}

// printHistory lists the bot's last n merges on the env branch, newest
// first.
func (a *app) printHistory(ctx context.Context, w io.Writer, name string, n int) error {
	env, err := a.svc.Env(name)
	if err != nil {
		return err
	}
	if err := a.printStoreHistory(ctx, w, env.Name, n); err != nil {
		return err
	}
	if env.Production {
		fmt.Fprintf(w, "%s deploys %s: it has no release merges of its own\n", env.Name, a.svc.ProductionBranch())
		return nil
	}
	tip, ok, err := a.repo.Tip(ctx, env.Branch)
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintf(w, "%s does not exist yet: nothing released to %s\n", env.Branch, env.Name)
		return nil
	}
	commits, err := a.repo.Log(ctx, "", tip)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "(history from git: the bot's merges on %s, newest first)\n", env.Branch)
	shown := 0
	for _, c := range commits {
		if shown == n {
			break
		}
		if !workflow.IsReleaseMerge(c.Message) {
			continue
		}
		shown++
		who := ""
		if m, ok := workflow.ParseReleaseMerge(c); ok {
			who = " for @" + m.By
		}
		fmt.Fprintf(w, "%s %s %s%s\n", c.When.UTC().Format("2006-01-02 15:04"), shortSHA(c.SHA), c.Subject, who)
	}
	if shown == 0 {
		fmt.Fprintf(w, "no release merges on %s\n", env.Branch)
	}
	return nil
}
