package deploy

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// EnvSpec is what the spec's envs section asks of one env: CloudFormation
// rollback triggers, and the checks that decide whether a deploy worked.
//
//	envs:
//	  dev:
//	    rollback:
//	      alarms: ["{env}-api-5xx", "{env}-db-*"]  # names; a trailing * is a prefix
//	      monitoring: 5m                           # after the resources, 0 to 3h
//	    verify:
//	      - name: health
//	        http: {output: app.ApiUrl, path: /health, status: 200, retries: 10, interval: 5s, deadline: 2m}
//	      - name: alarms
//	        alarms: ["{env}-api-*"]                # every alarm named must be OK
//	      - name: smoke
//	        command: {argv: [./smoke.sh], timeout: 5m}
//
// Rollback alarms are passed to every change set of the env's stacks as
// its RollbackConfiguration (CloudFormation allows 5 alarms); the
// monitoring time is added to each stack's update. Verification runs once
// every stack and command step succeeded; a failed check fails the deploy.
type EnvSpec struct {
	Env            string
	RollbackAlarms []string      // names or prefixes ("name*"), {env} allowed
	Monitoring     time.Duration // whole minutes
	Verify         []VerifySpec
	Line           int
}

// VerifySpec is one check of a deploy; exactly one of HTTP, Alarms and
// Command is set.
type VerifySpec struct {
	Name    string
	HTTP    *HTTPCheck
	Alarms  []string // names or prefixes ("name*"), {env} allowed
	Command *CommandSpec
	Line    int
}

// HTTPCheck probes a URL until it answers Status or Deadline passes.
type HTTPCheck struct {
	URL      string // a literal URL ({env} allowed), or
	Output   string // "stack-id.OutputKey": the URL is that stack output
	Path     string // appended to the output's URL
	Status   int    // default 200
	Retries  int    // tries after the first; default 5
	Interval time.Duration
	Deadline time.Duration // of the whole check
}

// Defaults and bounds of the checks.
const (
	maxRollbackAlarms     = 5
	maxMonitoring         = 3 * time.Hour
	defaultProbeRetries   = 5
	defaultProbeInterval  = 5 * time.Second
	defaultProbeDeadline  = 2 * time.Minute
	defaultVerifyCommand  = 10 * time.Minute
	maxVerifyCheckTimeout = time.Hour
)

func (p *specParser) envSpec(env string, keyNode, n *yaml.Node) *EnvSpec {
	f := "envs." + env
	e := &EnvSpec{Env: env, Line: keyNode.Line}
	for _, kv := range p.mapping(n, f) {
		ff := join(f, kv.key)
		switch kv.key {
		case "rollback":
			for _, r := range p.mapping(kv.val, ff) {
				fr := join(ff, r.key)
				switch r.key {
				case "alarms":
					e.RollbackAlarms = p.alarmNames(r.val, fr)
					if len(e.RollbackAlarms) > maxRollbackAlarms {
						p.errf(r.val, fr, "CloudFormation takes at most %d rollback triggers; %d given", maxRollbackAlarms, len(e.RollbackAlarms))
					}
				case "monitoring":
					d := p.duration(r.val, fr, 0, maxMonitoring)
					if d%time.Minute != 0 {
						p.errf(r.val, fr, "CloudFormation monitors in whole minutes (e.g. 5m)")
					}
					e.Monitoring = d
				default:
					p.errf(r.keyNode, fr, "unknown field (want alarms, monitoring)")
				}
			}
		case "verify":
			if kv.val.Kind != yaml.SequenceNode {
				p.errf(kv.val, ff, "must be a list of checks")
				continue
			}
			seen := map[string]bool{}
			for i, c := range kv.val.Content {
				v := p.verify(fmt.Sprintf("%s[%d]", ff, i), c)
				if seen[v.Name] && v.Name != "" {
					p.errf(c, fmt.Sprintf("%s[%d].name", ff, i), "%q is used twice", v.Name)
				}
				seen[v.Name] = true
				e.Verify = append(e.Verify, v)
			}
		default:
			p.errf(kv.keyNode, ff, "unknown field (want rollback, verify)")
		}
	}
	return e
}

// alarmNames reads a list of alarm names; "{env}" is replaced, a trailing
// "*" makes a prefix.
func (p *specParser) alarmNames(n *yaml.Node, field string) []string {
	names := p.list(n, field)
	for _, a := range names {
		p.placeholders(n, field, a)
		if strings.Contains(strings.TrimSuffix(a, "*"), "*") || a == "*" {
			p.errf(n, field, "%q: only a trailing * (a name prefix) is allowed", a)
		}
	}
	return names
}

// duration reads a duration in [lo, hi].
func (p *specParser) duration(n *yaml.Node, field string, lo, hi time.Duration) time.Duration {
	v := p.str(n, field)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		p.errf(n, field, "%q is not a duration (e.g. 30s, 5m)", v)
	case d < lo || d > hi:
		p.errf(n, field, "%s is out of range (%s to %s)", v, lo, hi)
	default:
		return d
	}
	return 0
}

func (p *specParser) integer(n *yaml.Node, field string, lo, hi int) int {
	v := p.str(n, field)
	i, err := strconv.Atoi(v)
	if v != "" && (err != nil || i < lo || i > hi) {
		p.errf(n, field, "%q is not a whole number from %d to %d", v, lo, hi)
		return lo
	}
	return i
}

func (p *specParser) verify(f string, n *yaml.Node) VerifySpec {
	v := VerifySpec{Line: n.Line}
	kinds := 0
	for _, kv := range p.mapping(n, f) {
		ff := join(f, kv.key)
		switch kv.key {
		case "name":
			v.Name = p.str(kv.val, ff)
			if v.Name != "" && !idRE.MatchString(v.Name) {
				p.errf(kv.val, ff, "%q is not a usable name (letters, digits, - and _)", v.Name)
			}
		case "http":
			kinds++
			v.HTTP = p.httpCheck(ff, kv.val)
		case "alarms":
			kinds++
			v.Alarms = p.alarmNames(kv.val, ff)
			if len(v.Alarms) == 0 {
				p.errf(kv.val, ff, "name at least one alarm")
			}
		case "command":
			kinds++
			c := p.command(ff, withName(kv.val))
			if c.Timeout == DefaultCommandTimeout {
				c.Timeout = defaultVerifyCommand
			}
			c.After = []string{}
			v.Command = &c
		default:
			p.errf(kv.keyNode, ff, "unknown field (want name and one of http, alarms, command)")
		}
	}
	if v.Name == "" {
		p.errf(n, f+".name", "is required")
	}
	if kinds != 1 {
		p.errf(n, f, "give exactly one of http, alarms, command")
	}
	if v.Command != nil {
		v.Command.Name = v.Name
	}
	return v
}

// withName gives a verify step's command mapping the name field the
// command parser requires (the step's own name replaces it).
func withName(n *yaml.Node) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return n
	}
	c := *n
	c.Content = append([]*yaml.Node{{Kind: yaml.ScalarNode, Value: "name", Tag: "!!str"}, {Kind: yaml.ScalarNode, Value: "verify", Tag: "!!str", Line: n.Line}}, n.Content...)
	return &c
}

func (p *specParser) httpCheck(f string, n *yaml.Node) *HTTPCheck {
	h := &HTTPCheck{Status: 200, Retries: defaultProbeRetries, Interval: defaultProbeInterval, Deadline: defaultProbeDeadline}
	for _, kv := range p.mapping(n, f) {
		ff := join(f, kv.key)
		switch kv.key {
		case "url":
			h.URL = p.str(kv.val, ff)
			p.placeholders(kv.val, ff, h.URL)
			if u, err := url.Parse(expand(h.URL, "env")); h.URL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
				p.errf(kv.val, ff, "%q is not an http(s) URL", h.URL)
			}
		case "output":
			h.Output = p.str(kv.val, ff)
			if id, key, ok := strings.Cut(h.Output, "."); h.Output != "" && (!ok || id == "" || key == "") {
				p.errf(kv.val, ff, "%q must name a stack output as STACK_ID.OutputKey", h.Output)
			}
		case "path":
			h.Path = p.str(kv.val, ff)
			if !strings.HasPrefix(h.Path, "/") {
				p.errf(kv.val, ff, "%q must start with /", h.Path)
			}
		case "status":
			h.Status = p.integer(kv.val, ff, 100, 599)
		case "retries":
			h.Retries = p.integer(kv.val, ff, 0, 100)
		case "interval":
			h.Interval = p.duration(kv.val, ff, 0, 10*time.Minute)
		case "deadline":
			h.Deadline = p.duration(kv.val, ff, time.Second, maxVerifyCheckTimeout)
		default:
			p.errf(kv.keyNode, ff, "unknown field (want url or output, path, status, retries, interval, deadline)")
		}
	}
	if (h.URL == "") == (h.Output == "") {
		p.errf(n, f, "give url or output (a stack output holding the URL), not both")
	}
	if h.URL != "" && h.Path != "" {
		p.errf(n, f+".path", "goes with output; put it in url")
	}
	return h
}

// crossCheckEnvs checks the stacks the envs section names.
func (p *specParser) crossCheckEnvs(s *Spec, ids map[string]bool) {
	for _, e := range s.Envs {
		for i, v := range e.Verify {
			if v.HTTP != nil && v.HTTP.Output != "" {
				id, _, _ := strings.Cut(v.HTTP.Output, ".")
				if !ids[id] {
					p.errf(&yaml.Node{Line: v.Line}, fmt.Sprintf("envs.%s.verify[%d].http.output", e.Env, i), "%q is not a stack of this file", id)
				}
			}
		}
	}
}
