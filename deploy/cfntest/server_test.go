package cfntest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

const producer = `Resources:
  Topic: {Type: AWS::SNS::Topic}
Outputs:
  Arn: {Value: !Ref Topic, Export: {Name: shared-topic}}
`

const consumer = `Resources:
  Sub:
    Type: AWS::SNS::Subscription
    Properties: {TopicArn: !ImportValue shared-topic, Protocol: email, Endpoint: a@example.com}
`

func newClients(t *testing.T) (*Server, *cloudformation.Client, *sts.Client) {
	t.Helper()
	s := New(Options{Account: "111111111111", Region: "eu-west-1", ResourceDelay: 5 * time.Millisecond})
	t.Cleanup(s.Close)
	cfg, err := s.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s, cloudformation.NewFromConfig(cfg), sts.NewFromConfig(cfg)
}

// deploy creates or updates a stack and waits for it.
func deploy(t *testing.T, s *Server, c *cloudformation.Client, name, body, typ string) (*cloudformation.DescribeChangeSetOutput, string) {
	t.Helper()
	ctx := context.Background()
	out, err := c.CreateChangeSet(ctx, &cloudformation.CreateChangeSetInput{
		StackName: aws.String(name), ChangeSetName: aws.String("cs-" + name), ChangeSetType: types.ChangeSetType(typ),
		TemplateBody: aws.String(body), OnStackFailure: types.OnStackFailureDelete,
	})
	if err != nil {
		t.Fatalf("CreateChangeSet %s: %v", name, err)
	}
	d, err := c.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: out.Id})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != types.ChangeSetStatusCreateComplete {
		return d, ""
	}
	if _, err := c.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{ChangeSetName: out.Id, ClientRequestToken: aws.String("tok-" + name)}); err != nil {
		t.Fatal(err)
	}
	s.Wait()
	st, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: out.StackId})
	if err != nil {
		t.Fatal(err)
	}
	return d, string(st.Stacks[0].StackStatus)
}

func TestSDKRoundTrip(t *testing.T) {
	s, c, stsc := newClients(t)
	ctx := context.Background()
	id, err := stsc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(id.Account); got != "111111111111" {
		t.Errorf("account %s", got)
	}
	_, err = c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("nope")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationError" || !strings.Contains(ae.ErrorMessage(), "does not exist") {
		t.Fatalf("describe missing: %v", err)
	}
	// A consumer before its producer: the change set fails.
	d, _ := deploy(t, s, c, "consumer", consumer, "CREATE")
	if d.Status != types.ChangeSetStatusFailed || !strings.Contains(aws.ToString(d.StatusReason), "No export named shared-topic found") {
		t.Fatalf("consumer first: %s %s", d.Status, aws.ToString(d.StatusReason))
	}
	if _, status := deploy(t, s, c, "producer", producer, "CREATE"); status != "CREATE_COMPLETE" {
		t.Fatalf("producer: %s", status)
	}
	if _, err := c.DeleteChangeSet(ctx, &cloudformation.DeleteChangeSetInput{ChangeSetName: aws.String("cs-consumer"), StackName: aws.String("consumer")}); err != nil {
		t.Fatal(err)
	}
	if _, status := deploy(t, s, c, "consumer", consumer, "CREATE"); status != "CREATE_COMPLETE" {
		t.Fatalf("consumer: %s", status)
	}
	st, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("producer")})
	if err != nil {
		t.Fatal(err)
	}
	if o := st.Stacks[0].Outputs; len(o) != 1 || aws.ToString(o[0].ExportName) != "shared-topic" || !strings.HasPrefix(aws.ToString(o[0].OutputValue), "producer-Topic-") {
		t.Errorf("outputs: %+v", o)
	}
	ex, err := c.ListExports(ctx, &cloudformation.ListExportsInput{})
	if err != nil || len(ex.Exports) != 1 {
		t.Fatalf("exports: %v %v", ex, err)
	}
	// The export is in use: changing it rolls the producer back.
	changed := strings.Replace(producer, "!Ref Topic", "!Sub '${Topic}-v2'", 1)
	s.mu.Lock()
	s.changeSets = map[string]*changeSet{}
	s.mu.Unlock()
	if _, status := deploy(t, s, c, "producer", changed, "UPDATE"); status != "UPDATE_ROLLBACK_COMPLETE" {
		t.Fatalf("producer update: %s", status)
	}
	ev, err := c.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String("producer")})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range ev.StackEvents {
		if e.ResourceStatus == types.ResourceStatusUpdateRollbackInProgress && strings.Contains(aws.ToString(e.ResourceStatusReason), "Cannot update export shared-topic as it is in use by consumer") {
			found = aws.ToString(e.ClientRequestToken) == "tok-producer"
		}
	}
	if !found {
		t.Errorf("no rollback event naming the export in use: %+v", ev.StackEvents[:3])
	}
	// No changes.
	s.mu.Lock()
	s.changeSets = map[string]*changeSet{}
	s.mu.Unlock()
	d, _ = deploy(t, s, c, "producer", producer, "UPDATE")
	if d.Status != types.ChangeSetStatusFailed || !strings.Contains(aws.ToString(d.StatusReason), "didn't contain changes") {
		t.Errorf("no-change: %s %q", d.Status, aws.ToString(d.StatusReason))
	}
	// AssumeRole gives the role's account.
	ar, err := stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::222222222222:role/deployer"), RoleSessionName: aws.String("t")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(aws.ToString(ar.AssumedRoleUser.Arn), "222222222222:assumed-role/deployer/t") {
		t.Errorf("assumed: %s", aws.ToString(ar.AssumedRoleUser.Arn))
	}
}

// A change set describes each resource change as CloudFormation does:
// Replacement True when a property that requires replacement changes,
// False for an update in place, with the properties in Details.
func TestChangeSetReplacement(t *testing.T) {
	s, c, _ := newClients(t)
	ctx := context.Background()
	const v1 = `Resources:
  Topic: {Type: AWS::SNS::Topic, Properties: {TopicName: orders, DisplayName: Orders}}
  Queue: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: 30}}
`
	if _, status := deploy(t, s, c, "app", v1, "CREATE"); status != "CREATE_COMPLETE" {
		t.Fatalf("create: %s", status)
	}
	v2 := strings.Replace(strings.Replace(v1, "TopicName: orders", "TopicName: orders-v2", 1), "VisibilityTimeout: 30", "VisibilityTimeout: 60", 1)
	out, err := c.CreateChangeSet(ctx, &cloudformation.CreateChangeSetInput{StackName: aws.String("app"), ChangeSetName: aws.String("v2"),
		ChangeSetType: types.ChangeSetTypeUpdate, TemplateBody: aws.String(v2)})
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: out.Id})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]types.ResourceChange{}
	for _, ch := range d.Changes {
		got[aws.ToString(ch.ResourceChange.LogicalResourceId)] = *ch.ResourceChange
	}
	topic, queue := got["Topic"], got["Queue"]
	if topic.Action != types.ChangeActionModify || topic.Replacement != types.ReplacementTrue || len(topic.Details) != 1 ||
		aws.ToString(topic.Details[0].Target.Name) != "TopicName" || topic.Details[0].Target.RequiresRecreation != types.RequiresRecreationAlways ||
		topic.Details[0].Evaluation != types.EvaluationTypeStatic || topic.Details[0].ChangeSource != types.ChangeSourceDirectModification {
		t.Errorf("topic: %+v", topic)
	}
	if queue.Replacement != types.ReplacementFalse || len(queue.Details) != 1 || queue.Details[0].Target.RequiresRecreation != types.RequiresRecreationNever ||
		queue.Details[0].Target.Attribute != types.ResourceAttributeProperties {
		t.Errorf("queue: %+v", queue)
	}
	if cs := s.ChangeSets(); len(cs) != 2 || !strings.HasPrefix(cs[1], "app/v2 CREATE_COMPLETE AVAILABLE") {
		t.Errorf("change sets: %v", cs)
	}
}
