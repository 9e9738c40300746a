// Package deploy deploys a commit of the infra repo to an env's AWS
// account: it reads the repo's deploy spec (code-releaser.yml), analyses
// the CloudFormation templates it names (exports and imports, evaluated
// statically) into a dependency graph, and runs it — independent stacks in
// parallel through change sets, then the command steps (Ansible and the
// like) with the stacks' outputs — after checking that the credentials
// reach the env's account and nothing else.
//
// The pieces, each in its own file:
//
//   - spec.go: the deploy spec, validated with file:line:field errors;
//   - template.go, eval.go: template reading (YAML with short tags, JSON)
//     and the static evaluation of export and import names;
//   - plan.go: the per-env plan, a DAG of stacks and command steps;
//   - stack.go: one stack through a change set, followed by its events;
//   - run.go: the bounded parallel walk of the DAG;
//   - command.go: command steps in a checkout of the commit;
//   - aws.go: per-env credentials (STS AssumeRole) and the account guard;
//   - deployer.go: the workflow.Deployer that ties them together.
//
// deploy/cfntest is a local CloudFormation and STS speaking the wire
// protocol the SDK speaks, for tests and the demo.
package deploy
