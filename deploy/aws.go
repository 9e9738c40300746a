package deploy

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/code-releaser/code-releaser/workflow"
)

// EnvAWS is where an env lives in AWS.
type EnvAWS struct {
	Region    string
	AccountID string // 12 digits; the account guard checks it
	RoleARN   string // assumed through STS when set
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
	return errors.Join(errs...)
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
