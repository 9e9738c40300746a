package main

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/code-releaser/code-releaser/deploy"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/code-releaser/code-releaser/integrations/gitrepo"
	"github.com/code-releaser/code-releaser/workflow"
)

// config is the operator's configuration: defaults, then the YAML file,
// then the environment, then validated. Secrets come from the environment
// only (GIT_TOKEN); the file never holds them.
type config struct {
	Repo         repoConfig  `yaml:"repo"`
	Slack        slackConfig `yaml:"slack"`
	Jira         jiraConfig  `yaml:"jira"`
	Redis        redisConfig `yaml:"redis"`
	Environments []envConfig `yaml:"environments"`
	// LeaseTTL is how long an env's lease lives unless renewed (default
	// 2m): a release whose process died blocks its env this long, then the
	// next worker resumes it.
	LeaseTTL time.Duration `yaml:"lease_ttl"`

	// From the environment only.
	GitToken      string `yaml:"-"`
	JiraToken     string `yaml:"-"`
	RedisPassword string `yaml:"-"` // REDIS_PASSWORD
	// secrets holds every secret of the environment, to redact them from
	// what the process persists and sends.
	secrets *workflow.Secrets

	// loadAWS, when set, replaces the SDK's default credential chain (the
	// demo points it at the CloudFormation simulator).
	loadAWS deploy.LoadAWS
	// deployAll is deploy --all: every stack, changed or not.
	deployAll bool
}

type repoConfig struct {
	URL              string `yaml:"url"`
	ProductionBranch string `yaml:"production_branch"`
	ReleasePrefix    string `yaml:"release_prefix"`
	CacheDir         string `yaml:"cache_dir"`
}

// slackConfig, jiraConfig and redisConfig are parsed and checked for
// unknown fields; the adapters that use them land in later issues.
type slackConfig struct {
	AnnounceChannel  string `yaml:"announce_channel"`
	ApprovalsChannel string `yaml:"approvals_channel"`
}

type jiraConfig struct {
	URL                  string   `yaml:"url"`
	Email                string   `yaml:"email"`
	Projects             []string `yaml:"projects"`
	DenyStatusCategories []string `yaml:"deny_status_categories"` // default [done]
	IssueTypes           []string `yaml:"issue_types"`
	// AllowUnvalidated lets releases go on while Jira is down; the
	// announcement says the ticket was not checked.
	AllowUnvalidated bool              `yaml:"allow_unvalidated"`
	Transitions      map[string]string `yaml:"transitions"` // env → status after a release there
	BrowseURL        string            `yaml:"browse_url"`  // for the api.atlassian.com gateway URL
}

type redisConfig struct {
	URL    string `yaml:"url"`    // empty: an in-memory store (one process)
	Prefix string `yaml:"prefix"` // of every key; default "code-releaser:"
}

type envConfig struct {
	Name        string              `yaml:"name"`
	Production  bool                `yaml:"production"`
	RequiresEnv string              `yaml:"requires_env"`
	Soak        time.Duration       `yaml:"soak"` // production: how long master's tickets must have lived in requires_env
	Allowed     []string            `yaml:"allowed"`
	AllowedFor  map[string][]string `yaml:"allowed_for"` // reset, remove, hold, release → IDs; overrides allowed
	AWS         awsConfig           `yaml:"aws"`
	Approvals   approvalsConfig     `yaml:"approvals"`
}

type awsConfig struct {
	Region    string `yaml:"region"`
	AccountID string `yaml:"account_id"`
	RoleARN   string `yaml:"role_arn"`
	// Templates over 51,200 bytes go through this S3 bucket ("bucket" or
	// "bucket/key/prefix/").
	TemplateBucket string `yaml:"template_bucket"`
	// What command steps get and as whom they run (deploy.StepPolicy).
	StepCredentials string       `yaml:"step_credentials"` // role (default), none, base (unsafe)
	StepRunner      []string     `yaml:"step_runner"`
	StepRunAs       *runAsConfig `yaml:"step_run_as"`
}

type runAsConfig struct {
	UID uint32 `yaml:"uid"`
	GID uint32 `yaml:"gid"`
}

type approvalsConfig struct {
	Required    int      `yaml:"required"`
	Approvers   []string `yaml:"approvers"`
	AllowSelf   bool     `yaml:"allow_self"`
	ExpireAfter string   `yaml:"expire_after"`
}

// String keeps the token out of %v.
func (c config) String() string {
	return fmt.Sprintf("config{repo: %s, environments: %d, git_token set: %t}", redactedURL(c.Repo.URL), len(c.Environments), c.GitToken != "")
}

func defaultConfig(getenv func(string) string) config {
	return config{Repo: repoConfig{
		ProductionBranch: "master",
		ReleasePrefix:    "release/",
		CacheDir:         defaultCacheDir(getenv),
	}}
}

// defaultCacheDir is os.UserCacheDir's answer, read through getenv.
func defaultCacheDir(getenv func(string) string) string {
	if d := getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "code-releaser")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".cache", "code-releaser")
	}
	return filepath.Join(os.TempDir(), "code-releaser-cache")
}

// loadConfig reads the file at path (relative to dir), applies the
// environment and validates the result.
func loadConfig(path, dir string, getenv func(string) string) (config, error) {
	if path == "" {
		return config{}, usageError{"--config FILE is required"}
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return config{}, fmt.Errorf("config: %w", err)
	}
	c, err := parseConfig(data, getenv)
	if err != nil {
		return config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// parseConfig is loadConfig without the file system.
func parseConfig(data []byte, getenv func(string) string) (config, error) {
	c := defaultConfig(getenv)
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return config{}, err
	}
	if err := checkNoSecrets(&root, ""); err != nil {
		return config{}, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return config{}, err
	}
	c.GitToken = getenv("GIT_TOKEN")
	c.RedisPassword = getenv("REDIS_PASSWORD")
	c.JiraToken = getenv("JIRA_API_TOKEN")
	c.secrets = processSecrets(getenv)
	c.loadAWS = envAWSLoader(getenv)
	if err := c.validate(); err != nil {
		return config{}, err
	}
	return c, nil
}

// tokenPrefixes start the tokens of the services an operator may paste by
// mistake (GitHub, GitLab, Slack, Atlassian, AWS access keys).
var tokenPrefixes = []string{"ghp_", "gho_", "ghs_", "ghu_", "github_pat_", "glpat-", "xoxb-", "xoxp-", "xapp-", "ATATT", "AKIA", "ASIA"}

// checkNoSecrets refuses a file that holds something that looks like a
// secret: a known token prefix, or a URL with a password. Errors name the
// field, never the value.
func checkNoSecrets(n *yaml.Node, path string) error {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if err := checkNoSecrets(c, path); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if path != "" {
				p = path + "." + p
			}
			if err := checkNoSecrets(n.Content[i+1], p); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if err := checkNoSecrets(c, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		if looksLikeSecret(n.Value) {
			return fmt.Errorf("%s: looks like a secret; secrets come from the environment (GIT_TOKEN, SLACK_BOT_TOKEN, JIRA_API_TOKEN), never from the file", path)
		}
	}
	return nil
}

func looksLikeSecret(v string) bool {
	for _, p := range tokenPrefixes {
		if strings.HasPrefix(v, p) && len(v) > len(p)+8 {
			return true
		}
	}
	if u, err := url.Parse(v); err == nil && u.User != nil && u.Scheme != "" {
		if _, ok := u.User.Password(); ok {
			return true
		}
		if u.Scheme == "http" || u.Scheme == "https" {
			return true // https://TOKEN@host: a lone user is usually a token
		}
	}
	return false
}

// validate checks the config; errors name the field.
func (c *config) validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Repo.URL == "" {
		add("repo.url", "is required")
	}
	if err := workflow.ValidateBranchName(c.Repo.ProductionBranch); err != nil {
		add("repo.production_branch", "%s", workflow.UserMessage(err))
	}
	if !strings.HasSuffix(c.Repo.ReleasePrefix, "/") {
		add("repo.release_prefix", "%q must end with /", c.Repo.ReleasePrefix)
	} else if err := workflow.ValidateBranchName(c.Repo.ReleasePrefix + "x"); err != nil {
		add("repo.release_prefix", "%s", workflow.UserMessage(err))
	}
	if c.Repo.CacheDir == "" {
		add("repo.cache_dir", "is required")
	}
	if c.Redis.URL != "" {
		if u, err := url.Parse(c.Redis.URL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			add("redis.url", "%q is not a redis://, rediss:// or unix:// URL", redactedURL(c.Redis.URL))
		}
	}
	if strings.ContainsAny(c.Redis.Prefix, "{}") {
		add("redis.prefix", "must not contain { or }")
	}
	if len(c.Environments) == 0 {
		add("environments", "at least one env is required")
	}
	seen := map[string]int{}
	for i, e := range c.Environments {
		f := fmt.Sprintf("environments[%d]", i)
		if err := workflow.ValidateEnvName(e.Name); err != nil {
			add(f+".name", "%q is not a valid env name (lower-case letters, digits and dashes)", e.Name)
		} else if j, dup := seen[e.Name]; dup {
			add(f+".name", "%q is already environments[%d]", e.Name, j)
		} else {
			seen[e.Name] = i
		}
		if e.AWS.isSet() {
			if err := e.AWS.envAWS().Validate(); err != nil {
				add(f+".aws", "%s", strings.ReplaceAll(err.Error(), "\n", "; "))
			}
		}
	}
	for i, e := range c.Environments {
		probs := e.Approvals.check()
		if len(probs) == 0 {
			if err := (workflow.Env{Name: e.Name, Production: e.Production, Approvals: e.Approvals.policy()}).ValidateApprovals(); err != nil {
				probs = append(probs, workflow.UserMessage(err))
			}
		}
		for _, err := range probs {
			add(fmt.Sprintf("environments[%d].approvals", i), "%s", err)
		}
		for act := range e.AllowedFor {
			switch act {
			case "release", "reset", "remove", "hold":
			default:
				add(fmt.Sprintf("environments[%d].allowed_for.%s", i, act), "is not one of release, reset, remove, hold")
			}
		}
	}
	for i, e := range c.Environments {
		switch {
		case e.Soak < 0:
			add(fmt.Sprintf("environments[%d].soak", i), "%v is negative", e.Soak)
		case e.Soak > 0 && !e.Production:
			add(fmt.Sprintf("environments[%d].soak", i), "only a production env has a soak (it gates the production branch it deploys)")
		case e.Soak > 0 && e.RequiresEnv == "":
			add(fmt.Sprintf("environments[%d].soak", i), "needs requires_env: the env whose deploys it measures (requires_env: stg)")
		}
		if e.RequiresEnv == "" {
			continue
		}
		if _, ok := seen[e.RequiresEnv]; !ok || e.RequiresEnv == e.Name {
			add(fmt.Sprintf("environments[%d].requires_env", i), "%q is not another configured env", e.RequiresEnv)
		}
	}
	for env := range c.Jira.Transitions {
		if _, ok := seen[env]; !ok {
			add("jira.transitions."+env, "%q is not a configured env", env)
		}
	}
	if c.LeaseTTL != 0 && c.LeaseTTL < time.Second {
		add("lease_ttl", "%v is too short: at least 1s (the lease is renewed every third of it)", c.LeaseTTL)
	}
	return errors.Join(errs...)
}

// workflowConfig is the workflow's part of the config.
func (c config) workflowConfig() workflow.Config {
	envs := make([]workflow.Env, len(c.Environments))
	for i, e := range c.Environments {
		envs[i] = workflow.Env{Name: e.Name, Production: e.Production, RequiresEnv: e.RequiresEnv, Soak: e.Soak, Allowed: e.Allowed,
			AllowedFor: e.AllowedFor, Approvals: e.Approvals.policy()}
	}
	return workflow.Config{
		Envs:             envs,
		ProductionBranch: c.Repo.ProductionBranch,
		ReleasePrefix:    c.Repo.ReleasePrefix,
		Policy:           c.ticketPolicy(),
		LeaseTTL:         c.LeaseTTL,
	}
}

// ticketPolicy is the policy of jira's section; tickets that are done are
// refused unless deny_status_categories says otherwise (an empty list
// refuses none).
func (c config) ticketPolicy() workflow.TicketPolicy {
	deny := c.Jira.DenyStatusCategories
	if deny == nil {
		deny = []string{"done"}
	}
	return workflow.TicketPolicy{Projects: c.Jira.Projects, DenyStatusCategories: deny, IssueTypes: c.Jira.IssueTypes}
}

// gitConfig is the git adapter's part of the config.
func (c config) gitConfig() gitrepo.Config {
	return gitrepo.Config{
		URL:              c.Repo.URL,
		CacheDir:         c.Repo.CacheDir,
		Auth:             gitrepo.Auth{Token: c.GitToken},
		ProductionBranch: c.Repo.ProductionBranch,
		ReleasePrefix:    c.Repo.ReleasePrefix,
	}
}

// redactedURL drops the user info of a URL for printing.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}
