package bot_test

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

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

// A release whose verification fails: the Slack message shows the checks
// ran and failed, and the release fails with the check's reason.
func TestReleaseMessageShowsVerification(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer app.Close()
	srv := cfntest.New(cfntest.Options{Account: "111111111111", Region: "eu-west-1", ResourceDelay: 5 * time.Millisecond, ChangeSetDelay: 5 * time.Millisecond})
	t.Cleanup(srv.Close)
	d, err := deploy.New(slog.New(slog.NewTextHandler(io.Discard, nil)), healthSource{app.URL + "/health"}, deploy.Config{
		Envs:         map[string]deploy.EnvAWS{"stg": {Region: "eu-west-1", AccountID: "111111111111"}},
		PollInterval: 10 * time.Millisecond,
		LoadAWS:      func(ctx context.Context, _ string) (aws.Config, error) { return srv.Config(ctx) },
	})
	if err != nil {
		t.Fatal(err)
	}
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
