package workflow

import (
	"context"
	"time"
)

// DeployStatus is how a deploy ended.
type DeployStatus string

// Deploy statuses.
const (
	DeploySucceeded DeployStatus = "succeeded"
	DeployFailed    DeployStatus = "failed"
	DeploySkipped   DeployStatus = "skipped" // nothing was deployed, on purpose
)

// DeployResult is what a Deployer did.
type DeployResult struct {
	SHA      string
	Status   DeployStatus
	Summary  string // one line for people
	Stacks   []StackResult
	Started  time.Time
	Finished time.Time
}

// StackResult is the outcome of one stack or command step.
type StackResult struct {
	Name   string
	Status string // CloudFormation's final status, or "succeeded"/"failed" for commands
	Reason string
}

// Deployment is the last deploy of an env, kept by the Store.
type Deployment struct {
	Env       string
	ReleaseID string
	Ticket    TicketKey
	By        string
	At        time.Time
	Result    DeployResult
}

// Progress receives a deploy's steps as they happen (stack started, stack
// done, command output summary). It must not block for long.
type Progress func(Step)

// SkipDeployer deploys nothing and says so. It is for local runs and the
// demo until a real deployer is configured.
type SkipDeployer struct{}

// Deploy returns a skipped result.
func (SkipDeployer) Deploy(_ context.Context, env Env, sha string, _ Progress) (DeployResult, error) {
	return DeployResult{SHA: sha, Status: DeploySkipped, Summary: "deploy skipped: no deployer configured for " + env.Name}, nil
}
