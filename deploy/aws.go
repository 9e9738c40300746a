package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/code-releaser/code-releaser/workflow"
)

// EnvAWS is where an env lives in AWS, and what its command steps may
// use. It comes from the operator's config, never from the infra repo
// (whose code-releaser.yml anyone who can push a ticket branch controls).
type EnvAWS struct {
	Region    string
	AccountID string // 12 digits; the account guard checks it
	RoleARN   string // assumed through STS when set
	// TemplateBucket ("bucket" or "bucket/key/prefix/") receives, with
	// the env's credentials, the templates over CloudFormation's 51,200
	// bytes of TemplateBody, passed as TemplateURL (up to 1 MB).
	TemplateBucket string
	Steps          StepPolicy
}

// StepPolicy is the operator's choice of what a command step of an env
// gets and as whom it runs. A step runs code from the released commit, so
// it must be assumed to be written by whoever pushed a ticket branch.
//
// What protects what:
//
//   - Credentials: a step gets the env's assumed-role credentials (short-
//     lived, of the env's account only) and never the bot's base
//     credentials, which can assume every env's role, prod's included. An
//     env without role_arn gives its steps no AWS credentials unless
//     Credentials is StepCredentialsBase.
//   - Environment: only PATH and LANG of the bot (or Config.CommandEnv),
//     HOME and TMPDIR inside the step's own work dir (not the bot's HOME,
//     which holds the git mirror, git and AWS credentials), the stack
//     outputs, the env name and the commit. AWS_EC2_METADATA_DISABLED is
//     set so that SDKs do not fall back to the instance's role.
//   - A step of the bot's own user can read the bot's files (~/.aws, an
//     SSH key, the config) and signal it. The bot's secrets in memory are
//     out of its reach only because the command (cmd/code-releaser) takes
//     them out of its environment and makes itself non-dumpable at start;
//     a step of root reads any memory. RunAs or Runner make the step's
//     user a boundary; a bot that runs as root runs its steps as nobody
//     unless the env names one.
//   - RunAs (the bot must run as root): the step runs as another uid and
//     gid with no supplementary groups. It cannot read the bot's 0600
//     files, its environment or its memory; its checkout, home and temp
//     dir are given to that uid. It still shares the host's network
//     (block the instance metadata endpoint for it, e.g. IMDSv2 with hop
//     limit 1 in containers or an iptables owner rule, or it gets the
//     instance role) and the kernel.
//   - Runner: argv prefixed to every step, e.g. [sudo, -n, -u, deployer,
//     --] (a sudoers rule for the bot's user; sudo's env_reset drops the
//     step's environment unless env_keep or --preserve-env names it) or
//     [docker, run, --rm, -i, -v, "{dir}:{dir}", -w, "{dir}", --env-file,
//     ..., image] (the filesystem and process table are the container's;
//     access to the Docker socket is root on the host, so the bot's user
//     is trusted with it, not the step). "{dir}" is the step's working
//     directory. The runner process starts with the step's environment.
type StepPolicy struct {
	Credentials string   // "" or StepCredentialsRole, StepCredentialsNone, StepCredentialsBase
	Runner      []string // prefixed to every step's argv
	RunAs       *RunAs
}

// The values of StepPolicy.Credentials.
const (
	// StepCredentialsRole (the default): the assumed role's credentials,
	// none without role_arn.
	StepCredentialsRole = "role"
	// StepCredentialsNone: no AWS credentials, whatever the env has.
	StepCredentialsNone = "none"
	// StepCredentialsBase: without role_arn, the bot's own credentials.
	// Unsafe: whoever can push a ticket branch gets them, and with them
	// every role they can assume.
	StepCredentialsBase = "base"
)

// RunAs is the user and group command steps run as.
type RunAs struct {
	UID, GID uint32
}

var (
	accountRE = regexp.MustCompile(`^\d{12}$`)
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
	roleRE    = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]+$`)
)

// Validate checks the settings; errors name the field.
func (a EnvAWS) Validate() error {
	var errs []error
	if !regionRE.MatchString(a.Region) {
		errs = append(errs, fmt.Errorf("region: %q is not an AWS region (e.g. eu-west-1)", a.Region))
	}
	if !accountRE.MatchString(a.AccountID) {
		errs = append(errs, fmt.Errorf("account_id: %q is not a 12-digit AWS account id (quote it in YAML)", a.AccountID))
	}
	if a.RoleARN != "" {
		m := roleRE.FindStringSubmatch(a.RoleARN)
		switch {
		case m == nil:
			errs = append(errs, fmt.Errorf("role_arn: %q is not an IAM role ARN", a.RoleARN))
		case accountRE.MatchString(a.AccountID) && m[1] != a.AccountID:
			errs = append(errs, fmt.Errorf("role_arn: the role is in account %s, not in the env's account %s", m[1], a.AccountID))
		}
	}
	if a.TemplateBucket != "" {
		if err := validateBucket(a.TemplateBucket); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, a.Steps.validate()...)
	return errors.Join(errs...)
}

func (p StepPolicy) validate() []error {
	var errs []error
	switch p.Credentials {
	case "", StepCredentialsRole, StepCredentialsNone, StepCredentialsBase:
	default:
		errs = append(errs, fmt.Errorf("step_credentials: %q is not one of role, none, base", p.Credentials))
	}
	if len(p.Runner) > 0 && p.Runner[0] == "" {
		errs = append(errs, errors.New("step_runner: the first element must name a program"))
	}
	if p.RunAs != nil {
		if p.RunAs.UID == 0 {
			errs = append(errs, errors.New("step_run_as: uid 0 is root: name an unprivileged user"))
		}
		if !runAsSupported() {
			errs = append(errs, errors.New("step_run_as: needs a unix system"))
		} else if os.Geteuid() != 0 {
			errs = append(errs, fmt.Errorf("step_run_as: the bot runs as uid %d, and only root can start a step as another user; run the bot as root or use step_runner (e.g. [sudo, -n, -u, deployer, --])", os.Geteuid()))
		}
	}
	return errs
}

// stepCredentials are the AWS credentials command steps get, with a note
// for their progress when they get none or the base ones.
func stepCredentials(ctx context.Context, cfg aws.Config, a EnvAWS) (creds aws.Credentials, note string, err error) {
	switch {
	case a.Steps.Credentials == StepCredentialsNone:
		return aws.Credentials{}, "no AWS credentials (step_credentials: none)", nil
	case a.RoleARN == "" && a.Steps.Credentials != StepCredentialsBase:
		return aws.Credentials{}, "no AWS credentials: the env has no role_arn, and the bot's own credentials are not given to steps (set aws.role_arn)", nil
	}
	creds, err = cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, "", workflow.Wrap("deploy.steps", workflow.Unavailable, "cannot get AWS credentials for the command steps", errors.New(apiMessage(err)))
	}
	if a.RoleARN == "" {
		note = "with the bot's own AWS credentials (step_credentials: base)"
	}
	return creds, note, nil
}

// LoadAWS builds the base SDK configuration for a region; the deployer
// layers the env's role on top. DefaultLoadAWS uses the SDK's default
// chain (environment, shared files, instance or task role).
type LoadAWS func(ctx context.Context, region string) (aws.Config, error)

// DefaultLoadAWS is config.LoadDefaultConfig for the region.
func DefaultLoadAWS(ctx context.Context, region string) (aws.Config, error) {
	return config.LoadDefaultConfig(ctx, config.WithRegion(region))
}

// stsAPI is the part of the STS client the account guard calls.
type stsAPI interface {
	GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// envConfig returns the SDK configuration of an env: base credentials,
// then the env's role assumed through STS.
func envConfig(ctx context.Context, load LoadAWS, env string, a EnvAWS) (aws.Config, error) {
	cfg, err := load(ctx, a.Region)
	if err != nil {
		return aws.Config{}, workflow.Wrap("deploy.aws", workflow.Unavailable, "cannot load AWS credentials for "+env, err)
	}
	if a.RoleARN != "" {
		provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), a.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "code-releaser-" + env
		})
		cfg.Credentials = aws.NewCredentialsCache(provider)
	}
	return cfg, nil
}

// guardAccount is the account guard: the credentials must reach the env's
// account, checked before anything is changed.
func guardAccount(ctx context.Context, c stsAPI, env string, a EnvAWS) error {
	out, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		msg := "cannot check which AWS account the credentials of " + env + " reach"
		if a.RoleARN != "" {
			msg += " (assuming " + a.RoleARN + ")"
		}
		return workflow.Wrap("deploy.guard", workflow.Unavailable, msg, errors.New(apiMessage(err)))
	}
	if got := aws.ToString(out.Account); got != a.AccountID {
		return workflow.Errorf("deploy.guard", workflow.Forbidden,
			"refusing to deploy %s: the credentials reach AWS account %s (%s), but %s is account %s; nothing was changed",
			env, got, aws.ToString(out.Arn), env, a.AccountID)
	}
	return nil
}
