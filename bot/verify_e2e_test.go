package bot_test

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/code-releaser/code-releaser/bot"
	"github.com/code-releaser/code-releaser/deploy"
	"github.com/code-releaser/code-releaser/deploy/cfntest"
	"github.com/code-releaser/code-releaser/workflow"
)

// healthSource is an infra repo of one stack whose spec has stg answer
// on url after each deploy.
type healthSource struct{ url string }

func (h healthSource) Files(context.Context, string) (fs.FS, error) {
	spec := "stacks:\n  web: {name: \"{env}-web\", template: web.yml}\n" +
		"envs:\n  stg:\n    verify:\n      - name: health\n        http: {url: \"" + h.url + "\", retries: 1, interval: 10ms}\n"
	return fstest.MapFS{deploy.SpecFile: {Data: []byte(spec)}, "web.yml": {Data: []byte("Resources: {T: {Type: AWS::SNS::Topic}}\n")}}, nil
}

// healthDeployer deploys healthSource's stack to the local CloudFormation;
// stg's verification GETs url.
func healthDeployer(t *testing.T, url string) *deploy.Deployer {
	t.Helper()
	srv := cfntest.New(cfntest.Options{Account: "111111111111", Region: "eu-west-1", ResourceDelay: 5 * time.Millisecond, ChangeSetDelay: 5 * time.Millisecond})
	t.Cleanup(srv.Close)
	d, err := deploy.New(slog.New(slog.NewTextHandler(io.Discard, nil)), healthSource{url}, deploy.Config{
		Envs:         map[string]deploy.EnvAWS{"stg": {Region: "eu-west-1", AccountID: "111111111111"}},
		PollInterval: 10 * time.Millisecond,
		LoadAWS:      func(ctx context.Context, _ string) (aws.Config, error) { return srv.Config(ctx) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A release whose verification fails: the Slack message shows the checks
// ran and failed, and the release fails with the check's reason.
func TestReleaseMessageShowsVerification(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer app.Close()
	d := healthDeployer(t, app.URL+"/health")
	w := prodWorld(t, d)
	w.send(t, w.slack.SlashCommand(ana, "OPS-1 stg"), 0)
	m := w.waitMessage(t, "*OPS-1* to *stg* failed")
	for _, want := range []string{
		"verification health failed: GET " + app.URL + "/health: want 200, answered 502 Bad Gateway after 2 tries",
	} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the release's message lacks %q:\n%s", want, m.Text)
		}
	}
	for _, want := range []string{":hourglass_flowing_sand: " + workflow.StepVerifying, ":x: verify:health", ":x: " + workflow.StepVerifyFailed} {
		if !strings.Contains(m.Blocks, want) {
			t.Errorf("the release's step line lacks %q:\n%s", want, m.Blocks)
		}
	}
}

// A release whose verification fails offers Roll back in its thread; the
// requester's click puts stg's branch back to before the release (a new
// commit on top), redeploys it (the checks pass again), takes the ticket
// out and tells the channel. A second click changes nothing.
func TestRollBackAFailedVerificationThroughSlack(t *testing.T) {
	var healthy atomic.Bool
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer app.Close()
	d := healthDeployer(t, app.URL+"/health")
	w := newWorld(t, options{deployer: d, envs: []workflow.Env{{Name: "dev"},
		{Name: "stg", AllowedFor: map[string][]string{workflow.ActRemove: {ben}}}}})
	healthy.Store(true)
	w.send(t, w.slack.SlashCommand(ben, "OPS-2 stg"), 0)
	w.waitMessage(t, "released *OPS-2* to *stg*")
	before := w.repo.Head("release/stg")
	healthy.Store(false)
	w.send(t, w.slack.SlashCommand(ana, "OPS-1 stg"), 0)
	w.waitMessage(t, "*OPS-1* to *stg* failed")
	id := w.rollbackButton(t, "*OPS-1* is on *stg*'s branch")
	failedAt := w.repo.Head("release/stg")

	if got := w.reply(t, w.slack.Click(cy, bot.ActionRollback, id)); !strings.Contains(got, "only <@"+ana+">, who released OPS-1") {
		t.Errorf("cy's click (not the requester, not allowed to remove from stg): %q", got)
	}
	healthy.Store(true)
	got := w.reply(t, w.slack.Click(ana, bot.ActionRollback, id))
	if !strings.Contains(got, "You rolled back *OPS-1*'s release: *stg* is back to `"+before[:7]+"`") {
		t.Errorf("ana's click: %q", got)
	}
	head := w.repo.Head("release/stg")
	if head == failedAt || !strings.Contains(w.repo.Message(head), "Rolled-Back-To: "+before) {
		t.Fatalf("release/stg %s after the rollback, message %q", head, w.repo.Message(head))
	}
	if diff := cmp.Diff(w.repo.Files("release/stg"), w.repo.Files(before)); diff != "" {
		t.Errorf("release/stg's files (-got +want as before the release):\n%s", diff)
	}
	m := w.waitMessage(t, "rolled back the release of *OPS-1* to *stg*")
	for _, want := range []string{"in it: *OPS-2* (<@" + ben + ">)", "<@" + ana + ">: *OPS-1* left stg", "Why: the deploy of ", "verification health failed", "Deploy succeeded"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("announcement lacks %q:\n%s", want, m.Text)
		}
	}
	occ, err := w.store.Occupants(t.Context(), "stg")
	if err != nil || len(occ) != 1 || occ[0].Ticket != "OPS-2" {
		t.Errorf("stg's occupants after the rollback: %+v, %v; want OPS-2 only", occ, err)
	}
	if got := w.reply(t, w.slack.Click(ana, bot.ActionRollback, id)); !strings.Contains(got, "rolled back already") {
		t.Errorf("second click: %q", got)
	}
	if w.repo.Head("release/stg") != head {
		t.Errorf("the second click moved release/stg")
	}

	// Released again (healthy now), and rolled back by name.
	w.send(t, w.slack.SlashCommand(ana, "OPS-1 stg"), 0)
	waitFor(t, "OPS-1 released to stg again", func() bool {
		occ, err := w.store.Occupants(t.Context(), "stg")
		return err == nil && len(occ) == 2
	})
	w.waitIdle(t, "stg")
	if got := w.reply(t, w.slack.SlashCommand(ana, "rollback OPS-1 stg")); !strings.Contains(got, "You rolled back *OPS-1*'s release: *stg* is back to `"+head[:7]+"`") {
		t.Errorf("/release rollback OPS-1 stg: %q", got)
	}
	if got := w.reply(t, w.slack.SlashCommand(ana, "rollback OPS-3 stg")); !strings.Contains(got, "no release of OPS-3 to stg") {
		t.Errorf("/release rollback of a ticket never released: %q", got)
	}
}
