// Command code-releaser is the Code-Releaser bot and its command-line tools:
// the Slack bot (serve), the release workflow from a terminal, the local
// demo, and the merge engine as `merge-tree`. main is the only composition
// root: it loads the config, builds the adapters and wires them together.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// env carries what a subcommand may touch of the process: no globals.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	dir            string // working directory
}

// command is one subcommand.
type command struct {
	name    string
	usage   string // arguments
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// exitError carries an exit status without an error message of its own
// (merge-tree exits 1 on conflicts, as git does).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// usageError is a mistake on the command line: printed with the usage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func commands() map[string]command {
	table := map[string]command{}
	for _, c := range []command{
		{"merge-tree", "[--name-only] OURS THEIRS", "merge two commits in the current repository, like git merge-tree --write-tree", runMergeTree},
		{"version", "", "print build information", runVersion},
		{"release", "TICKET ENV --as USER [--override-soak REASON] --config FILE", "merge a ticket into an env branch, push and deploy it (prod: ask for approval; an approver may override the soak with a reason)", runRelease},
		{"status", "[ENV] --config FILE", "env branches and the tickets in them, from git", runStatus},
		{"history", "ENV [N] --config FILE", "the last N releases to an env, from git", runHistory},
		{"demo", "[--keep] [--dir DIR]", "play the release story on a sample repo in a temp dir", runDemo},
		{"deploy", "ENV [--ref R] [--plan] [--all] --as USER --config FILE", "deploy (or preview) a branch or commit to an env's AWS account under its lease (envs with approvals: release instead)", runDeploy},
		{"diff", "ENV --config FILE", "the env branch, the commit each stack was last deployed from (its tags), master, and the tickets in each", runDiff},
		{"drift", "ENV --config FILE", "CloudFormation drift detection on the env's stacks: resources changed outside the deploys", runDrift},
		{"serve", "--config FILE [--listen ADDR]", "the Slack bot (Socket Mode), /healthz, /readyz, /metrics", runServe},
		{"reset", "ENV --as USER --config FILE", "make the env branch master again; its tickets leave it", runReset},
		{"remove", "TICKET ENV [--reason TEXT] --as USER --config FILE", "rebuild the env branch from master and the other tickets", runRemove},
		{"rollback", "(RELEASE | TICKET ENV) --as USER --config FILE", "undo a release (or a ticket's last one): the env as before it, with a new commit (prod: its previous deploy, once approved) (shared store)", runRollback},
		{"hold", "ENV [REASON] [--until T] --as USER --config FILE", "freeze an env: releases queue (shared store)", runHold},
		{"unhold", "ENV --as USER --config FILE", "lift an env's hold", runUnhold},
		{"cancel", "TICKET ENV --as USER --config FILE", "take a ticket's release out of an env's queue", runCancel},
		{"approve", "REQUEST --as USER --config FILE", "approve a prod approval request (shared store)", runVote(true)},
		{"reject", "REQUEST --as USER --config FILE", "reject a prod approval request (shared store)", runVote(false)},
	} {
		if _, dup := table[c.name]; dup {
			panic("duplicate command " + c.name)
		}
		table[c.name] = c
	}
	return table
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: code-releaser COMMAND [ARGS]")
	fmt.Fprintln(w, "\ncommands:")
	table := commands()
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := table[n]
		fmt.Fprintf(w, "  %-12s %-28s %s\n", c.name, c.usage, c.summary)
	}
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, e *env) int {
	if len(args) < 1 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.stdout)
		if len(args) < 1 {
			return 2
		}
		return 0
	}
	// Whatever a command prints, it prints without the secrets it knows.
	secrets := processSecrets(e.getenv)
	out, errOut := secrets.Writer(e.stdout), secrets.Writer(e.stderr)
	defer out.Flush()
	defer errOut.Flush()
	e = &env{stdout: out, stderr: errOut, getenv: e.getenv, dir: e.dir}
	c, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "code-releaser: unknown command %q\n", args[0])
		usage(e.stderr)
		return 2
	}
	err := c.run(ctx, e, args[1:])
	var ee exitError
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "code-releaser %s: %s\nusage: code-releaser %s %s\n", c.name, ue.msg, c.name, c.usage)
		return 2
	default:
		fmt.Fprintf(e.stderr, "code-releaser %s: %s\n", c.name, strings.TrimSpace(err.Error()))
		return 1
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// Secrets leave the environment before anything else runs: git and
	// command steps must not inherit them.
	getenv, problems := takeSecrets()
	for _, p := range problems {
		fmt.Fprintf(os.Stderr, "code-releaser: warning: %v\n", p)
	}
	dir, _ := os.Getwd()
	code := run(ctx, os.Args[1:], &env{stdout: os.Stdout, stderr: os.Stderr, getenv: getenv, dir: dir})
	stop()
	os.Exit(code)
}
