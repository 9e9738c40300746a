package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/code-releaser/code-releaser/workflow"
)

// Source gives the files of a commit of the infra repo. The git adapter
// implements it on its mirror; tests use an fstest.MapFS.
type Source interface {
	Files(ctx context.Context, sha string) (fs.FS, error)
}

// Config configures a Deployer.
type Config struct {
	Envs         map[string]EnvAWS // by env name
	Parallel     int               // stacks deployed at once; default 4
	PollInterval time.Duration     // CloudFormation polling; default 5s
	// All deploys every stack, not only those whose template, parameters
	// or tags changed since their last deploy.
	All bool
	// Plan creates the change sets, reports them and deletes them: nothing
	// is deployed and no command runs.
	Plan bool
	// LoadAWS builds an env's base SDK config; default DefaultLoadAWS.
	LoadAWS LoadAWS
	// WorkDir holds the checkouts of command steps; default os.TempDir().
	WorkDir string
	// CommandEnv is the environment command steps start from (before the
	// bot adds HOME and TMPDIR in the step's work dir, the env's AWS
	// credentials and the outputs); default PATH and LANG of the process.
	// See StepPolicy for what else a step gets.
	CommandEnv []string
	// Redact replaces every secret the process knows in text (the
	// caller's tokens); with the env credentials' own redactor it is
	// applied to every progress line, step output line, failure reason
	// and summary. nil: only the credentials are redacted.
	Redact func(string) string
}

// Deployer deploys commits of the infra repo to envs: it implements
// workflow.Deployer.
type Deployer struct {
	log *slog.Logger
	src Source
	cfg Config
}

var _ workflow.Deployer = (*Deployer)(nil)

// New returns a Deployer; every env's AWS settings are validated.
func New(log *slog.Logger, src Source, cfg Config) (*Deployer, error) {
	var errs []error
	for name, a := range cfg.Envs {
		if err := a.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("env %s: aws: %w", name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 4
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 5 * time.Second
	}
	if cfg.LoadAWS == nil {
		cfg.LoadAWS = DefaultLoadAWS
	}
	if cfg.CommandEnv == nil {
		for _, k := range []string{"PATH", "LANG"} {
			if v, ok := os.LookupEnv(k); ok {
				cfg.CommandEnv = append(cfg.CommandEnv, k+"="+v)
			}
		}
	}
	return &Deployer{log: log, src: src, cfg: cfg}, nil
}

// LoadPlan reads the commit's spec and templates and resolves them for
// env. It makes no AWS call. A commit without a spec gives a nil plan.
func LoadPlan(files fs.FS, t Target) (*Plan, error) {
	data, err := readLimited(files, SpecFile, maxSpecFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	spec, err := ParseSpec(SpecFile, data)
	if err != nil {
		return nil, err
	}
	return BuildPlan(files, spec, t)
}

// Deploy deploys sha to env (see Config.Plan and Config.All). Bad input
// (spec, templates, parameters) and the account guard fail before any
// call that changes anything.
func (d *Deployer) Deploy(ctx context.Context, env workflow.Env, sha string, progress workflow.Progress) (workflow.DeployResult, error) {
	const op = "deploy"
	started := time.Now()
	result := workflow.DeployResult{SHA: sha, Started: started}
	if progress == nil {
		progress = func(workflow.Step) {}
	}
	redact := redactors(d.cfg.Redact)
	var mu sync.Mutex // progress may be called from several stacks at once
	report := func(name, format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		progress(workflow.Step{Name: name, At: time.Now(), Detail: redact(fmt.Sprintf(format, args...))})
	}
	t, err := d.open(ctx, op, env, sha)
	if err != nil {
		return result, err
	}
	if t.plan == nil {
		result.Status, result.Finished = workflow.DeploySkipped, time.Now()
		result.Summary = fmt.Sprintf("%s has no %s: nothing to deploy", shortSHA(sha), SpecFile)
		return result, nil
	}
	plan, files, cfg, a := t.plan, t.files, t.aws, t.env
	if unknown := d.unknownEnvs(plan.SpecEnvs); len(unknown) > 0 {
		report(SpecFile, "warning: its envs section names %s, which the bot does not deploy (its envs with aws settings: %s); their rollback triggers and checks apply to no env",
			strings.Join(unknown, ", "), strings.Join(slices.Sorted(maps.Keys(d.cfg.Envs)), ", "))
	}
	d.log.InfoContext(ctx, "deploy", slog.String("env", env.Name), slog.String("sha", sha), slog.Int("stacks", len(plan.Stacks)),
		slog.Int("commands", len(plan.Commands)), slog.Bool("plan", d.cfg.Plan), slog.Bool("all", d.cfg.All))

	runner := &stackRunner{cfn: t.cfn, templates: t.templates, poll: d.cfg.PollInterval, sha: sha, all: d.cfg.All, plan: d.cfg.Plan, progress: report,
		env: env.Name, releaseID: workflow.ReleaseIDOf(ctx), rollback: t.rollback, alarmNames: t.alarmNames}
	outcomes := map[string]*stackOutcome{}
	var omu sync.Mutex
	tasks := stackTasks(ctx, plan, runner, &omu, outcomes, report)
	cmdResults := map[string]workflow.StackResult{}
	var cr *commandRunner
	if !d.cfg.Plan && (len(plan.Commands) > 0 || plan.verifyCommands()) {
		base, err := os.MkdirTemp(d.cfg.WorkDir, "code-releaser-"+env.Name+"-")
		if err != nil {
			return result, workflow.Wrap(op, workflow.Internal, "", err)
		}
		defer os.RemoveAll(base)
		creds, note, err := stepCredentials(ctx, cfg, a)
		if err != nil {
			return result, err
		}
		cr = &commandRunner{files: files, base: base, env: env.Name, sha: sha, region: a.Region, creds: creds, credNote: note,
			policy: a.Steps, environ: d.cfg.CommandEnv, progress: report, redact: redactors(newRedactor(creds), d.cfg.Redact)}
		for _, cp := range plan.Commands {
			tasks = append(tasks, &task{
				id: commandNode(cp.Name), after: cp.AfterStacks,
				run: func(ctx context.Context, _ func()) bool {
					omu.Lock()
					outs := planOutputs(plan, outcomes)
					omu.Unlock()
					status, reason := cr.run(ctx, cp, outs)
					omu.Lock()
					cmdResults[cp.Name] = workflow.StackResult{Name: commandNode(cp.Name), Status: status, Reason: reason}
					omu.Unlock()
					return status == "succeeded"
				},
				skip: func(because string) {
					omu.Lock()
					cmdResults[cp.Name] = workflow.StackResult{Name: commandNode(cp.Name), Status: "skipped", Reason: skipReason(ctx, plan, because)}
					omu.Unlock()
					report(cp.Name, "skipped: %s", skipReason(ctx, plan, because))
				},
			})
		}
	}
	runGraph(ctx, tasks, d.cfg.Parallel)

	for _, sp := range plan.Stacks {
		result.Stacks = append(result.Stacks, outcomes[sp.ID].result)
	}
	for _, cp := range plan.Commands {
		if r, ok := cmdResults[cp.Name]; ok {
			result.Stacks = append(result.Stacks, r)
		}
	}
	if status, _ := summarize(result.Stacks, d.cfg.Plan); status == workflow.DeploySucceeded && !d.cfg.Plan && len(plan.Verify) > 0 {
		v := &verifier{cw: t.cw, client: &http.Client{}, commands: cr, outputs: planOutputs(plan, outcomes), progress: report}
		result.Stacks = append(result.Stacks, v.run(ctx, plan.Verify)...)
	}
	for i := range result.Stacks {
		result.Stacks[i].Reason = redact(result.Stacks[i].Reason)
	}
	result.Finished = time.Now()
	result.Status, result.Summary = summarize(result.Stacks, d.cfg.Plan)
	d.log.InfoContext(ctx, "deployed", slog.String("env", env.Name), slog.String("sha", sha), slog.String("status", string(result.Status)),
		slog.Duration("took", result.Finished.Sub(started)))
	return result, nil
}

// unknownEnvs are the names of envs that have no aws settings.
func (d *Deployer) unknownEnvs(names []string) []string {
	var out []string
	for _, n := range names {
		if _, ok := d.cfg.Envs[n]; !ok {
			out = append(out, n)
		}
	}
	return out
}

// target is what deploying (or planning) a commit to an env works on.
type target struct {
	env   EnvAWS
	files fs.FS
	plan  *Plan // nil: the commit has no spec
	aws   aws.Config
	cfn   cfnAPI
	// templates takes templates over maxTemplateBody; nil without a
	// template_bucket.
	templates *templateStore
	// cw reads the env's alarms (nil when the plan names none);
	// rollback and alarmNames are the change sets' rollback triggers.
	cw         cloudwatchAPI
	rollback   *types.RollbackConfiguration
	alarmNames map[string]string
}

// planOutputs gives the outputs of the plan's stacks deployed so far, by
// stack id (the caller guards outcomes).
func planOutputs(plan *Plan, outcomes map[string]*stackOutcome) map[string]stackOutputs {
	outs := map[string]stackOutputs{}
	for _, sp := range plan.Stacks {
		if o := outcomes[sp.ID]; o != nil {
			outs[sp.ID] = stackOutputs{StackName: sp.Name, Outputs: o.outputs}
		}
	}
	return outs
}

// open reads sha's spec and templates for env (no AWS call), then, when
// there is something to deploy, gets the env's credentials, checks the
// account guard and the exports. Nothing is changed.
//
// What does not wait on each other overlaps: the env's SDK configuration
// loads while the commit is read (it makes no call), and once the account
// guard has passed, the export check and the rollback alarms' look-up
// (both reads) run together.
func (d *Deployer) open(ctx context.Context, op string, env workflow.Env, sha string) (*target, error) {
	a, ok := d.cfg.Envs[env.Name]
	if !ok {
		return nil, workflow.Errorf(op, workflow.Invalid, "env %s has no AWS settings (environments[].aws in the config)", env.Name)
	}
	type loaded struct {
		cfg aws.Config
		err error
	}
	lctx, cancelLoad := context.WithCancel(ctx)
	defer cancelLoad()
	cfgc := make(chan loaded, 1)
	go func() {
		cfg, err := envConfig(lctx, d.cfg.LoadAWS, env.Name, a)
		cfgc <- loaded{cfg, err}
	}()
	files, err := d.src.Files(ctx, sha)
	if err != nil {
		return nil, err
	}
	plan, err := LoadPlan(files, Target{Env: env.Name, Region: a.Region, AccountID: a.AccountID})
	if err != nil {
		return nil, workflow.Wrap(op, workflow.Invalid, "the deploy spec of "+shortSHA(sha)+" is invalid:\n"+err.Error(), err)
	}
	t := &target{env: a, files: files, plan: plan}
	if plan == nil {
		return t, nil
	}
	if a.TemplateBucket == "" {
		for _, sp := range plan.Stacks {
			if len(sp.Body) > maxTemplateBody {
				return nil, workflow.Errorf(op, workflow.Invalid,
					"stack %s: its template %s is %d bytes, more than the %d CloudFormation takes in a request; set environments[].aws.template_bucket for %s (an S3 bucket the env's role may write) to pass it through S3. Nothing was changed",
					sp.Name, sp.Template, len(sp.Body), maxTemplateBody, env.Name)
			}
		}
	}
	l := <-cfgc
	if l.err != nil {
		return nil, l.err
	}
	t.aws = l.cfg
	cfn := cloudformation.NewFromConfig(t.aws)
	if plan.readsAlarms() {
		t.cw = cloudwatchClient(t.aws)
	}
	// Nothing, not even a read, reaches an account before the guard has
	// said it is the env's.
	if err := guardAccount(ctx, sts.NewFromConfig(t.aws), env.Name, a); err != nil {
		return nil, err
	}
	var alarmsErr error
	var wg sync.WaitGroup
	if t.cw != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.rollback, t.alarmNames, alarmsErr = rollbackConfiguration(ctx, t.cw, env.Name, plan)
		}()
	}
	exportsErr := checkExports(ctx, cfn, plan)
	wg.Wait()
	if err := cmp.Or(exportsErr, alarmsErr); err != nil {
		return nil, err
	}
	t.cfn = cfn
	if a.TemplateBucket != "" {
		t.templates = newTemplateStore(t.aws, a)
	}
	return t, nil
}

// stackTasks are the graph's tasks of plan's stacks: each puts its
// outcome in outcomes (under mu).
func stackTasks(ctx context.Context, plan *Plan, runner *stackRunner, mu *sync.Mutex, outcomes map[string]*stackOutcome, report func(name, format string, args ...any)) []*task {
	var tasks []*task
	for _, sp := range plan.Stacks {
		tasks = append(tasks, &task{
			// A stack may start as soon as the stacks it imports from are
			// ready (an update cleaning up: see stackRunner.follow); those
			// its depends_on names (which may be about what the cleanup
			// deletes), and a command's, are waited for to the end.
			id: sp.ID, after: sp.After, early: true, full: sp.DependsOn,
			run: func(ctx context.Context, ready func()) bool {
				o := runner.deploy(ctx, sp, ready)
				mu.Lock()
				outcomes[sp.ID] = &o
				mu.Unlock()
				return stackSucceeded(o.result.Status)
			},
			skip: func(because string) {
				o := stackOutcome{result: workflow.StackResult{Name: sp.Name, Status: StatusSkipped, Reason: skipReason(ctx, plan, because)}}
				mu.Lock()
				outcomes[sp.ID] = &o
				mu.Unlock()
				report(sp.Name, "skipped: %s", o.result.Reason)
			},
		})
	}
	return tasks
}

// skipReason says why a task was skipped: the stack or command that
// failed first, or the deploy's cancellation.
func skipReason(ctx context.Context, p *Plan, because string) string {
	if because == "" {
		if ctx.Err() != nil {
			return "the deploy was cancelled"
		}
		return "not run"
	}
	if name, ok := strings.CutPrefix(because, "command:"); ok {
		return "command " + name + " failed"
	}
	for _, sp := range p.Stacks {
		if sp.ID == because {
			return "it depends on " + sp.Name + ", which did not deploy"
		}
	}
	return because + " failed"
}

// summarize gives a deploy's status and its line for people.
func summarize(results []workflow.StackResult, plan bool) (workflow.DeployStatus, string) {
	count := map[string]int{}
	var failed []string
	for _, r := range results {
		count[r.Status]++
		if !stackSucceeded(r.Status) && r.Status != "succeeded" && r.Status != StatusVerified {
			switch {
			case r.Status == StatusVerifyFailed:
				failed = append(failed, "verification "+strings.TrimPrefix(r.Name, verifyNode(""))+" failed: "+firstLine(r.Reason))
			case r.Status != StatusSkipped && r.Status != "skipped":
				failed = append(failed, r.Name+" "+r.Status+": "+firstLine(r.Reason))
			}
		}
	}
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(count["CREATE_COMPLETE"], "created")
	add(count["UPDATE_COMPLETE"], "updated")
	add(count[StatusPlanned], "planned")
	add(count[StatusNoChanges]+count[StatusUnchanged], "unchanged")
	add(count["succeeded"], "command(s) ran")
	add(count[StatusVerified], "check(s) verified")
	add(count[StatusSkipped]+count["skipped"], "skipped")
	if len(failed) > 0 {
		return workflow.DeployFailed, strings.Join(failed, "; ") + " (" + strings.Join(parts, ", ") + ")"
	}
	if len(parts) == 0 {
		return workflow.DeploySucceeded, "nothing to deploy for this env"
	}
	if plan {
		return workflow.DeploySucceeded, "plan: " + strings.Join(parts, ", ")
	}
	return workflow.DeploySucceeded, strings.Join(parts, ", ")
}

// firstLine is a step's reason on one line: its first line, and when that
// ends with a command's "last output:", the output's last line (what a
// failing check says last is what people need).
func firstLine(s string) string {
	first, rest, _ := strings.Cut(s, "\n")
	if !strings.HasSuffix(first, "last output:") {
		return first
	}
	lines := strings.Split(strings.TrimRight(rest, "\n "), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if last == "" {
		return strings.TrimSuffix(first, "; last output:")
	}
	if len(last) > 200 {
		last = strings.ToValidUTF8(last[:200], "") + "…"
	}
	return first + " " + last
}

// checkExports checks the plan's exports and imports against the
// account's before anything changes: every outside import must exist, and
// no export of the plan may belong to a stack outside it.
func checkExports(ctx context.Context, cfn cfnAPI, p *Plan) error {
	const op = "deploy.exports"
	names := map[string]bool{}
	for _, sp := range p.Stacks {
		names[sp.Name] = true
	}
	var needOwners bool
	for _, sp := range p.Stacks {
		needOwners = needOwners || len(sp.Exports) > 0
	}
	if len(p.External) == 0 && !needOwners {
		return nil
	}
	existing := map[string]string{} // export -> exporting stack id
	var next *string
	for {
		out, err := cfn.ListExports(ctx, &cloudformation.ListExportsInput{NextToken: next})
		if err != nil {
			return workflow.Wrap(op, workflow.Unavailable, "cannot list the account's CloudFormation exports", errors.New(apiMessage(err)))
		}
		for _, e := range out.Exports {
			existing[aws.ToString(e.Name)] = aws.ToString(e.ExportingStackId)
		}
		if out.NextToken == nil {
			break
		}
		next = out.NextToken
	}
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(p.External)) {
		if _, ok := existing[name]; !ok {
			problems = append(problems, fmt.Sprintf("%s import %q, which no stack of the spec exports and the account does not have", strings.Join(p.External[name], ", "), name))
		}
	}
	for _, sp := range p.Stacks {
		for _, e := range sp.Exports {
			owner, ok := existing[e]
			if ok && stackNameOfID(owner) != sp.Name {
				problems = append(problems, fmt.Sprintf("stack %s exports %q, which stack %s already exports in this account", sp.Name, e, stackNameOfID(owner)))
			}
		}
	}
	if len(problems) > 0 {
		return workflow.Errorf(op, workflow.Invalid, "%s", strings.Join(problems, "; "))
	}
	return nil
}

// stackNameOfID extracts the name from a stack ARN
// (arn:aws:cloudformation:region:account:stack/NAME/uuid).
func stackNameOfID(id string) string {
	parts := strings.Split(id, "/")
	if len(parts) >= 2 {
		return parts[1]
	}
	return id
}
