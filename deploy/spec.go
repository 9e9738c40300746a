package deploy

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// SpecFile is where the infra repo keeps its deploy spec, at its root.
const SpecFile = "code-releaser.yml"

// Spec is the infra repo's deploy spec: which stacks to deploy (in an order
// derived from their exports and imports) and which command steps to run
// after them.
//
//	stacks:
//	  network:                          # the stack's id in the spec
//	    name: "{env}-network"           # the CloudFormation stack name
//	    template: stacks/network.yml
//	    parameters: {VpcCidr: 10.0.0.0/16}          # every env
//	    parameter_file: params/{env}/network.json   # optional, must exist for each env deployed
//	    env_parameters: {prod: {VpcCidr: 10.1.0.0/16}}
//	    capabilities: [CAPABILITY_IAM]
//	    tags: {team: platform}
//	    depends_on: [other]             # on top of the imports found in the templates
//	    envs: [dev, stg, prod]          # optional filter; default every env
//	commands:
//	  - name: site
//	    argv: [ansible-playbook, -i, "inventories/{env}", playbooks/site.yml]
//	    dir: .
//	    env: {ANSIBLE_FORCE_COLOR: "0"}
//	    timeout: 15m
//	    after: [app]                    # default: every stack of the env
//	    envs: [dev]
//
// Parameters of a file override the common ones, env_parameters override
// both. "{env}" is replaced by the env's name in names, parameter values,
// the parameter file's path, tag values and in the command fields;
// "{outputs}" in a command's argv by the path of the JSON file of the
// stack outputs (e.g. --extra-vars "@{outputs}" for ansible-playbook).
// The envs section (EnvSpec) sets rollback triggers and post-deploy
// checks per env.
type Spec struct {
	File     string // the file it came from, for messages
	Stacks   []StackSpec
	Commands []CommandSpec
	Envs     map[string]*EnvSpec // rollback triggers and verification by env (envspec.go)
}

// StackSpec is one stack of the spec.
type StackSpec struct {
	ID            string
	Name          string // pattern with {env}
	Template      string // repo path
	Parameters    map[string]string
	EnvParameters map[string]map[string]string
	ParameterFile string // repo path pattern with {env}; "" for none
	Capabilities  []string
	Tags          map[string]string
	DependsOn     []string
	Envs          []string // empty: every env
	Line          int      // where the stack starts in the spec file
}

// CommandSpec is one command step of the spec.
type CommandSpec struct {
	Name    string
	Argv    []string
	Dir     string // relative to the checkout's root; "" is the root
	Env     map[string]string
	Timeout time.Duration
	After   []string // stack ids; nil: every stack of the env
	Envs    []string
	Line    int
}

// DefaultCommandTimeout bounds a command step that names no timeout.
const DefaultCommandTimeout = 30 * time.Minute

// SpecError is one problem of the spec (or of a file it names), located.
type SpecError struct {
	File  string
	Line  int // 0 when unknown
	Field string
	Msg   string
}

func (e *SpecError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// capabilities CloudFormation knows.
var knownCapabilities = []string{"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"}

var (
	idRE        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	stackNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*$`)
	envVarRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	placeRE     = regexp.MustCompile(`\{[^{}]*\}`)
)

// maxStackName is CloudFormation's limit on stack names.
const maxStackName = 128

// ParseSpec reads a spec; file names it in errors. All problems found are
// returned together (errors.Join of *SpecError).
func ParseSpec(file string, data []byte) (*Spec, error) {
	p := &specParser{file: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(file, err)
	}
	s := &Spec{File: file}
	if len(doc.Content) == 0 {
		return nil, &SpecError{File: file, Msg: "the file is empty; it needs at least one stack or command"}
	}
	root := doc.Content[0]
	for _, kv := range p.mapping(root, "") {
		switch kv.key {
		case "version":
			if v := p.scalar(kv.val, "version"); v != "" && v != "1" {
				p.errf(kv.val, "version", "%q is not a version this bot reads (1)", v)
			}
		case "stacks":
			for _, st := range p.mapping(kv.val, "stacks") {
				s.Stacks = append(s.Stacks, p.stack(st.key, st.keyNode, st.val))
			}
		case "envs":
			s.Envs = map[string]*EnvSpec{}
			for _, e := range p.mapping(kv.val, "envs") {
				s.Envs[e.key] = p.envSpec(e.key, e.keyNode, e.val)
			}
		case "commands":
			if kv.val.Kind != yaml.SequenceNode {
				p.errf(kv.val, "commands", "must be a list")
				continue
			}
			for i, c := range kv.val.Content {
				s.Commands = append(s.Commands, p.command(fmt.Sprintf("commands[%d]", i), c))
			}
		default:
			p.errf(kv.keyNode, kv.key, "unknown field (want version, stacks, commands, envs)")
		}
	}
	p.crossCheck(s, root)
	if len(s.Stacks) == 0 && len(s.Commands) == 0 && len(p.errs) == 0 {
		p.errf(root, "stacks", "no stacks and no commands: nothing to deploy")
	}
	if err := errors.Join(p.errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// yamlError locates a yaml.v3 parse error.
func yamlError(file string, err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ":"); ok {
			if l, err := strconv.Atoi(n); err == nil {
				line, msg = l, strings.TrimSpace(after)
			}
		}
	}
	return &SpecError{File: file, Line: line, Msg: "not valid YAML: " + msg}
}

type specParser struct {
	file string
	errs []error
}

type keyValue struct {
	key     string
	keyNode *yaml.Node
	val     *yaml.Node
}

func (p *specParser) errf(n *yaml.Node, field, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &SpecError{File: p.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// mapping returns the pairs of a mapping node, refusing duplicates.
func (p *specParser) mapping(n *yaml.Node, field string) []keyValue {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.errf(n, field, "must be a mapping")
		return nil
	}
	var out []keyValue
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errf(k, field, "keys must be plain strings")
			continue
		}
		if seen[k.Value] {
			p.errf(k, join(field, k.Value), "given twice")
			continue
		}
		seen[k.Value] = true
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		out = append(out, keyValue{k.Value, k, v})
	}
	return out
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// scalar returns a scalar's value as a string.
func (p *specParser) scalar(n *yaml.Node, field string) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errf(n, field, "must be a single value")
		return ""
	}
	return n.Value
}

// str returns a non-empty string scalar.
func (p *specParser) str(n *yaml.Node, field string) string {
	v := p.scalar(n, field)
	if v == "" && n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		p.errf(n, field, "must not be empty")
	}
	return v
}

// list returns a sequence of strings (a lone scalar is a list of one).
func (p *specParser) list(n *yaml.Node, field string) []string {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return []string{n.Value}
	}
	if n.Kind != yaml.SequenceNode {
		p.errf(n, field, "must be a list")
		return nil
	}
	var out []string
	for i, c := range n.Content {
		if v := p.str(c, fmt.Sprintf("%s[%d]", field, i)); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// strMap returns a mapping of strings; a list value becomes a
// comma-separated string (CommaDelimitedList parameters).
func (p *specParser) strMap(n *yaml.Node, field string) map[string]string {
	out := map[string]string{}
	for _, kv := range p.mapping(n, field) {
		f := join(field, kv.key)
		if kv.val.Kind == yaml.SequenceNode {
			out[kv.key] = strings.Join(p.list(kv.val, f), ",")
			continue
		}
		if kv.val.Kind == yaml.ScalarNode && kv.val.Tag == "!!null" {
			out[kv.key] = ""
			continue
		}
		out[kv.key] = p.scalar(kv.val, f)
	}
	return out
}

// placeholders checks that s uses no placeholder but {env}.
func (p *specParser) placeholders(n *yaml.Node, field, s string) {
	for _, m := range placeRE.FindAllString(s, -1) {
		if m != "{env}" {
			p.errf(n, field, "unknown placeholder %s (only {env} is replaced)", m)
		}
	}
}

func (p *specParser) stack(id string, keyNode, n *yaml.Node) StackSpec {
	f := "stacks." + id
	s := StackSpec{ID: id, Line: keyNode.Line, Parameters: map[string]string{}, EnvParameters: map[string]map[string]string{}, Tags: map[string]string{}}
	if !idRE.MatchString(id) {
		p.errf(keyNode, f, "%q is not a usable stack id (letters, digits, - and _)", id)
	}
	fields := map[string]*yaml.Node{}
	for _, kv := range p.mapping(n, f) {
		ff := join(f, kv.key)
		fields[kv.key] = kv.val
		switch kv.key {
		case "name":
			s.Name = p.str(kv.val, ff)
			p.placeholders(kv.val, ff, s.Name)
			if s.Name != "" {
				if err := checkStackName(strings.ReplaceAll(s.Name, "{env}", "env")); err != nil {
					p.errf(kv.val, ff, "%s", err)
				}
			}
		case "template":
			s.Template = p.str(kv.val, ff)
			p.repoPath(kv.val, ff, s.Template)
		case "parameters":
			s.Parameters = p.strMap(kv.val, ff)
		case "env_parameters":
			for _, e := range p.mapping(kv.val, ff) {
				s.EnvParameters[e.key] = p.strMap(e.val, join(ff, e.key))
			}
		case "parameter_file":
			s.ParameterFile = p.str(kv.val, ff)
			p.placeholders(kv.val, ff, s.ParameterFile)
			p.repoPath(kv.val, ff, s.ParameterFile)
		case "capabilities":
			s.Capabilities = p.list(kv.val, ff)
			for _, c := range s.Capabilities {
				if !slices.Contains(knownCapabilities, c) {
					p.errf(kv.val, ff, "%q is not a capability (want one of %s)", c, strings.Join(knownCapabilities, ", "))
				}
			}
		case "tags":
			s.Tags = p.strMap(kv.val, ff)
			for k := range s.Tags {
				if strings.HasPrefix(k, "aws:") || strings.HasPrefix(k, tagPrefix) {
					p.errf(kv.val, ff, "tag %q is reserved", k)
				}
			}
		case "depends_on":
			s.DependsOn = p.list(kv.val, ff)
		case "envs":
			s.Envs = p.list(kv.val, ff)
		default:
			p.errf(kv.keyNode, ff, "unknown field (want name, template, parameters, env_parameters, parameter_file, capabilities, tags, depends_on, envs)")
		}
	}
	if fields["name"] == nil {
		p.errf(keyNode, f+".name", "is required (the stack name, e.g. \"{env}-%s\")", id)
	}
	if fields["template"] == nil {
		p.errf(keyNode, f+".template", "is required (the template's path in the repo)")
	}
	return s
}

// repoPath checks a path relative to the repo root.
func (p *specParser) repoPath(n *yaml.Node, field, s string) {
	if s == "" {
		return
	}
	if strings.HasPrefix(s, "/") || strings.Contains(s, "\\") || path.Clean(s) != s || s == ".." || strings.HasPrefix(s, "../") {
		p.errf(n, field, "%q must be a clean path relative to the repo root", s)
	}
}

func (p *specParser) command(f string, n *yaml.Node) CommandSpec {
	c := CommandSpec{Line: n.Line, Timeout: DefaultCommandTimeout, Env: map[string]string{}}
	fields := map[string]*yaml.Node{}
	for _, kv := range p.mapping(n, f) {
		ff := join(f, kv.key)
		fields[kv.key] = kv.val
		switch kv.key {
		case "name":
			c.Name = p.str(kv.val, ff)
			if c.Name != "" && !idRE.MatchString(c.Name) {
				p.errf(kv.val, ff, "%q is not a usable name (letters, digits, - and _)", c.Name)
			}
		case "argv":
			if kv.val.Kind != yaml.SequenceNode {
				p.errf(kv.val, ff, "must be a list: the program and its arguments (no shell)")
				continue
			}
			c.Argv = p.list(kv.val, ff)
			if len(c.Argv) == 0 {
				p.errf(kv.val, ff, "must name a program")
			}
			for _, a := range c.Argv {
				// {outputs} is the path of the step's outputs file.
				p.placeholders(kv.val, ff, strings.ReplaceAll(a, outputsPlaceholder, ""))
			}
		case "dir":
			c.Dir = p.str(kv.val, ff)
			p.repoPath(kv.val, ff, c.Dir)
		case "env":
			c.Env = p.strMap(kv.val, ff)
			for k := range c.Env {
				if !envVarRE.MatchString(k) {
					p.errf(kv.val, ff, "%q is not an environment variable name", k)
				}
				if why := reservedEnvVar(k); why != "" {
					p.errf(kv.val, ff, "%q %s", k, why)
				}
			}
		case "timeout":
			v := p.str(kv.val, ff)
			d, err := time.ParseDuration(v)
			switch {
			case v == "":
			case err != nil:
				p.errf(kv.val, ff, "%q is not a duration (e.g. 15m, 1h)", v)
			case d <= 0 || d > 6*time.Hour:
				p.errf(kv.val, ff, "%s is out of range (more than 0, at most 6h)", v)
			default:
				c.Timeout = d
			}
		case "after":
			c.After = p.list(kv.val, ff)
			if c.After == nil {
				c.After = []string{}
			}
		case "envs":
			c.Envs = p.list(kv.val, ff)
		default:
			p.errf(kv.keyNode, ff, "unknown field (want name, argv, dir, env, timeout, after, envs)")
		}
	}
	if fields["name"] == nil {
		p.errf(n, f+".name", "is required")
	}
	if fields["argv"] == nil {
		p.errf(n, f+".argv", "is required")
	}
	return c
}

// crossCheck checks references between entries.
func (p *specParser) crossCheck(s *Spec, root *yaml.Node) {
	ids := map[string]bool{}
	names := map[string]string{}
	for _, st := range s.Stacks {
		ids[st.ID] = true
		if other, dup := names[st.Name]; dup && st.Name != "" {
			p.errf(&yaml.Node{Line: st.Line}, "stacks."+st.ID+".name", "%q is also the name of stack %s", st.Name, other)
		}
		names[st.Name] = st.ID
	}
	for _, st := range s.Stacks {
		for _, d := range st.DependsOn {
			if !ids[d] {
				p.errf(&yaml.Node{Line: st.Line}, "stacks."+st.ID+".depends_on", "%q is not a stack of this file", d)
			} else if d == st.ID {
				p.errf(&yaml.Node{Line: st.Line}, "stacks."+st.ID+".depends_on", "a stack cannot depend on itself")
			}
		}
	}
	p.crossCheckEnvs(s, ids)
	seen := map[string]bool{}
	for i, c := range s.Commands {
		f := fmt.Sprintf("commands[%d]", i)
		if seen[c.Name] && c.Name != "" {
			p.errf(&yaml.Node{Line: c.Line}, f+".name", "%q is used twice", c.Name)
		}
		seen[c.Name] = true
		for _, a := range c.After {
			if !ids[a] {
				p.errf(&yaml.Node{Line: c.Line}, f+".after", "%q is not a stack of this file", a)
			}
		}
	}
}

// checkStackName returns why name is not a valid CloudFormation stack name.
func checkStackName(name string) error {
	switch {
	case len(name) > maxStackName:
		return fmt.Errorf("stack name %q is longer than %d characters", name, maxStackName)
	case !stackNameRE.MatchString(name):
		return fmt.Errorf("stack name %q is invalid: it must start with a letter and hold only letters, digits and dashes", name)
	}
	return nil
}

// expand replaces {env} in s.
func expand(s, env string) string { return strings.ReplaceAll(s, "{env}", env) }

// appliesTo reports whether an env filter lets env in.
func appliesTo(envs []string, env string) bool {
	return len(envs) == 0 || slices.Contains(envs, env)
}

// reservedEnvVar says why a step's env may not set k, "" when it may:
// the bot sets these itself, or they would change how the operator's
// runner (step_runner) starts rather than the step.
func reservedEnvVar(k string) string {
	switch {
	case strings.HasPrefix(k, "AWS_"):
		return "is set by the bot (the env's AWS credentials)"
	case strings.HasPrefix(k, "CODE_RELEASER_"), strings.HasPrefix(k, "STACK_"), k == "HOME", k == "TMPDIR", k == "PATH":
		return "is set by the bot"
	case strings.HasPrefix(k, "LD_"), strings.HasPrefix(k, "DYLD_"):
		return "would change how programs load, the operator's runner included: not settable"
	}
	return ""
}
