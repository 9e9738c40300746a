package bot_test

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/code-releaser/code-releaser/bot"
	"github.com/code-releaser/code-releaser/deploy"
	"github.com/code-releaser/code-releaser/deploy/cfntest"
	"github.com/code-releaser/code-releaser/workflow"
)

// infraSource serves the infra repo: v1 at the SHA "v1", v2 at any other.
type infraSource struct{}

func (infraSource) Files(_ context.Context, sha string) (fs.FS, error) {
	topics := "Resources:\n  Orders: {Type: AWS::SNS::Topic, Properties: {TopicName: orders}}\n  Audit: {Type: AWS::SNS::Topic, Properties: {DisplayName: Audit}}\n"
	queue := "Parameters: {Timeout: {Type: String}}\nResources:\n  Jobs: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: !Ref Timeout}}\n"
	spec := "stacks:\n  topics: {name: \"{env}-topics\", template: topics.yml}\n  queue: {name: \"{env}-queue\", template: queue.yml, parameters: {Timeout: \"30\"}}\n"
	if sha != "v1" {
		topics = strings.Replace(strings.Replace(topics, "orders}", "orders-v2}", 1), "Audit}", "Audit trail}", 1)
		spec = strings.Replace(spec, `"30"`, `"60"`, 1)
	}
	return fstest.MapFS{deploy.SpecFile: {Data: []byte(spec)}, "topics.yml": {Data: []byte(topics)}, "queue.yml": {Data: []byte(queue)}}, nil
}

// infraDeployer is the real deployer of infraSource to stg and prod, on
// cfntest through the SDK.
func infraDeployer(t *testing.T) (*cfntest.Server, *deploy.Deployer) {
	t.Helper()
	srv := cfntest.New(cfntest.Options{Account: "111111111111", Region: "eu-west-1", ResourceDelay: 5 * time.Millisecond, ChangeSetDelay: 5 * time.Millisecond})
	t.Cleanup(srv.Close)
	aws1 := deploy.EnvAWS{Region: "eu-west-1", AccountID: "111111111111"}
	d, err := deploy.New(slog.New(slog.NewTextHandler(io.Discard, nil)), infraSource{}, deploy.Config{
		Envs: map[string]deploy.EnvAWS{"stg": aws1, "prod": aws1}, PollInterval: 10 * time.Millisecond,
		LoadAWS: func(ctx context.Context, _ string) (aws.Config, error) { return srv.Config(ctx) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv, d
}

// The prod approval request shows the CloudFormation change sets of the
// deploy it asks for (through the real deployer and SDK against cfntest),
// replacements first; planning leaves nothing behind; the plan made again
// at approval gives the same digest, so the approval holds and prod gets
// exactly that.
func TestProdApprovalShowsChangeSets(t *testing.T) {
	srv, d := infraDeployer(t)
	if res, err := d.Deploy(t.Context(), workflow.Env{Name: "prod"}, "v1", nil); err != nil || res.Status != workflow.DeploySucceeded {
		t.Fatalf("prod at v1: %v %s", err, res.Summary)
	}
	w := prodWorld(t, d)
	master := w.repo.MergeBranch("master", "OPS-1", "Merge pull request #1 from OPS-1")
	w.send(t, w.slack.SlashCommand(ana, "OPS-1 stg"), 0)
	w.waitMessage(t, "released *OPS-1* to *stg*")
	srv.Wait()
	stacks, changeSets := srv.Stacks(), srv.ChangeSets()

	w.send(t, w.slack.SlashCommand(ana, "OPS-1 prod"), 0)
	m, id := w.approvalRequest(t)
	for _, want := range []string{
		"Plan: 2 stacks: 2 update; 3 resource changes, 1 replacement, 1 conditional replacement",
		":warning: *replaces* `prod-topics` Orders (AWS::SNS::Topic)",
		":warning: *may replace* `prod-queue` Jobs (AWS::SQS::Queue), Replacement: Conditional",
		"• `prod-topics` update: Modify Audit, Modify Orders",
	} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("approval request lacks %q:\n%s", want, m.Text)
		}
	}
	if i, j := strings.Index(m.Text, "*replaces*"), strings.Index(m.Text, "*may replace*"); i < 0 || j < i {
		t.Errorf("replacements are not listed first, certain before conditional:\n%s", m.Text)
	}
	if !strings.Contains(m.Blocks, "*replaces* `prod-topics` Orders") {
		t.Errorf("the blocks lack the replacement: %s", m.Blocks)
	}
	srv.Wait()
	if got := srv.Stacks(); len(got) != len(stacks) || got["prod-topics"] != "CREATE_COMPLETE" {
		t.Errorf("stacks after the preview: %v, before: %v", got, stacks)
	}
	if got := srv.ChangeSets(); strings.Join(got, "\n") != strings.Join(changeSets, "\n") {
		t.Errorf("the preview left change sets:\n%s", strings.Join(got, "\n"))
	}
	if got := w.reply(t, w.slack.Click(ben, bot.ActionApprove, id)); !strings.Contains(got, "is recorded (1 of 1)") {
		t.Errorf("approver's reply: %q", got)
	}
	w.waitMessage(t, "released *OPS-1* to *prod*")
	srv.Wait()
	if st := srv.StackStatus("prod-topics"); st != "UPDATE_COMPLETE" {
		t.Errorf("prod-topics is %s after the approved deploy of %s", st, master[:7])
	}
}
