package gitrepo

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
)

// Config describes one remote and how to talk to it.
type Config struct {
	// URL of the remote: https://host/owner/repo.git, ssh://git@host/repo.git,
	// git@host:owner/repo.git or file:///path. Credentials in the URL are
	// accepted (user:token@) but better passed in Auth; they never reach the
	// mirror's config on disk, logs or errors.
	URL string
	// CacheDir holds the bare mirrors, one directory per remote.
	CacheDir string
	// Auth is how to authenticate to the remote; the zero value is anonymous.
	Auth Auth
	// ProductionBranch is the branch of prod ("master" when empty).
	ProductionBranch string
	// ReleasePrefix starts the release branches' names ("release/" when empty).
	ReleasePrefix string
	// BotName and BotEmail are the committer of merge commits
	// ("Code-Releaser" and "code-releaser@localhost" when empty).
	BotName, BotEmail string
	// AuthorEmail is the e-mail of merge commits' author, whose name is the
	// requester's; BotEmail when empty.
	AuthorEmail string
}

// Auth holds the credentials for the remote. Token is used for HTTP(S)
// remotes (basic auth), SSHKeyPath for SSH remotes.
type Auth struct {
	// Token is a personal access token or app token, sent as the basic-auth
	// password. Username defaults to "x-access-token".
	Token    string
	Username string
	// SSHKeyPath is a private key file; SSHKeyPassphrase decrypts it if it
	// is encrypted. KnownHostsPath is the known_hosts file to check the
	// server's key against (required with SSHKeyPath). SSHUser defaults to
	// the URL's user, else "git".
	SSHKeyPath       string
	SSHKeyPassphrase string
	KnownHostsPath   string
	SSHUser          string
}

// LogValue keeps the secrets out of logs.
func (a Auth) LogValue() slog.Value {
	var attrs []slog.Attr
	if a.Token != "" {
		attrs = append(attrs, slog.String("token", "REDACTED"), slog.String("username", a.username()))
	}
	if a.SSHKeyPath != "" {
		attrs = append(attrs, slog.String("ssh_key", a.SSHKeyPath), slog.String("known_hosts", a.KnownHostsPath))
	}
	if len(attrs) == 0 {
		return slog.StringValue("anonymous")
	}
	return slog.GroupValue(attrs...)
}

// String keeps the secrets out of %v.
func (a Auth) String() string { return a.LogValue().String() }

// LogValue keeps the secrets out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", redactURL(c.URL)),
		slog.String("cache_dir", c.CacheDir),
		slog.Any("auth", c.Auth),
		slog.String("production_branch", c.ProductionBranch),
		slog.String("release_prefix", c.ReleasePrefix),
	)
}

func (a Auth) username() string {
	if a.Username != "" {
		return a.Username
	}
	return "x-access-token"
}

// withDefaults fills the empty fields with their defaults.
func (c Config) withDefaults() Config {
	if c.ProductionBranch == "" {
		c.ProductionBranch = "master"
	}
	if c.ReleasePrefix == "" {
		c.ReleasePrefix = "release/"
	}
	if c.BotName == "" {
		c.BotName = "Code-Releaser"
	}
	if c.BotEmail == "" {
		c.BotEmail = "code-releaser@localhost"
	}
	if c.AuthorEmail == "" {
		c.AuthorEmail = c.BotEmail
	}
	return c
}

// validate checks a Config with defaults applied; errors name the field.
func (c Config) validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("repo.url is required"))
	}
	if c.CacheDir == "" {
		errs = append(errs, errors.New("repo cache dir is required"))
	}
	if err := checkBranchName(c.ProductionBranch); err != nil {
		errs = append(errs, fmt.Errorf("repo.production_branch: %w", err))
	}
	if !strings.HasSuffix(c.ReleasePrefix, "/") {
		errs = append(errs, fmt.Errorf("repo.release_prefix %q must end with /", c.ReleasePrefix))
	} else if err := checkBranchName(c.ReleasePrefix + "x"); err != nil {
		errs = append(errs, fmt.Errorf("repo.release_prefix: %w", err))
	}
	if c.Auth.SSHKeyPath != "" && c.Auth.KnownHostsPath == "" {
		errs = append(errs, errors.New("repo.known_hosts is required with an SSH key: the server's key must be checked"))
	}
	if c.Auth.Token != "" && c.Auth.SSHKeyPath != "" {
		errs = append(errs, errors.New("repo auth: give a token (HTTPS) or an SSH key, not both"))
	}
	return errors.Join(errs...)
}

// splitURL separates the credentials of an HTTP(S) URL from it: clean has no
// user info; user and password are what it had (a lone user is usually a
// token). Other URLs (ssh://git@host, scp-like, file://) are returned as is.
func splitURL(raw string) (clean, user, password string) {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil || (u.Scheme != "http" && u.Scheme != "https") {
		return raw, "", ""
	}
	user = u.User.Username()
	password, _ = u.User.Password()
	u.User = nil
	return u.String(), user, password
}
