package deploy

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/smithy-go"

	"github.com/code-releaser/code-releaser/deploy/cfntest"
)

// noUpdates answers CreateChangeSet the other way CloudFormation says
// "nothing to change": a ValidationError.
type noUpdates struct{ cfnAPI }

func (noUpdates) CreateChangeSet(context.Context, *cloudformation.CreateChangeSetInput, ...func(*cloudformation.Options)) (*cloudformation.CreateChangeSetOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "ValidationError", Message: "No updates are to be performed."}
}

func TestNoChangesAsValidationError(t *testing.T) {
	srv := cfntest.New(cfntest.Options{ResourceDelay: time.Millisecond})
	defer srv.Close()
	cfg, err := srv.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r := &stackRunner{cfn: noUpdates{cloudformation.NewFromConfig(cfg)}, poll: time.Millisecond, sha: "abc", all: true,
		progress: func(string, string, ...any) {}}
	o := r.deploy(context.Background(), &StackPlan{ID: "a", Name: "a", Body: "Resources: {T: {Type: AWS::SNS::Topic}}\n"}, nil)
	if o.result.Status != StatusNoChanges {
		t.Errorf("status %s (%s), want %s", o.result.Status, o.result.Reason, StatusNoChanges)
	}
	for _, c := range srv.Calls() {
		if c.Mutating() {
			t.Errorf("mutating call %s", c.Action)
		}
	}
}

func TestClassify(t *testing.T) {
	for status, want := range map[string]action{
		"": actCreate, "REVIEW_IN_PROGRESS": actCreate, "CREATE_COMPLETE": actUpdate, "UPDATE_ROLLBACK_COMPLETE": actUpdate,
		"ROLLBACK_COMPLETE": actRefuse, "UPDATE_ROLLBACK_FAILED": actRefuse, "UPDATE_IN_PROGRESS": actRefuse,
		"UPDATE_COMPLETE_CLEANUP_IN_PROGRESS": actRefuse, "DELETE_FAILED": actRefuse, "ROLLBACK_FAILED": actRefuse,
	} {
		if got, why := classify("s", status); got != want || (got == actRefuse && why == "") {
			t.Errorf("classify(%q) = %v %q, want %v", status, got, why, want)
		}
	}
}
