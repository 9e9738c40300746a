package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Target is where a plan deploys: the env and its AWS account and region,
// which the templates' pseudo parameters evaluate to.
type Target struct {
	Env       string
	Region    string
	AccountID string
}

// Plan is a spec resolved for one env: the stacks with their templates and
// parameters read from the commit, in dependency order, and the command
// steps. Building it makes no AWS call.
type Plan struct {
	Target   Target
	Stacks   []*StackPlan   // dependencies first; ties in spec order
	Commands []*CommandPlan // in spec order
	// External maps each export imported from outside the plan to the
	// stacks importing it; the deployer checks them with ListExports.
	External map[string][]string
	// RollbackAlarms (names or "prefix*") and Monitoring make every
	// change set's RollbackConfiguration; Verify runs after a deploy.
	RollbackAlarms []string
	Monitoring     time.Duration
	Verify         []*VerifyPlan
	// SpecEnvs are the env names the spec's envs section names, sorted.
	SpecEnvs []string
}

// readsAlarms reports whether deploying the plan reads CloudWatch alarms.
func (p *Plan) readsAlarms() bool {
	if len(p.RollbackAlarms) > 0 || p.Monitoring > 0 {
		return true
	}
	for _, v := range p.Verify {
		if len(v.Alarms) > 0 {
			return true
		}
	}
	return false
}

// verifyCommands reports whether a check of the plan runs a command.
func (p *Plan) verifyCommands() bool {
	for _, v := range p.Verify {
		if v.Command != nil {
			return true
		}
	}
	return false
}

// VerifyPlan is one check of the env, its {env} placeholders replaced.
type VerifyPlan struct {
	Name    string
	HTTP    *HTTPCheck
	Alarms  []string
	Command *CommandPlan
}

// StackPlan is one stack to deploy.
type StackPlan struct {
	ID           string
	Name         string // the CloudFormation stack name
	Template     string // path in the repo
	Body         string
	Parameters   map[string]string // only those the template declares
	Capabilities []string
	Tags         map[string]string
	Exports      []string
	Imports      []string
	After        []string // ids of the stacks it waits for
	// DependsOn are those of After its depends_on names: waited for to
	// their end, where an import's stack may be only ready (see task).
	DependsOn []string
	Why       map[string]string
	Digest    string // of what is deployed; kept as a stack tag
}

// CommandPlan is one command step to run.
type CommandPlan struct {
	CommandSpec
	AfterStacks []string // ids
}

// Node names a node of the plan's graph: stacks by id, commands by
// "command:" + name.
func commandNode(name string) string { return "command:" + name }

// BuildPlan resolves spec for t, reading templates and parameter files from
// files (the commit's tree). Every problem found comes back (errors.Join of
// *SpecError and cycle errors).
func BuildPlan(files fs.FS, spec *Spec, t Target) (*Plan, error) {
	p := &Plan{Target: t, External: map[string][]string{}}
	var errs []error
	specErr := func(line int, field, format string, args ...any) {
		errs = append(errs, &SpecError{File: spec.File, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	exporters := map[string]string{} // export -> stack id
	exportLine := map[string]string{}
	var stacks []*StackPlan
	templates := map[string]*template{}
	for _, s := range spec.Stacks {
		if !appliesTo(s.Envs, t.Env) {
			continue
		}
		f := "stacks." + s.ID
		sp := &StackPlan{ID: s.ID, Name: expand(s.Name, t.Env), Template: s.Template, Why: map[string]string{}}
		if err := checkStackName(sp.Name); err != nil {
			specErr(s.Line, f+".name", "for env %s: %v", t.Env, err)
		}
		body, err := readLimited(files, s.Template, maxTemplateURL)
		if err != nil {
			specErr(s.Line, f+".template", "%s: %v", s.Template, notFound(err))
			continue
		}
		tmpl, err := parseTemplate(s.Template, body)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		templates[s.ID] = tmpl
		sp.Body = string(body)
		// Parameters: common < file < per env.
		values := map[string]string{}
		for k, v := range s.Parameters {
			values[k] = expand(v, t.Env)
		}
		if s.ParameterFile != "" {
			pf := expand(s.ParameterFile, t.Env)
			fromFile, err := readParameterFile(files, pf)
			if err != nil {
				var se *SpecError
				if errors.As(err, &se) {
					errs = append(errs, err)
				} else {
					specErr(s.Line, f+".parameter_file", "%s (for env %s): %v", pf, t.Env, notFound(err))
				}
			}
			for k, v := range fromFile {
				values[k] = expand(v, t.Env)
			}
		}
		for k, v := range s.EnvParameters[t.Env] {
			values[k] = expand(v, t.Env)
		}
		sp.Parameters = map[string]string{}
		for k, v := range values {
			if _, ok := tmpl.params[k]; !ok {
				specErr(s.Line, f+".parameters", "%s is not a parameter of %s", k, s.Template)
				continue
			}
			sp.Parameters[k] = v
		}
		evalParams := maps.Clone(sp.Parameters)
		var missing []string
		for _, name := range tmpl.order {
			if _, ok := evalParams[name]; ok {
				continue
			}
			if d := tmpl.params[name].def; d != nil {
				evalParams[name] = *d
			} else {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			specErr(s.Line, f+".parameters", "%s needs a value for %s in env %s (no default in the template)", s.Template, strings.Join(missing, ", "), t.Env)
		}
		sp.Capabilities = slices.Clone(s.Capabilities)
		sp.Tags = map[string]string{}
		for k, v := range s.Tags {
			sp.Tags[k] = expand(v, t.Env)
		}
		ev := &evaluator{t: tmpl, params: evalParams, region: t.Region, accountID: t.AccountID, stackName: sp.Name}
		exps, err := tmpl.exports(ev)
		if err != nil {
			errs = append(errs, err)
		}
		for _, e := range exps {
			if other, dup := exporters[e.name]; dup {
				errs = append(errs, &SpecError{File: s.Template, Line: e.line, Field: "Outputs." + e.output + ".Export.Name",
					Msg: fmt.Sprintf("export %q is also exported by stack %s (%s); export names are unique per account and region", e.name, other, exportLine[e.name])})
				continue
			}
			exporters[e.name] = s.ID
			exportLine[e.name] = fmt.Sprintf("%s:%d", s.Template, e.line)
			sp.Exports = append(sp.Exports, e.name)
		}
		imps, err := tmpl.imports(ev)
		if err != nil {
			errs = append(errs, err)
		}
		for _, im := range imps {
			if !slices.Contains(sp.Imports, im.name) {
				sp.Imports = append(sp.Imports, im.name)
			}
		}
		for _, d := range s.DependsOn {
			sp.After = append(sp.After, d)
			sp.Why[d] = "depends_on"
		}
		stacks = append(stacks, sp)
	}
	ids := map[string]*StackPlan{}
	for _, sp := range stacks {
		ids[sp.ID] = sp
	}
	for _, sp := range stacks {
		// A depends_on on a stack the env filter removed is dropped.
		sp.After = slices.DeleteFunc(sp.After, func(d string) bool { return ids[d] == nil })
		sp.DependsOn = slices.Clone(sp.After)
		for _, im := range sp.Imports {
			from, ok := exporters[im]
			switch {
			case !ok:
				p.External[im] = append(p.External[im], sp.ID)
			case from == sp.ID:
				errs = append(errs, &SpecError{File: sp.Template, Msg: fmt.Sprintf("stack %s imports its own export %q", sp.ID, im)})
			default:
				if !slices.Contains(sp.After, from) {
					sp.After = append(sp.After, from)
				}
				sp.Why[from] = "imports " + im
			}
		}
		sort.Strings(sp.After)
		sp.Digest = sp.digest()
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	order, err := topoOrder(stacks)
	if err != nil {
		return nil, err
	}
	p.Stacks = order
	var prev string
	for _, c := range spec.Commands {
		if !appliesTo(c.Envs, t.Env) {
			continue
		}
		cp := expandCommand(c, t.Env)
		if c.After == nil {
			for _, sp := range order {
				cp.AfterStacks = append(cp.AfterStacks, sp.ID)
			}
		} else {
			for _, a := range c.After {
				if ids[a] != nil {
					cp.AfterStacks = append(cp.AfterStacks, a)
				}
			}
		}
		if prev != "" {
			cp.AfterStacks = append(cp.AfterStacks, commandNode(prev)) // commands run one after another
		}
		prev = c.Name
		p.Commands = append(p.Commands, cp)
	}
	p.SpecEnvs = slices.Sorted(maps.Keys(spec.Envs))
	if e := spec.Envs[t.Env]; e != nil {
		for _, a := range e.RollbackAlarms {
			p.RollbackAlarms = append(p.RollbackAlarms, expand(a, t.Env))
		}
		p.Monitoring = e.Monitoring
		for i, v := range e.Verify {
			vp := &VerifyPlan{Name: v.Name}
			for _, a := range v.Alarms {
				vp.Alarms = append(vp.Alarms, expand(a, t.Env))
			}
			if v.HTTP != nil {
				h := *v.HTTP
				h.URL = expand(h.URL, t.Env)
				if id, _, _ := strings.Cut(h.Output, "."); h.Output != "" && ids[id] == nil {
					specErr(v.Line, fmt.Sprintf("envs.%s.verify[%d].http.output", t.Env, i), "stack %s is not deployed to %s (its envs filter)", id, t.Env)
				}
				vp.HTTP = &h
			}
			if v.Command != nil {
				vp.Command = expandCommand(*v.Command, t.Env)
			}
			p.Verify = append(p.Verify, vp)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// expandCommand is a command step with env's name in its fields.
func expandCommand(c CommandSpec, env string) *CommandPlan {
	cp := &CommandPlan{CommandSpec: c}
	cp.Argv = make([]string, len(c.Argv))
	for i, a := range c.Argv {
		cp.Argv[i] = expand(a, env)
	}
	cp.Dir = expand(c.Dir, env)
	cp.Env = map[string]string{}
	for k, v := range c.Env {
		cp.Env[k] = expand(v, env)
	}
	return cp
}

// notFound shortens fs errors for people.
func notFound(err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return "no such file in the commit"
	}
	return err.Error()
}

// readParameterFile reads a parameter file: a mapping {Key: value} or
// CloudFormation's CLI form [{ParameterKey, ParameterValue}], in YAML or
// JSON.
func readParameterFile(files fs.FS, name string) (map[string]string, error) {
	data, err := readLimited(files, name, maxSpecFile)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(name, err)
	}
	out := map[string]string{}
	if len(doc.Content) == 0 {
		return out, nil
	}
	p := &specParser{file: name}
	root := doc.Content[0]
	switch root.Kind {
	case yaml.MappingNode:
		out = p.strMap(root, "")
	case yaml.SequenceNode:
		for i, item := range root.Content {
			f := fmt.Sprintf("[%d]", i)
			var k, v string
			var hasKey bool
			for _, kv := range p.mapping(item, f) {
				switch kv.key {
				case "ParameterKey":
					k, hasKey = p.str(kv.val, f+".ParameterKey"), true
				case "ParameterValue":
					v = p.scalar(kv.val, f+".ParameterValue")
				case "UsePreviousValue", "ResolvedValue":
					p.errf(kv.keyNode, f+"."+kv.key, "not supported: give the value")
				default:
					p.errf(kv.keyNode, f+"."+kv.key, "unknown field (want ParameterKey, ParameterValue)")
				}
			}
			if !hasKey {
				p.errf(item, f, "ParameterKey is required")
			}
			out[k] = v
		}
	default:
		p.errf(root, "", "a parameter file is a mapping of names to values, or a list of {ParameterKey, ParameterValue}")
	}
	return out, errors.Join(p.errs...)
}

// digest identifies what a deploy of the stack sends: it changes when the
// template, a parameter, a capability, a tag or the name changes.
func (sp *StackPlan) digest() string {
	caps := slices.Clone(sp.Capabilities)
	sort.Strings(caps)
	b, _ := json.Marshal(struct {
		Name   string
		Body   string
		Params map[string]string // json sorts map keys
		Caps   []string
		Tags   map[string]string
	}{sp.Name, sp.Body, sp.Parameters, caps, sp.Tags})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

// CycleError is an import or depends_on cycle.
type CycleError struct {
	Path []string // stack ids, first == last
	Why  []string // why each edge exists
}

func (e *CycleError) Error() string {
	var b strings.Builder
	b.WriteString("dependency cycle between stacks: ")
	for i := 0; i+1 < len(e.Path); i++ {
		fmt.Fprintf(&b, "%s needs %s (%s); ", e.Path[i], e.Path[i+1], e.Why[i])
	}
	return strings.TrimSuffix(b.String(), "; ")
}

// topoOrder sorts stacks dependencies first, keeping spec order among the
// ready ones (Kahn), and reports a cycle with its path.
func topoOrder(stacks []*StackPlan) ([]*StackPlan, error) {
	byID := map[string]*StackPlan{}
	indeg := map[string]int{}
	for _, s := range stacks {
		byID[s.ID] = s
		indeg[s.ID] = len(s.After)
	}
	var out []*StackPlan
	done := map[string]bool{}
	for len(out) < len(stacks) {
		progress := false
		for _, s := range stacks {
			if done[s.ID] || indeg[s.ID] > 0 {
				continue
			}
			done[s.ID] = true
			out = append(out, s)
			progress = true
			for _, o := range stacks {
				if slices.Contains(o.After, s.ID) {
					indeg[o.ID]--
				}
			}
			break // restart: keeps spec order among ready stacks
		}
		if !progress {
			return nil, findCycle(stacks, byID, done)
		}
	}
	return out, nil
}

func findCycle(stacks []*StackPlan, byID map[string]*StackPlan, done map[string]bool) error {
	state := map[string]int{} // 1 on stack, 2 finished
	var path []string
	var cyc []string
	var visit func(id string) bool
	visit = func(id string) bool {
		state[id] = 1
		path = append(path, id)
		for _, d := range byID[id].After {
			if done[d] {
				continue
			}
			if state[d] == 1 {
				i := slices.Index(path, d)
				cyc = append(slices.Clone(path[i:]), d)
				return true
			}
			if state[d] == 0 && visit(d) {
				return true
			}
		}
		path = path[:len(path)-1]
		state[id] = 2
		return false
	}
	for _, s := range stacks {
		if !done[s.ID] && state[s.ID] == 0 && visit(s.ID) {
			ce := &CycleError{Path: cyc}
			for i := 0; i+1 < len(cyc); i++ {
				ce.Why = append(ce.Why, byID[cyc[i]].Why[cyc[i+1]])
			}
			return ce
		}
	}
	return errors.New("dependency cycle between stacks")
}

// maxSpecFile bounds the spec and parameter files read.
const maxSpecFile = 1 << 20

// readLimited reads a file of the repo of at most limit bytes, refusing a
// larger one before reading it (by its size, then by reading no more than
// limit+1 bytes): the repo is anyone's who can push a branch, and an
// oversized file must not cost the bot its memory.
func readLimited(files fs.FS, name string, limit int64) ([]byte, error) {
	tooBig := func(size string) error {
		return fmt.Errorf("%s bytes, more than the %d this file may have (CloudFormation reads templates of up to 1 MB, through S3)", size, limit)
	}
	f, err := files.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > limit {
		return nil, tooBig(strconv.FormatInt(fi.Size(), 10))
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, tooBig("over " + strconv.FormatInt(limit, 10))
	}
	return data, nil
}
