package deploy

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/code-releaser/code-releaser/workflow"
)

// cloudwatchAPI is the part of the CloudWatch client the deployer calls,
// with the env's credentials: rollback triggers and alarm checks.
type cloudwatchAPI interface {
	DescribeAlarms(context.Context, *cloudwatch.DescribeAlarmsInput, ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

// cloudwatchClient is the CloudWatch client of an env's configuration.
func cloudwatchClient(cfg aws.Config) cloudwatchAPI { return cloudwatch.NewFromConfig(cfg) }

// alarmInfo is an alarm as DescribeAlarms gives it.
type alarmInfo struct {
	Name, ARN, State, Reason string
	Composite                bool
}

// findAlarms resolves names and prefixes ("name*") to alarms, metric and
// composite, in the order asked, without duplicates; missing lists the
// patterns that match none.
func findAlarms(ctx context.Context, cw cloudwatchAPI, patterns []string) (found []alarmInfo, missing []string, err error) {
	seen := map[string]bool{}
	for _, pat := range patterns {
		in := &cloudwatch.DescribeAlarmsInput{AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm, cwtypes.AlarmTypeCompositeAlarm}}
		if prefix, ok := strings.CutSuffix(pat, "*"); ok {
			in.AlarmNamePrefix = aws.String(prefix)
		} else {
			in.AlarmNames = []string{pat}
		}
		n := 0
		for {
			out, err := cw.DescribeAlarms(ctx, in)
			if err != nil {
				return nil, nil, fmt.Errorf("describe alarms %s: %s", pat, apiMessage(err))
			}
			var page []alarmInfo
			for _, a := range out.MetricAlarms {
				page = append(page, alarmInfo{aws.ToString(a.AlarmName), aws.ToString(a.AlarmArn), string(a.StateValue), aws.ToString(a.StateReason), false})
			}
			for _, a := range out.CompositeAlarms {
				page = append(page, alarmInfo{aws.ToString(a.AlarmName), aws.ToString(a.AlarmArn), string(a.StateValue), aws.ToString(a.StateReason), true})
			}
			for _, a := range page {
				n++
				if !seen[a.ARN] {
					seen[a.ARN] = true
					found = append(found, a)
				}
			}
			if out.NextToken == nil {
				break
			}
			in.NextToken = out.NextToken
		}
		if n == 0 {
			missing = append(missing, pat)
		}
	}
	return found, missing, nil
}

// describePattern says what an alarm pattern stands for.
func describePattern(pat string) string {
	if prefix, ok := strings.CutSuffix(pat, "*"); ok {
		return "no alarm's name starts with " + prefix
	}
	return "no alarm is named " + pat
}

// rollbackConfiguration resolves the plan's rollback alarms in the env's
// account into the RollbackConfiguration of its change sets; nil when
// the plan has neither alarms nor monitoring. It fails, before anything
// changed, when an alarm is missing or there are more than
// CloudFormation's 5.
func rollbackConfiguration(ctx context.Context, cw cloudwatchAPI, env string, p *Plan) (*types.RollbackConfiguration, map[string]string, error) {
	const op = "deploy.rollback"
	if len(p.RollbackAlarms) == 0 && p.Monitoring == 0 {
		return nil, nil, nil
	}
	rc := &types.RollbackConfiguration{MonitoringTimeInMinutes: aws.Int32(int32(p.Monitoring.Minutes()))}
	names := map[string]string{} // ARN -> name
	if len(p.RollbackAlarms) > 0 {
		found, missing, err := findAlarms(ctx, cw, p.RollbackAlarms)
		if err != nil {
			return nil, nil, workflow.Wrap(op, workflow.Unavailable, "cannot read the rollback alarms of "+env+" from CloudWatch", errors.New(err.Error()))
		}
		if len(missing) > 0 {
			var why []string
			for _, m := range missing {
				why = append(why, describePattern(m))
			}
			return nil, nil, workflow.Errorf(op, workflow.Invalid, "envs.%s.rollback.alarms in %s: %s in the env's account; fix the spec or create the alarm. Nothing was changed", env, SpecFile, strings.Join(why, "; "))
		}
		if len(found) > maxRollbackAlarms {
			var all []string
			for _, a := range found {
				all = append(all, a.Name)
			}
			return nil, nil, workflow.Errorf(op, workflow.Invalid, "envs.%s.rollback.alarms in %s match %d alarms (%s); CloudFormation takes at most %d rollback triggers. Nothing was changed", env, SpecFile, len(found), strings.Join(all, ", "), maxRollbackAlarms)
		}
		for _, a := range found {
			typ := "AWS::CloudWatch::Alarm"
			if a.Composite {
				typ = "AWS::CloudWatch::CompositeAlarm"
			}
			rc.RollbackTriggers = append(rc.RollbackTriggers, types.RollbackTrigger{Arn: aws.String(a.ARN), Type: aws.String(typ)})
			names[a.ARN] = a.Name
		}
	}
	return rc, names, nil
}

var alarmARNRE = regexp.MustCompile(`arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:[^\s,\]\[]+`)

// triggeredBy names the rollback alarms a stack's failure reason cites,
// by ARN or, failing that, by name; "" when it cites none. names maps the
// triggers' ARNs to names.
func triggeredBy(reason string, names map[string]string) string {
	var out []string
	for _, arn := range alarmARNRE.FindAllString(reason, -1) {
		arn = strings.TrimRight(arn, ".")
		n := names[arn]
		if n == "" {
			n = arn[strings.LastIndex(arn, ":alarm:")+len(":alarm:"):]
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		for _, n := range names {
			if strings.Contains(reason, n) {
				out = append(out, n)
			}
		}
		slices.Sort(out)
	}
	return strings.Join(out, ", ")
}
