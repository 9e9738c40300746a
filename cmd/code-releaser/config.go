package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/code-releaser/code-releaser/deploy"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/code-releaser/code-releaser/integrations/gitrepo"
	"github.com/code-releaser/code-releaser/store"
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
	GitToken         string `yaml:"-"`
	JiraToken        string `yaml:"-"`
	RedisPassword    string `yaml:"-"` // REDIS_PASSWORD
	SentinelPassword string `yaml:"-"` // SENTINEL_PASSWORD
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

// redisConfig says where the shared state is: one of url (one server),
// sentinel or cluster; none of them is an in-memory store (one process).
type redisConfig struct {
	URL      string          `yaml:"url"`
	Sentinel *sentinelConfig `yaml:"sentinel"`
	Cluster  *clusterConfig  `yaml:"cluster"`
	TLS      *redisTLSConfig `yaml:"tls"`
	Prefix   string          `yaml:"prefix"` // of every key; default "code-releaser:"
}

type sentinelConfig struct {
	Master string   `yaml:"master"`
	Addrs  []string `yaml:"addrs"`
}

type clusterConfig struct {
	Addrs []string `yaml:"addrs"`
}

type redisTLSConfig struct {
	CAFile     string `yaml:"ca_file"`     // PEM; default: the system's roots
	ServerName string `yaml:"server_name"` // default: the host dialled
}

// shared reports whether the config names a Redis (url, sentinel or
// cluster): the state every replica and terminal shares.
func (r redisConfig) shared() bool {
	return r.URL != "" || r.Sentinel != nil || r.Cluster != nil
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
	Occupancy   occupancyConfig     `yaml:"occupancy"`
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
	c.SentinelPassword = getenv("SENTINEL_PASSWORD")
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
	errs = append(errs, c.Redis.validate(c.SentinelPassword != "")...)
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
		if _, probs := e.Occupancy.policy(workflow.Env{Name: e.Name, Production: e.Production}); len(probs) > 0 {
			for _, p := range probs {
				add(fmt.Sprintf("environments[%d].occupancy", i), "%s", p)
			}
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

// validate checks the redis section; errors name the field.
func (r redisConfig) validate(sentinelPassword bool) []error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	var set []string
	if r.URL != "" {
		set = append(set, "url")
	}
	if r.Sentinel != nil {
		set = append(set, "sentinel")
	}
	if r.Cluster != nil {
		set = append(set, "cluster")
	}
	if len(set) > 1 {
		add("redis", "set one of url, sentinel or cluster, not %s", strings.Join(set, " and "))
	}
	if r.URL != "" {
		if u, err := url.Parse(r.URL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			add("redis.url", "%q is not a redis://, rediss:// or unix:// URL", redactedURL(r.URL))
		} else if r.TLS != nil && u.Scheme != "rediss" {
			add("redis.tls", "redis.url is %s:// (no TLS): write rediss:// to use TLS", u.Scheme)
		}
	}
	if r.Sentinel != nil {
		if r.Sentinel.Master == "" {
			add("redis.sentinel.master", "is required: the name the sentinels monitor the primary under (sentinel monitor NAME ...)")
		}
		if len(r.Sentinel.Addrs) == 0 {
			add("redis.sentinel.addrs", "is required: the sentinels' host:port (usually three)")
		}
		for i, a := range r.Sentinel.Addrs {
			if !isHostPort(a) {
				add(fmt.Sprintf("redis.sentinel.addrs[%d]", i), "%q is not host:port", a)
			}
		}
	} else if sentinelPassword {
		add("redis", "SENTINEL_PASSWORD is set but there is no redis.sentinel section")
	}
	if r.Cluster != nil {
		if len(r.Cluster.Addrs) == 0 {
			add("redis.cluster.addrs", "is required: host:port of one or more nodes of the cluster")
		}
		for i, a := range r.Cluster.Addrs {
			if !isHostPort(a) {
				add(fmt.Sprintf("redis.cluster.addrs[%d]", i), "%q is not host:port", a)
			}
		}
	}
	if r.TLS != nil {
		if !r.shared() {
			add("redis.tls", "needs redis.url, redis.sentinel or redis.cluster")
		}
		if r.TLS.CAFile != "" {
			if _, err := r.TLS.config(); err != nil {
				add("redis.tls.ca_file", "%v", err)
			}
		}
	}
	if strings.ContainsAny(r.Prefix, "{}") {
		add("redis.prefix", "must not contain { or }")
	}
	return errs
}

// isHostPort reports whether a is host:port with a port number.
func isHostPort(a string) bool {
	host, port, err := net.SplitHostPort(a)
	if err != nil || host == "" {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n > 0 && n < 65536
}

// config is the TLS client config of the section: the CA file's
// certificates as roots (else the system's), and the server name.
func (t *redisTLSConfig) config() (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("cannot read the CA certificates: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", t.CAFile)
		}
	}
	return c, nil
}

// redisTarget is the store's part of the config.
func (c config) redisTarget() (store.RedisTarget, error) {
	t := store.RedisTarget{URL: c.Redis.URL, Password: c.RedisPassword, SentinelPassword: c.SentinelPassword}
	if s := c.Redis.Sentinel; s != nil {
		t.MasterName, t.SentinelAddrs = s.Master, s.Addrs
	}
	if cl := c.Redis.Cluster; cl != nil {
		t.ClusterAddrs = cl.Addrs
	}
	tc, err := c.Redis.TLS.config()
	if err != nil {
		return t, fmt.Errorf("redis.tls.ca_file: %w", err)
	}
	if tc != nil && c.Redis.URL != "" && tc.ServerName == "" {
		if u, err := url.Parse(c.Redis.URL); err == nil {
			tc.ServerName = u.Hostname()
		}
	}
	t.TLS = tc
	return t, nil
}

// workflowConfig is the workflow's part of the config.
func (c config) workflowConfig() workflow.Config {
	envs := make([]workflow.Env, len(c.Environments))
	for i, e := range c.Environments {
		envs[i] = workflow.Env{Name: e.Name, Production: e.Production, RequiresEnv: e.RequiresEnv, Soak: e.Soak, Allowed: e.Allowed,
			AllowedFor: e.AllowedFor, Approvals: e.Approvals.policy()}
		envs[i].Occupancy, _ = e.Occupancy.policy(envs[i])
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
