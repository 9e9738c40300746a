package deploy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
)

// The results of a verification check, as StackResult statuses.
const (
	StatusVerified     = "VERIFIED"
	StatusVerifyFailed = "VERIFY_FAILED"
)

// verifyNode names a check's result: "verify:" + its name.
func verifyNode(name string) string { return "verify:" + name }

// verifier runs the env's checks after a deploy.
type verifier struct {
	cw       cloudwatchAPI // nil when no check reads alarms
	client   *http.Client
	commands *commandRunner // nil when no check is a command
	outputs  map[string]stackOutputs
	progress func(name, format string, args ...any)
}

// run runs the checks one after another and returns their results; each
// is also reported as progress, between "verifying" and "verified" or
// "verification failed".
func (v *verifier) run(ctx context.Context, checks []*VerifyPlan) []workflow.StackResult {
	var names []string
	for _, c := range checks {
		names = append(names, c.Name)
	}
	v.progress(workflow.StepVerifying, "%d check(s): %s", len(checks), strings.Join(names, ", "))
	var out []workflow.StackResult
	var failed []string
	for _, c := range checks {
		reason, err := v.check(ctx, c)
		r := workflow.StackResult{Name: verifyNode(c.Name), Status: StatusVerified, Reason: reason}
		if err != nil {
			r.Status, r.Reason = StatusVerifyFailed, err.Error()
			failed = append(failed, c.Name+": "+firstLine(r.Reason))
		}
		word := "passed"
		if err != nil {
			word = "FAILED"
		}
		v.progress(verifyNode(c.Name), "%s: %s", word, r.Reason)
		out = append(out, r)
	}
	if len(failed) > 0 {
		v.progress(workflow.StepVerifyFailed, "%s", strings.Join(failed, "; "))
	} else {
		v.progress(workflow.StepVerified, "%d check(s) passed", len(checks))
	}
	return out
}

// check runs one check: what it saw when it passed, an error saying why
// when it did not.
func (v *verifier) check(ctx context.Context, c *VerifyPlan) (string, error) {
	switch {
	case c.HTTP != nil:
		return v.probe(ctx, c.HTTP)
	case len(c.Alarms) > 0:
		return v.alarms(ctx, c.Alarms)
	case c.Command != nil:
		status, reason := v.commands.run(ctx, c.Command, v.outputs)
		if status != "succeeded" {
			return "", fmt.Errorf("command %s", reason)
		}
		return "the command succeeded", nil
	}
	return "", fmt.Errorf("the check has nothing to do")
}

// probe GETs the check's URL until it answers the expected status, at
// most 1+Retries times, Interval apart, within Deadline.
func (v *verifier) probe(ctx context.Context, h *HTTPCheck) (string, error) {
	u := h.URL
	if h.Output != "" {
		id, key, _ := strings.Cut(h.Output, ".")
		so, ok := v.outputs[id]
		if !ok || so.Outputs[key] == "" {
			return "", fmt.Errorf("stack %s has no output %s to take the URL from", id, key)
		}
		u = strings.TrimRight(so.Outputs[key], "/") + h.Path
	}
	ctx, cancel := context.WithTimeout(ctx, h.Deadline)
	defer cancel()
	start := time.Now()
	last := ""
	tries := 0
	for tries < 1+h.Retries {
		tries++
		got, err := v.get(ctx, u)
		switch {
		case err != nil:
			last = err.Error()
		case got == h.Status:
			return fmt.Sprintf("GET %s answered %d (try %d, %s)", u, got, tries, time.Since(start).Round(time.Millisecond)), nil
		default:
			last = fmt.Sprintf("answered %d %s", got, http.StatusText(got))
		}
		if tries == 1+h.Retries {
			break
		}
		if err := sleep(ctx, h.Interval); err != nil {
			return "", fmt.Errorf("GET %s: want %d, last %s; the deadline of %s passed after %d tries", u, h.Status, last, h.Deadline, tries)
		}
	}
	return "", fmt.Errorf("GET %s: want %d, %s after %d tries in %s", u, h.Status, last, tries, time.Since(start).Round(time.Millisecond))
}

// probeTimeout bounds one try of an HTTP probe, so that a server that
// hangs leaves the other tries their turn.
const probeTimeout = 10 * time.Second

func (v *verifier) get(ctx context.Context, u string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := v.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("no answer within %s", probeTimeout)
		}
		return 0, fmt.Errorf("no answer: %s", strings.TrimPrefix(err.Error(), "Get \""+u+"\": "))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// alarms checks that every alarm the patterns name is OK.
func (v *verifier) alarms(ctx context.Context, patterns []string) (string, error) {
	found, missing, err := findAlarms(ctx, v.cw, patterns)
	if err != nil {
		return "", err
	}
	var bad []string
	for _, m := range missing {
		bad = append(bad, describePattern(m))
	}
	var ok []string
	for _, a := range found {
		if a.State == "OK" {
			ok = append(ok, a.Name)
			continue
		}
		bad = append(bad, fmt.Sprintf("alarm %s is %s: %s", a.Name, a.State, a.Reason))
	}
	if len(bad) > 0 {
		return "", fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return fmt.Sprintf("%d alarm(s) OK: %s", len(ok), strings.Join(ok, ", ")), nil
}
