package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"

	"github.com/code-releaser/code-releaser/workflow"
)

// tagPrefix starts the tags the bot sets on stacks.
const tagPrefix = "code-releaser:"

// digestTag holds the digest of what was last deployed to a stack: a stack
// whose tag matches its plan's digest is unchanged and is left alone.
const digestTag = tagPrefix + "digest"

// The tags saying what a stack was last deployed from: the commit, the
// env, and the release (when the deploy was a release's).
const (
	CommitTag    = tagPrefix + "commit"
	EnvTag       = tagPrefix + "env"
	ReleaseIDTag = tagPrefix + "release-id"
)

// The statuses a StackResult carries besides CloudFormation's own.
const (
	StatusUnchanged = "UNCHANGED"  // the stack's digest tag matches: not touched
	StatusNoChanges = "NO_CHANGES" // CloudFormation found nothing to change
	StatusPlanned   = "PLANNED"    // --plan: change set created, shown, deleted
	StatusRefused   = "REFUSED"    // the stack's state forbids a deploy
	StatusSkipped   = "SKIPPED"    // a stack it depends on failed
	StatusFailed    = "FAILED"     // an API error before CloudFormation ran
)

// stackSucceeded reports whether a stack's final status is a success.
func stackSucceeded(status string) bool {
	switch status {
	case "CREATE_COMPLETE", "UPDATE_COMPLETE", StatusUnchanged, StatusNoChanges, StatusPlanned:
		return true
	}
	return false
}

// cfnAPI is the part of the CloudFormation client the deployer calls.
type cfnAPI interface {
	DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	CreateChangeSet(context.Context, *cloudformation.CreateChangeSetInput, ...func(*cloudformation.Options)) (*cloudformation.CreateChangeSetOutput, error)
	DescribeChangeSet(context.Context, *cloudformation.DescribeChangeSetInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeChangeSetOutput, error)
	ExecuteChangeSet(context.Context, *cloudformation.ExecuteChangeSetInput, ...func(*cloudformation.Options)) (*cloudformation.ExecuteChangeSetOutput, error)
	DeleteChangeSet(context.Context, *cloudformation.DeleteChangeSetInput, ...func(*cloudformation.Options)) (*cloudformation.DeleteChangeSetOutput, error)
	DescribeStackEvents(context.Context, *cloudformation.DescribeStackEventsInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStackEventsOutput, error)
	ListExports(context.Context, *cloudformation.ListExportsInput, ...func(*cloudformation.Options)) (*cloudformation.ListExportsOutput, error)
	DeleteStack(context.Context, *cloudformation.DeleteStackInput, ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error)
}

// ResourceFailure is a resource CloudFormation reported failing, as the
// console shows it.
type ResourceFailure struct {
	LogicalID string
	Type      string
	Status    string
	Reason    string
}

func (f ResourceFailure) String() string {
	return fmt.Sprintf("%s (%s) %s: %s", f.LogicalID, f.Type, f.Status, f.Reason)
}

// stackOutcome is what deploying one stack did.
type stackOutcome struct {
	result   workflow.StackResult
	outputs  map[string]string
	failures []ResourceFailure
	changes  []resourceChange // plan: the change set's changes
	kind     string           // plan: workflow.PlanCreate or PlanUpdate, once a change set was made
	created  bool
}

// resourceChange is one resource change of a change set.
type resourceChange struct {
	LogicalID   string
	Type        string
	Action      string // Add, Modify, Remove, Import, Dynamic
	Replacement string // True, False, Conditional ("" for Add and Remove)
}

func (c resourceChange) String() string {
	line := fmt.Sprintf("%s %s (%s)", c.Action, c.LogicalID, c.Type)
	switch c.Replacement {
	case string(types.ReplacementTrue):
		line += " REPLACEMENT"
	case string(types.ReplacementConditional):
		line += " may need REPLACEMENT (Conditional)"
	}
	return line
}

// stackRunner deploys stacks through change sets.
type stackRunner struct {
	cfn       cfnAPI
	templates *templateStore // nil: every template fits in a request
	poll      time.Duration
	sha       string
	all       bool
	plan      bool
	progress  func(name, format string, args ...any)
	env       string // tagged code-releaser:env
	releaseID string // tagged code-releaser:release-id when set
	// rollback is every change set's RollbackConfiguration (nil: none);
	// alarmNames maps its triggers' ARNs to the alarms' names.
	rollback   *types.RollbackConfiguration
	alarmNames map[string]string
}

// action is what a stack's current status allows.
type action int

const (
	actCreate action = iota
	actUpdate
	actRefuse
)

// classify decides from a stack's status ("" when it does not exist) what
// may be done, with guidance when nothing may.
func classify(name, status string) (action, string) {
	switch status {
	case "", "REVIEW_IN_PROGRESS", "DELETE_COMPLETE":
		return actCreate, ""
	case "CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE":
		return actUpdate, ""
	case "ROLLBACK_COMPLETE":
		return actRefuse, fmt.Sprintf("stack %s is ROLLBACK_COMPLETE: its creation failed and CloudFormation can only delete it. Read its events for the cause, delete it (aws cloudformation delete-stack --stack-name %s), then deploy again", name, name)
	case "UPDATE_ROLLBACK_FAILED":
		return actRefuse, fmt.Sprintf("stack %s is UPDATE_ROLLBACK_FAILED: an update failed and so did its rollback. Fix the resources its events name, run aws cloudformation continue-update-rollback --stack-name %s (with --resources-to-skip for those that cannot be fixed), then deploy again", name, name)
	case "ROLLBACK_FAILED", "CREATE_FAILED":
		return actRefuse, fmt.Sprintf("stack %s is %s: its creation failed and it can only be deleted. Read its events, delete it (aws cloudformation delete-stack --stack-name %s, retaining resources that cannot be deleted), then deploy again", name, status, name)
	case "DELETE_FAILED":
		return actRefuse, fmt.Sprintf("stack %s is DELETE_FAILED: finish deleting it (aws cloudformation delete-stack --stack-name %s) before deploying it again", name, name)
	}
	if strings.HasSuffix(status, "_IN_PROGRESS") {
		return actRefuse, fmt.Sprintf("stack %s is %s: another operation is running on it. Wait for it to finish, then deploy again", name, status)
	}
	return actRefuse, fmt.Sprintf("stack %s is %s, a state the bot does not deploy over; look at it in the console", name, status)
}

// isNotFound reports whether err is DescribeStacks' answer for a missing
// stack (a ValidationError "Stack with id X does not exist").
func isNotFound(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" && strings.Contains(ae.ErrorMessage(), "does not exist")
}

// isNoChanges reports whether a change set's failure reason or an API
// error says there was nothing to change. CloudFormation says it two ways.
func isNoChanges(msg string) bool {
	return strings.Contains(msg, "didn't contain changes") || strings.Contains(msg, "No updates are to be performed")
}

// apiMessage is an SDK error's message without the SDK's wrapping.
func apiMessage(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	return err.Error()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// describe returns the stack, nil when it does not exist.
func (r *stackRunner) describe(ctx context.Context, name string) (*types.Stack, error) {
	return describeStack(ctx, r.cfn, name)
}

func outputsOf(st *types.Stack) map[string]string {
	out := map[string]string{}
	if st != nil {
		for _, o := range st.Outputs {
			out[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
		}
	}
	return out
}

func tagOf(st *types.Stack, key string) string {
	for _, t := range st.Tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// deploy brings one stack to its plan; ready is called when the stacks
// that wait for it may start (see follow).
func (r *stackRunner) deploy(ctx context.Context, sp *StackPlan, ready func()) stackOutcome {
	res := func(status, format string, args ...any) stackOutcome {
		return stackOutcome{result: workflow.StackResult{Name: sp.Name, Status: status, Reason: fmt.Sprintf(format, args...)}}
	}
	st, err := r.describe(ctx, sp.Name)
	if err != nil {
		return res(StatusFailed, "describe: %s", apiMessage(err))
	}
	status := ""
	if st != nil {
		status = string(st.StackStatus)
	}
	if busy(status) {
		// A deploy resumed after a lost lease finds its own operation
		// still running; or someone else's runs. Either way CloudFormation
		// takes no change set until it ends.
		o, adopted := r.await(ctx, sp, st, ready)
		if adopted {
			return o
		}
		if o.result.Status != "" {
			return o
		}
		if st, err = r.describe(ctx, sp.Name); err != nil {
			return res(StatusFailed, "describe: %s", apiMessage(err))
		}
		status = ""
		if st != nil {
			status = string(st.StackStatus)
		}
	}
	act, why := classify(sp.Name, status)
	if act == actRefuse {
		r.progress(sp.Name, "refused: %s", why)
		return res(StatusRefused, "%s", why)
	}
	if act == actUpdate && !r.all && status != "UPDATE_ROLLBACK_COMPLETE" && tagOf(st, digestTag) == sp.Digest {
		o := res(StatusUnchanged, "unchanged since its last deploy")
		o.outputs = outputsOf(st)
		return o
	}
	csType := types.ChangeSetTypeUpdate
	in := &cloudformation.CreateChangeSetInput{
		StackName:     aws.String(sp.Name),
		ChangeSetName: aws.String("code-releaser-" + shortSHA(r.sha) + "-" + randomHex(4)),
		Description:   aws.String("Code-Releaser deploy of " + shortSHA(r.sha)),
		ClientToken:   aws.String(randomHex(16)),
	}
	if len(sp.Body) > maxTemplateBody && r.templates != nil {
		u, err := r.templates.url(ctx, sp.Body)
		if err != nil {
			return res(StatusFailed, "template: %s", err)
		}
		in.TemplateURL = aws.String(u)
	} else {
		in.TemplateBody = aws.String(sp.Body)
	}
	if act == actCreate {
		csType = types.ChangeSetTypeCreate
		in.OnStackFailure = types.OnStackFailureDelete
	}
	in.ChangeSetType = csType
	for _, k := range sortedKeys(sp.Parameters) {
		in.Parameters = append(in.Parameters, types.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(sp.Parameters[k])})
	}
	for _, c := range sp.Capabilities {
		in.Capabilities = append(in.Capabilities, types.Capability(c))
	}
	tags := map[string]string{digestTag: sp.Digest, CommitTag: r.sha, EnvTag: r.env}
	if r.releaseID != "" {
		tags[ReleaseIDTag] = r.releaseID
	}
	in.RollbackConfiguration = r.rollback
	for k, v := range sp.Tags {
		tags[k] = v
	}
	for _, k := range sortedKeys(tags) {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	cs, err := r.cfn.CreateChangeSet(ctx, in)
	if err != nil {
		if isNoChanges(apiMessage(err)) {
			return r.noChanges(ctx, sp.Name, st)
		}
		return res(StatusFailed, "create change set: %s", apiMessage(err))
	}
	d, changes, err := r.waitChangeSet(ctx, aws.ToString(cs.Id))
	if err != nil {
		return res(StatusFailed, "change set: %s", apiMessage(err))
	}
	// The stack exists only for the change set (REVIEW_IN_PROGRESS) when
	// it was created for it.
	reviewStack := act == actCreate && status == ""
	cleanup := func() error {
		// Not under ctx: a cancelled deploy still tidies up.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
		defer cancel()
		var errs []error
		if _, err := r.cfn.DeleteChangeSet(cctx, &cloudformation.DeleteChangeSetInput{ChangeSetName: cs.Id}); err != nil && !reviewStack {
			errs = append(errs, fmt.Errorf("delete change set %s: %s", aws.ToString(in.ChangeSetName), apiMessage(err)))
		}
		if reviewStack {
			if _, err := r.cfn.DeleteStack(cctx, &cloudformation.DeleteStackInput{StackName: cs.StackId}); err != nil {
				errs = append(errs, fmt.Errorf("delete review stack %s: %s", sp.Name, apiMessage(err)))
			} else if r.plan {
				// A plan is followed by others (the prod preview is made
				// again before a deploy): wait until the stack is gone, so
				// that the next one does not find it being deleted.
				errs = append(errs, r.waitGone(cctx, sp.Name, aws.ToString(cs.StackId)))
			}
		}
		return errors.Join(errs...)
	}
	if d.Status == types.ChangeSetStatusFailed {
		reason := aws.ToString(d.StatusReason)
		cleanup()
		if isNoChanges(reason) {
			return r.noChanges(ctx, sp.Name, st)
		}
		o := res("FAILED", "change set failed: %s", reason)
		o.kind = planKind(act)
		return o
	}
	if r.plan {
		o := res(StatusPlanned, "%s, %d change(s)", strings.ToLower(string(csType)), len(changes))
		if err := cleanup(); err != nil {
			o = res(StatusFailed, "planned, but not tidied up: %s", err)
		}
		o.kind = planKind(act)
		o.changes = changes
		o.outputs = outputsOf(st)
		for _, c := range changes {
			r.progress(sp.Name, "plan: %s", c)
		}
		return o
	}
	token := r.tokenPrefix(sp) + randomHex(6)
	start := time.Now()
	r.progress(sp.Name, "%s started (%d change(s))", strings.ToLower(string(csType)), len(changes))
	if _, err := r.cfn.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{
		ChangeSetName: cs.Id, ClientRequestToken: aws.String(token),
	}); err != nil {
		cleanup()
		return res(StatusFailed, "execute change set: %s", apiMessage(err))
	}
	return r.finish(ctx, sp, aws.ToString(cs.StackId), token, start, act == actCreate, ready)
}

// tokenPrefix starts the ClientRequestToken of this release's operation
// on the stack: the commit and the plan's digest, so that a deploy
// resumed later knows an operation in progress as its own.
func (r *stackRunner) tokenPrefix(sp *StackPlan) string {
	return "code-releaser-" + tokenPart(shortSHA(r.sha)) + "-" + tokenPart(sp.Digest[:min(12, len(sp.Digest))]) + "-"
}

// tokenPart keeps what a ClientRequestToken allows ([a-zA-Z0-9-]).
func tokenPart(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, s)
}

// finish follows the stack's operation with token to its end and gives
// the stack's outcome (ready: see follow).
func (r *stackRunner) finish(ctx context.Context, sp *StackPlan, stackID, token string, start time.Time, created bool, ready func()) stackOutcome {
	res := func(status, format string, args ...any) stackOutcome {
		return stackOutcome{result: workflow.StackResult{Name: sp.Name, Status: status, Reason: fmt.Sprintf(format, args...)}}
	}
	final, stackReason, failures, err := r.follow(ctx, sp.Name, stackID, token, start, ready)
	if err != nil {
		return res(StatusFailed, "following %s: %s", sp.Name, apiMessage(err))
	}
	o := stackOutcome{result: workflow.StackResult{Name: sp.Name, Status: final}, failures: failures, created: created}
	if stackSucceeded(final) {
		after, err := r.describe(ctx, stackID)
		if err != nil {
			return res(StatusFailed, "describe after deploy: %s", apiMessage(err))
		}
		o.outputs = outputsOf(after)
		r.progress(sp.Name, "%s in %s", final, time.Since(start).Round(10*time.Millisecond))
		return o
	}
	var parts []string
	for _, f := range failures {
		parts = append(parts, f.String())
	}
	if len(parts) == 0 && stackReason != "" {
		parts = append(parts, stackReason)
	}
	o.result.Reason = strings.Join(parts, "; ")
	if alarms := triggeredBy(stackReason, r.alarmNames); alarms != "" {
		what := "update"
		if created {
			what = "creation"
		}
		o.result.Reason = fmt.Sprintf("rolled back by CloudFormation: rollback alarm %s went to ALARM during the %s (%s)", alarms, what, stackReason)
	}
	if final == "UPDATE_ROLLBACK_FAILED" || final == "ROLLBACK_FAILED" {
		_, guide := classify(sp.Name, final)
		o.result.Reason += ". " + guide
	}
	r.progress(sp.Name, "%s: %s", final, o.result.Reason)
	return o
}

// busy reports whether a stack status is an operation in progress that
// takes no change set.
func busy(status string) bool {
	return strings.HasSuffix(status, "_IN_PROGRESS") && status != "REVIEW_IN_PROGRESS"
}

// await handles a stack found with an operation in progress. When the
// operation is this release's (its ClientRequestToken starts with
// tokenPrefix: an earlier attempt whose lease was lost), it is followed
// and its end is the stack's outcome (adopted). Otherwise await waits for
// it to end and returns neither adopted nor a result, and the deploy goes
// on; a result without adoption is a failure to wait.
func (r *stackRunner) await(ctx context.Context, sp *StackPlan, st *types.Stack, ready func()) (o stackOutcome, adopted bool) {
	fail := func(format string, args ...any) (stackOutcome, bool) {
		return stackOutcome{result: workflow.StackResult{Name: sp.Name, Status: StatusFailed, Reason: fmt.Sprintf(format, args...)}}, false
	}
	stackID := aws.ToString(st.StackId)
	token, at, err := r.runningOperation(ctx, sp.Name, stackID)
	if err != nil {
		return fail("describe events: %s", apiMessage(err))
	}
	if token != "" && strings.HasPrefix(token, r.tokenPrefix(sp)) {
		r.progress(sp.Name, "%s: this release's earlier attempt is still running; following it", st.StackStatus)
		return r.finish(ctx, sp, stackID, token, at, st.StackStatus == types.StackStatusCreateInProgress, ready), true
	}
	r.progress(sp.Name, "%s: waiting for another operation on the stack to finish", st.StackStatus)
	wait := r.backoff()
	for {
		if err := sleep(ctx, wait()); err != nil {
			return fail("stack %s was still %s when the deploy ended: %s", sp.Name, st.StackStatus, err)
		}
		now, err := r.describe(ctx, stackID)
		if err != nil {
			if ctx.Err() != nil {
				return fail("stack %s was still %s when the deploy ended: %s", sp.Name, st.StackStatus, ctx.Err())
			}
			return fail("describe: %s", apiMessage(err))
		}
		if now == nil || !busy(string(now.StackStatus)) {
			if now != nil {
				r.progress(sp.Name, "the other operation ended: %s", now.StackStatus)
			}
			return stackOutcome{}, false
		}
		st = now
	}
}

// runningOperation returns the ClientRequestToken and time of the stack's
// newest stack-level event when that event is of an operation in
// progress, "" otherwise.
func (r *stackRunner) runningOperation(ctx context.Context, name, stackID string) (string, time.Time, error) {
	out, err := r.cfn.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(stackID)})
	if err != nil {
		return "", time.Time{}, err
	}
	// Newest first: the first stack-level event is the current status's.
	for _, e := range out.StackEvents {
		if aws.ToString(e.ResourceType) == "AWS::CloudFormation::Stack" && aws.ToString(e.LogicalResourceId) == name {
			if !busy(string(e.ResourceStatus)) {
				break // the status was not reached by an event of an operation
			}
			return aws.ToString(e.ClientRequestToken), aws.ToTime(e.Timestamp), nil
		}
	}
	return "", time.Now(), nil
}

// planKind is what a plan calls act.
func planKind(act action) string {
	if act == actCreate {
		return workflow.PlanCreate
	}
	return workflow.PlanUpdate
}

// waitGone polls until the stack id (named name) is deleted.
func (r *stackRunner) waitGone(ctx context.Context, name, id string) error {
	wait := r.backoff()
	for {
		st, err := r.describe(ctx, id)
		if err != nil {
			return fmt.Errorf("describe review stack %s: %s", name, apiMessage(err))
		}
		if st == nil || st.StackStatus == types.StackStatusDeleteComplete {
			return nil
		}
		if st.StackStatus == types.StackStatusDeleteFailed {
			return fmt.Errorf("review stack %s is DELETE_FAILED: %s", name, aws.ToString(st.StackStatusReason))
		}
		if err := sleep(ctx, wait()); err != nil {
			return fmt.Errorf("review stack %s is still %s", name, st.StackStatus)
		}
	}
}

func (r *stackRunner) noChanges(ctx context.Context, name string, st *types.Stack) stackOutcome {
	return stackOutcome{result: workflow.StackResult{Name: name, Status: StatusNoChanges, Reason: "CloudFormation found no changes"}, outputs: outputsOf(st)}
}

// waitChangeSet polls a change set until it is created or failed and
// returns its changes, all pages of them.
func (r *stackRunner) waitChangeSet(ctx context.Context, id string) (*cloudformation.DescribeChangeSetOutput, []resourceChange, error) {
	wait := r.backoff()
	// A change set is never ready as CreateChangeSet returns: wait once
	// before the first look, which saves a call per stack.
	if err := sleep(ctx, wait()); err != nil {
		return nil, nil, err
	}
	for {
		d, err := r.cfn.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: aws.String(id)})
		if err != nil {
			return nil, nil, err
		}
		switch d.Status {
		case types.ChangeSetStatusCreateComplete, types.ChangeSetStatusFailed:
			var changes []resourceChange
			for {
				for _, c := range d.Changes {
					if rc := c.ResourceChange; rc != nil {
						changes = append(changes, resourceChange{LogicalID: aws.ToString(rc.LogicalResourceId), Type: aws.ToString(rc.ResourceType),
							Action: string(rc.Action), Replacement: string(rc.Replacement)})
					}
				}
				if d.NextToken == nil {
					return d, changes, nil
				}
				next, err := r.cfn.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: aws.String(id), NextToken: d.NextToken})
				if err != nil {
					return nil, nil, err
				}
				next.Status, next.StatusReason = d.Status, d.StatusReason
				d = next
			}
		}
		if err := sleep(ctx, wait()); err != nil {
			return nil, nil, err
		}
	}
}

// maxFailedPolls is how many polls in a row of a running operation may
// fail before following it is given up.
const maxFailedPolls = 3

// terminalStackStatus reports whether a stack-level status ends an
// operation.
func terminalStackStatus(s string) bool {
	return !strings.HasSuffix(s, "_IN_PROGRESS") && s != ""
}

// follow reads the stack's events of this operation (ClientRequestToken
// token) until the stack reaches a final status. It returns that status,
// the stack-level reason of the failure, and the failing resources.
//
// It calls ready (when not nil) once the update reaches
// UPDATE_COMPLETE_CLEANUP_IN_PROGRESS: CloudFormation has then put the
// new outputs and exports in place, and the cleanup (deleting replaced
// and removed resources, which can take long) does not change the
// outcome: a resource it fails to delete is left behind and the stack
// still ends UPDATE_COMPLETE. The stacks importing its exports may start.
func (r *stackRunner) follow(ctx context.Context, name, stackID, token string, start time.Time, ready func()) (string, string, []ResourceFailure, error) {
	seen := map[string]bool{}
	var failures []ResourceFailure
	stackReason := ""
	// Events are listed newest first; those of this operation are at the
	// head. Allow for clock skew between us and CloudFormation.
	horizon := start.Add(-5 * time.Minute)
	wait := r.backoff()
	failedPolls := 0
	for {
		var fresh []types.StackEvent
		var next *string
	pages:
		for {
			out, err := r.cfn.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(stackID), NextToken: next})
			if err != nil {
				// The operation goes on whatever a poll of it does: a
				// few failed polls in a row are retried.
				if failedPolls++; failedPolls >= maxFailedPolls || ctx.Err() != nil {
					return "", "", nil, err
				}
				break pages // what was read is used
			}
			failedPolls = 0
			for _, e := range out.StackEvents {
				id := aws.ToString(e.EventId)
				if seen[id] || (e.Timestamp != nil && e.Timestamp.Before(horizon)) {
					break pages
				}
				seen[id] = true
				if aws.ToString(e.ClientRequestToken) == token {
					fresh = append(fresh, e)
				}
			}
			if out.NextToken == nil {
				break
			}
			next = out.NextToken
		}
		slices.Reverse(fresh) // oldest first
		final := ""
		for _, e := range fresh {
			status, reason := string(e.ResourceStatus), aws.ToString(e.ResourceStatusReason)
			isStack := aws.ToString(e.ResourceType) == "AWS::CloudFormation::Stack" && aws.ToString(e.LogicalResourceId) == name
			switch {
			case isStack:
				if reason != "" && reason != "User Initiated" && stackReason == "" {
					stackReason = reason
				}
				if final == "" && terminalStackStatus(status) {
					final = status
				}
				if !terminalStackStatus(status) || final == status {
					r.progress(name, "%s", status)
				}
				if status == string(types.StackStatusUpdateCompleteCleanupInProgress) && ready != nil {
					ready()
				}
			case strings.HasSuffix(status, "_FAILED") && reason != "" && !strings.Contains(reason, "cancelled"):
				failures = append(failures, ResourceFailure{LogicalID: aws.ToString(e.LogicalResourceId), Type: aws.ToString(e.ResourceType), Status: status, Reason: reason})
				r.progress(name, "%s %s: %s", aws.ToString(e.LogicalResourceId), status, reason)
			}
		}
		if final != "" {
			return final, stackReason, failures, nil
		}
		if err := sleep(ctx, wait()); err != nil {
			return "", "", nil, err
		}
	}
}

// backoff returns the waits between polls: from 250ms doubling up to
// r.poll, so that quick change sets and small stacks are not held back by
// the steady polling interval.
func (r *stackRunner) backoff() func() time.Duration {
	d := min(250*time.Millisecond, r.poll)
	return func() time.Duration {
		cur := d
		d = min(2*d, r.poll)
		return cur
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// shortSHA keeps 12 hex digits, not workflow.ShortSHA's 7: it is part of
// tokenPrefix, which a resumed deploy (maybe of an older version) matches
// against a stack's operation in progress.
func shortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
