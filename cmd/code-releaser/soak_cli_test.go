package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/store/redistest"
	"github.com/code-releaser/code-releaser/workflow"
)

// TestReleaseOverrideSoakFromTheTerminal: the CLI's break-glass is
// Slack's. prod requires 2h in stg; right after stg a prod release is
// refused by the soak; --override-soak needs a reason and an approver
// (--as, as the other commands take it); an approver's override goes on
// to the approvals, is journalled and audited with the reason marked as
// from the terminal, printed as the thread would show it, and the release
// deploys once another approver approves from another terminal.
func TestReleaseOverrideSoakFromTheTerminal(t *testing.T) {
	gittest.RequireGit(t)
	rs := redistest.Dedicated(t, redistest.Options{})
	prefix := redistest.Prefix(t) + ":"
	remote := gittest.NewRemote(t, "", "infra")
	w := remote.Clone(t)
	w.Git(t, "checkout", "-q", "-b", "master")
	w.Commit(t, "initial", map[string]string{"stacks/network.yml": "a: 1\n"})
	w.Push(t, "master")
	w.Branch(t, "OPS-1", "master")
	w.Commit(t, "OPS-1: faster payments", map[string]string{"stacks/network.yml": "a: 2\n"})
	w.Push(t, "OPS-1")
	dir := t.TempDir()
	cfg := "repo: {url: " + remote.URL() + ", cache_dir: " + filepath.Join(dir, "cache") + "}\n" +
		"redis: {url: \"redis://" + rs.Addr + "/0\", prefix: \"" + prefix + "\"}\n" +
		"environments:\n  - {name: stg}\n" +
		"  - {name: prod, production: true, requires_env: stg, soak: 2h, approvals: {required: 1, approvers: [U0DAVE, U0ERIN]}}\n"
	// The approvers' terminal is another machine: its own cache dir (a
	// cache dir serves one process at a time).
	other := strings.Replace(cfg, filepath.Join(dir, "cache"), filepath.Join(dir, "cache-approver"), 1)
	for name, c := range map[string]string{"c.yml": cfg, "approver.yml": other} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, dir, nil, append(args, "--config", "c.yml")...)
	}
	approver := func(args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, dir, nil, append(args, "--config", "approver.yml")...)
	}
	if code, out, errs := cli("release", "OPS-1", "stg", "--as", "U0DAVE"); code != 0 {
		t.Fatalf("release to stg: exit %d\n%s\n%s", code, out, errs)
	}
	w.Git(t, "checkout", "-q", "master")
	w.Git(t, "merge", "-q", "--no-ff", "-m", "Merge pull request #1 from OPS-1", "OPS-1")
	w.Push(t, "master")

	ctx := t.Context()
	st, err := store.DialRedis(ctx, "redis://"+rs.Addr+"/0", "", store.RedisOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	prodEvents := func() []workflow.Event {
		t.Helper()
		evs, err := st.Events(ctx, "prod", 0)
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}

	// Refused before anything is recorded: no reason, or not an approver.
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no reason", []string{"--as", "U0DAVE", "--override-soak", " "}, "--override-soak needs a reason"},
		{"no value", []string{"--as", "U0DAVE", "--override-soak"}, "--override-soak needs a value"},
		{"not an approver", []string{"--as", "U0MALLORY", "--override-soak", "payments are down"}, "only prod's approvers may override its soak, and U0MALLORY is not one of them"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, dir, nil, append([]string{"release", "OPS-1", "prod", "--config", "c.yml"}, tc.args...)...)
			if code != 2 || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q\n%s", code, errs, tc.want, out)
			}
		})
	}
	if evs := prodEvents(); len(evs) != 0 {
		t.Fatalf("refused overrides left prod's history %+v", evs)
	}

	// Without the override, the gate refuses and says how to override.
	code, out, errs := cli("release", "OPS-1", "prod", "--as", "U0DAVE")
	if code != 1 || !strings.Contains(errs, "deployed and verified in stg for 2h") || !strings.Contains(errs, "code-releaser release OPS-1 prod --override-soak \"why\" --as APPROVER") {
		t.Fatalf("release short of the soak: exit %d\n%s\n%s", code, out, errs)
	}

	// An approver overrides: the release waits for another approver.
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	rctx, stop := context.WithCancel(context.Background())
	defer func() { stop(); <-done }() // the release leaves with its lease and the cache dir's lock
	go func() {
		done <- run(rctx, []string{"release", "OPS-1", "prod", "--as", "U0DAVE", "--override-soak", "payments are down", "--config", "c.yml"},
			&env{stdout: &stdout, stderr: &stderr, getenv: noEnv, dir: dir})
	}()
	requestRE := regexp.MustCompile(`request (\S+), expires`)
	var id string
	for deadline := time.Now().Add(30 * time.Second); id == ""; time.Sleep(20 * time.Millisecond) {
		if m := requestRE.FindStringSubmatch(stdout.String()); m != nil {
			id = m[1]
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("release exited %d before asking for approval\n%s\n%s", code, stdout.String(), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no approval request after 30s\n%s\n%s", stdout.String(), stderr.String())
		}
	}
	if code, out, errs := approver("approve", id, "--as", "U0DAVE"); code != 2 || !strings.Contains(errs, "someone else has to approve it") {
		t.Errorf("the overriding requester's own approval: exit %d\n%s\n%s", code, out, errs)
	}
	if code, out, errs := approver("approve", id, "--as", "U0ERIN"); code != 0 {
		t.Fatalf("approve: exit %d\n%s\n%s", code, out, errs)
	}
	select {
	case code := <-done:
		done <- code
		if code != 0 {
			t.Fatalf("release with the override: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("release still running 60s after the approval\n%s", stdout.String())
	}
	via := " [via the terminal, --as U0DAVE not verified]"
	for _, want := range []string{
		`\[thread\] soak override\s+payments are down` + regexp.QuoteMeta(via),
		`\[thread\] soak\s+overridden by U0DAVE: "payments are down` + regexp.QuoteMeta(via) + `"; short of 2h in stg: OPS-1: `,
		`\[thread\] :rotating_light: @U0DAVE overrode prod's soak of 2h in stg: payments are down` + regexp.QuoteMeta(via),
		`\n\s+OPS-1: not in stg \(|\n\s+OPS-1: \d+s in stg`,
		`released OPS-1 to prod`,
	} {
		if !regexp.MustCompile(want).MatchString(stdout.String()) {
			t.Errorf("release output lacks %q:\n%s", want, stdout.String())
		}
	}

	// The journal and prod's history, in the store and in `history`.
	evs := prodEvents()
	i := slices.IndexFunc(evs, func(e workflow.Event) bool { return e.Action == workflow.ActionSoakOverridden })
	if i < 0 || evs[i].Actor != "U0DAVE" || !strings.Contains(evs[i].Detail, "payments are down"+via) {
		t.Fatalf("prod's history %+v: want a %s event by U0DAVE with the reason, marked as from the terminal", evs, workflow.ActionSoakOverridden)
	}
	rel, err := st.GetRelease(ctx, evs[i].ReleaseID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rel.Steps, func(s workflow.Step) bool {
		return s.Name == workflow.StepSoakOverride && s.Detail == "payments are down"+via
	}) {
		t.Errorf("release %s's journal %+v lacks the override", rel.ID, rel.Steps)
	}
	code, out, errs = cli("history", "prod")
	if code != 0 || !strings.Contains(out, "soak.overridden") || !strings.Contains(out, "@U0DAVE OPS-1") || !strings.Contains(out, "payments are down"+via) {
		t.Errorf("history prod: exit %d\n%s\n%s", code, out, errs)
	}
}
