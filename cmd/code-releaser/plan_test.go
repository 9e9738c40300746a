package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/code-releaser/code-releaser/deploy/cfntest"
	"github.com/code-releaser/code-releaser/workflow"
)

type oneTree fstest.MapFS

func (t oneTree) Files(context.Context, string) (fs.FS, error) { return fstest.MapFS(t), nil }

// The deployer of release and serve plans (for the prod approval preview)
// the envs with aws settings through CloudFormation; the others have no
// plan.
func TestRoutedDeployerPlans(t *testing.T) {
	srv := cfntest.New(cfntest.Options{Account: "111111111111", Region: "eu-west-1"})
	t.Cleanup(srv.Close)
	cfg := config{
		Environments: []envConfig{{Name: "dev"}, {Name: "prod", Production: true, AWS: awsConfig{Region: "eu-west-1", AccountID: "111111111111"}}},
		loadAWS:      func(ctx context.Context, _ string) (aws.Config, error) { return srv.Config(ctx) },
	}
	src := oneTree{
		"code-releaser.yml": {Data: []byte("stacks:\n  app: {name: \"{env}-app\", template: app.yml}\n")},
		"app.yml":           {Data: []byte("Resources: {Topic: {Type: AWS::SNS::Topic}}\n")},
	}
	d, err := newDeployer(slog.New(slog.NewTextHandler(io.Discard, nil)), cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	pl, ok := d.(workflow.Planner)
	if !ok {
		t.Fatalf("%T is not a workflow.Planner", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := pl.Plan(ctx, workflow.Env{Name: "prod", Production: true}, "abc")
	if err != nil || len(p.Stacks) != 1 || p.Stacks[0].Action != workflow.PlanCreate || len(p.Changes) != 1 || p.Changes[0].Resource != "Topic" {
		t.Errorf("prod plan: %v %+v", err, p)
	}
	calls := len(srv.Calls())
	if _, err := pl.Plan(ctx, workflow.Env{Name: "dev"}, "abc"); !errors.Is(err, workflow.ErrNoPlan) {
		t.Errorf("dev (no aws): %v, want ErrNoPlan", err)
	}
	if n := len(srv.Calls()); n != calls {
		t.Errorf("planning dev called AWS")
	}
	srv.Wait()
	if st := srv.Stacks(); len(st) != 0 {
		t.Errorf("left %v", st)
	}
}
