package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/code-releaser/code-releaser/workflow"
)

var _ workflow.Inspector = (*Deployer)(nil)

// driftAPI is the part of the CloudFormation client drift detection
// calls.
type driftAPI interface {
	stackDescriber
	DetectStackDrift(context.Context, *cloudformation.DetectStackDriftInput, ...func(*cloudformation.Options)) (*cloudformation.DetectStackDriftOutput, error)
	DescribeStackDriftDetectionStatus(context.Context, *cloudformation.DescribeStackDriftDetectionStatusInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStackDriftDetectionStatusOutput, error)
	DescribeStackResourceDrifts(context.Context, *cloudformation.DescribeStackResourceDriftsInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStackResourceDriftsOutput, error)
}

// inspect reads sha's plan for env and connects to the env's account
// (role and account guard) without checking exports: nothing is changed.
func (d *Deployer) inspect(ctx context.Context, op string, env workflow.Env, sha string) (*Plan, driftAPI, error) {
	a, ok := d.cfg.Envs[env.Name]
	if !ok {
		return nil, nil, workflow.Errorf(op, workflow.Invalid, "env %s has no AWS settings (environments[].aws in the config)", env.Name)
	}
	files, err := d.src.Files(ctx, sha)
	if err != nil {
		return nil, nil, err
	}
	plan, err := LoadPlan(files, Target{Env: env.Name, Region: a.Region, AccountID: a.AccountID})
	if err != nil {
		return nil, nil, workflow.Wrap(op, workflow.Invalid, "the deploy spec of "+shortSHA(sha)+" is invalid:\n"+err.Error(), err)
	}
	if plan == nil {
		return nil, nil, workflow.Errorf(op, workflow.NotFound, "%s has no %s: it deploys no stacks", shortSHA(sha), SpecFile)
	}
	cfg, err := envConfig(ctx, d.cfg.LoadAWS, env.Name, a)
	if err != nil {
		return nil, nil, err
	}
	if err := guardAccount(ctx, sts.NewFromConfig(cfg), env.Name, a); err != nil {
		return nil, nil, err
	}
	return plan, cloudformation.NewFromConfig(cfg), nil
}

// Deployed implements workflow.Inspector: the stacks of sha's spec for
// env, with their code-releaser tags.
func (d *Deployer) Deployed(ctx context.Context, env workflow.Env, sha string) ([]workflow.DeployedStack, error) {
	const op = "deploy.deployed"
	plan, cfn, err := d.inspect(ctx, op, env, sha)
	if err != nil {
		return nil, err
	}
	var out []workflow.DeployedStack
	for _, sp := range plan.Stacks {
		st, err := describeStack(ctx, cfn, sp.Name)
		if err != nil {
			return nil, workflow.Wrap(op, workflow.Unavailable, "cannot describe stack "+sp.Name, errors.New(apiMessage(err)))
		}
		ds := workflow.DeployedStack{Name: sp.Name}
		if st != nil && st.StackStatus != types.StackStatusReviewInProgress {
			ds.Exists, ds.Status = true, string(st.StackStatus)
			ds.Commit, ds.ReleaseID = tagOf(st, CommitTag), tagOf(st, ReleaseIDTag)
			ds.Current = tagOf(st, digestTag) == sp.Digest
			ds.Updated = aws.ToTime(st.CreationTime)
			if st.LastUpdatedTime != nil {
				ds.Updated = *st.LastUpdatedTime
			}
		}
		out = append(out, ds)
	}
	return out, nil
}

// stackDescriber describes stacks.
type stackDescriber interface {
	DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

// describeStack returns the stack, nil when it does not exist.
func describeStack(ctx context.Context, cfn stackDescriber, name string) (*types.Stack, error) {
	out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(out.Stacks) == 0 {
		return nil, nil
	}
	return &out.Stacks[0], nil
}

// Drift implements workflow.Inspector: it starts a drift detection on
// each existing stack of sha's spec for env, waits for them all, and
// lists the resources that were modified or deleted outside
// CloudFormation.
func (d *Deployer) Drift(ctx context.Context, env workflow.Env, sha string) ([]workflow.StackDrift, error) {
	const op = "deploy.drift"
	plan, cfn, err := d.inspect(ctx, op, env, sha)
	if err != nil {
		return nil, err
	}
	out := make([]workflow.StackDrift, len(plan.Stacks))
	ids := make([]string, len(plan.Stacks))
	for i, sp := range plan.Stacks {
		out[i].Name = sp.Name
		st, err := describeStack(ctx, cfn, sp.Name)
		switch {
		case err != nil:
			out[i].Problem = "describe: " + apiMessage(err)
			continue
		case st == nil || st.StackStatus == types.StackStatusReviewInProgress:
			out[i].Problem = "the stack does not exist"
			continue
		}
		det, err := cfn.DetectStackDrift(ctx, &cloudformation.DetectStackDriftInput{StackName: aws.String(sp.Name)})
		if err != nil {
			out[i].Problem = "detect drift: " + apiMessage(err)
			continue
		}
		ids[i] = aws.ToString(det.StackDriftDetectionId)
	}
	r := &stackRunner{poll: d.cfg.PollInterval}
	for i := range plan.Stacks {
		if ids[i] == "" {
			continue
		}
		status, problem := waitDetection(ctx, cfn, r, ids[i])
		out[i].Status, out[i].Problem = status, problem
		if problem != "" || status != string(types.StackDriftStatusDrifted) {
			continue
		}
		if out[i].Resources, err = resourceDrifts(ctx, cfn, out[i].Name); err != nil {
			out[i].Problem = "describe resource drifts: " + apiMessage(err)
		}
	}
	return out, nil
}

// waitDetection polls a drift detection to its end: the stack's drift
// status, or why there is none.
func waitDetection(ctx context.Context, cfn driftAPI, r *stackRunner, id string) (string, string) {
	wait := r.backoff()
	for {
		s, err := cfn.DescribeStackDriftDetectionStatus(ctx, &cloudformation.DescribeStackDriftDetectionStatusInput{StackDriftDetectionId: aws.String(id)})
		if err != nil {
			return "", "drift detection status: " + apiMessage(err)
		}
		switch s.DetectionStatus {
		case types.StackDriftDetectionStatusDetectionComplete:
			return string(s.StackDriftStatus), ""
		case types.StackDriftDetectionStatusDetectionFailed:
			return string(s.StackDriftStatus), "drift detection failed: " + aws.ToString(s.DetectionStatusReason)
		}
		if err := sleep(ctx, wait()); err != nil {
			return "", "drift detection was still running when the request ended"
		}
	}
}

// resourceDrifts lists the stack's modified and deleted resources of its
// latest detection.
func resourceDrifts(ctx context.Context, cfn driftAPI, name string) ([]workflow.ResourceDrift, error) {
	var out []workflow.ResourceDrift
	in := &cloudformation.DescribeStackResourceDriftsInput{StackName: aws.String(name),
		StackResourceDriftStatusFilters: []types.StackResourceDriftStatus{types.StackResourceDriftStatusModified, types.StackResourceDriftStatusDeleted}}
	for {
		page, err := cfn.DescribeStackResourceDrifts(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, r := range page.StackResourceDrifts {
			rd := workflow.ResourceDrift{LogicalID: aws.ToString(r.LogicalResourceId), PhysicalID: aws.ToString(r.PhysicalResourceId),
				Type: aws.ToString(r.ResourceType), Status: string(r.StackResourceDriftStatus)}
			for _, p := range r.PropertyDifferences {
				rd.Differences = append(rd.Differences, fmt.Sprintf("%s: expected %s, actual %s", aws.ToString(p.PropertyPath),
					strings.TrimSpace(aws.ToString(p.ExpectedValue)), strings.TrimSpace(aws.ToString(p.ActualValue))))
			}
			out = append(out, rd)
		}
		if page.NextToken == nil {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}
