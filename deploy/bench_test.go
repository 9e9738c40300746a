package deploy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/code-releaser/code-releaser/deploy/cfntest"
	"github.com/code-releaser/code-releaser/workflow"
)

// dag20 is a 20-stack repo in five layers; stack i of layer L imports
// one or two stacks of layer L-1, and has 1 to 3 resources.
func dag20() (fstest.MapFS, map[string][]string, map[string]int) {
	files := fstest.MapFS{}
	deps := map[string][]string{}
	resources := map[string]int{}
	var spec strings.Builder
	spec.WriteString("stacks:\n")
	const layers, width = 5, 4
	for l := 0; l < layers; l++ {
		for i := 0; i < width; i++ {
			id := fmt.Sprintf("s%d%d", l, i)
			n := 1 + (l+i)%3
			resources[id] = n
			var b strings.Builder
			b.WriteString("Resources:\n")
			for r := 0; r < n; r++ {
				fmt.Fprintf(&b, "  R%d:\n    Type: AWS::SNS::Topic\n", r)
				if r == 0 && l > 0 {
					b.WriteString("    Properties:\n      Tags:\n")
					for _, j := range []int{i, (i + 1) % width} {
						dep := fmt.Sprintf("s%d%d", l-1, j)
						if len(deps[id]) == 0 || deps[id][0] != dep {
							deps[id] = append(deps[id], dep)
						}
						fmt.Fprintf(&b, "        - {Key: k%d, Value: !ImportValue dev-%s-out}\n", j, dep)
					}
				}
			}
			fmt.Fprintf(&b, "Outputs:\n  Out: {Value: !Ref R0, Export: {Name: !Sub \"${AWS::StackName}-out\"}}\n")
			files[id+".yml"] = &fstest.MapFile{Data: []byte(b.String())}
			fmt.Fprintf(&spec, "  %s: {name: \"{env}-%s\", template: %s.yml}\n", id, id, id)
		}
	}
	files[SpecFile] = &fstest.MapFile{Data: []byte(spec.String())}
	return files, deps, resources
}

// criticalPath is the longest chain of stack durations: each stack takes
// perStack plus its resources × delay. With perStack 0 it is what the
// resources alone take; with the change set's creation as perStack it is
// the floor for a client that follows CloudFormation's rules (a change
// set importing an export cannot be made before the export exists, and
// must be CREATE_COMPLETE before it runs).
func criticalPath(deps map[string][]string, resources map[string]int, delay, perStack time.Duration) time.Duration {
	memo := map[string]time.Duration{}
	var longest func(id string) time.Duration
	longest = func(id string) time.Duration {
		if d, ok := memo[id]; ok {
			return d
		}
		var best time.Duration
		for _, d := range deps[id] {
			best = max(best, longest(d))
		}
		memo[id] = best + perStack + time.Duration(resources[id])*delay
		return memo[id]
	}
	var out time.Duration
	for id := range resources {
		out = max(out, longest(id))
	}
	return out
}

// BenchmarkDeploy20 deploys a 20-stack DAG to the simulator, then
// verifies the env (an HTTP probe and an alarm check), and reports the
// total time against the critical path of the stacks' resources (ratio)
// and against the floor that adds each stack's change-set creation on
// the path (ratio-floor, 1.0 is the physical limit: every stack but the
// first layer imports its dependencies' exports, so no change set can be
// made before they finish).
func BenchmarkDeploy20(b *testing.B) {
	const delay, csDelay = 50 * time.Millisecond, 5 * time.Millisecond
	files, deps, resources := dag20()
	health := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer health.Close()
	files[SpecFile].Data = append(files[SpecFile].Data, []byte("envs:\n  dev:\n    verify:\n"+
		"      - {name: health, http: {url: \""+health.URL+"/health\"}}\n      - {name: alarms, alarms: [dev-5xx]}\n")...)
	cp, floor := criticalPath(deps, resources, delay, 0), criticalPath(deps, resources, delay, csDelay)
	var total time.Duration
	for b.Loop() {
		srv := cfntest.New(cfntest.Options{Account: "111111111111", Region: "eu-west-1", ResourceDelay: delay, ChangeSetDelay: csDelay})
		srv.PutAlarm("dev-5xx")
		d, err := New(slog.New(slog.NewTextHandler(io.Discard, nil)), mapSource{"c": files}, Config{
			Envs:     map[string]EnvAWS{"dev": {Region: "eu-west-1", AccountID: "111111111111"}},
			Parallel: 8, PollInterval: 3 * time.Millisecond,
			LoadAWS: func(ctx context.Context, _ string) (aws.Config, error) { return srv.Config(ctx) },
		})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		res, err := d.Deploy(context.Background(), workflow.Env{Name: "dev"}, "c", nil)
		took := time.Since(start)
		if err != nil || res.Status != workflow.DeploySucceeded || !strings.Contains(res.Summary, "2 check(s) verified") {
			b.Fatalf("%v %s", err, res.Summary)
		}
		total += took
		srv.Close()
	}
	avg := total / time.Duration(b.N)
	b.ReportMetric(float64(avg.Milliseconds()), "ms/deploy")
	b.ReportMetric(float64(cp.Milliseconds()), "ms-critical-path")
	b.ReportMetric(float64(avg)/float64(cp), "ratio")
	b.ReportMetric(float64(avg)/float64(floor), "ratio-floor")
}
