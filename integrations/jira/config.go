package jira

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config is what the adapter needs. Token comes from the environment
// (JIRA_API_TOKEN), never from the configuration file.
type Config struct {
	// URL is Jira's base URL: a Cloud site (https://acme.atlassian.net), the
	// Cloud gateway (https://api.atlassian.com/ex/jira/<cloudId>) or a
	// Server/Data Center base URL (with its context path, if any).
	URL string
	// Email is the bot account's email on Jira Cloud: with it the Token is
	// an API token sent with basic auth. Without it the Token is a Server/DC
	// personal access token sent as a bearer token.
	Email string
	Token string
	// BrowseURL is the base of the links to tickets people click
	// (<BrowseURL>/browse/OPS-1). Default: URL, except for the gateway,
	// which serves no pages.
	BrowseURL string
	// AllowUnvalidated lets releases go on while Jira is down (unreachable,
	// 5xx, rate limited): the ticket is then Unverified and the
	// announcement says so. Bad credentials, permissions and unknown
	// tickets still refuse.
	AllowUnvalidated bool
	// Transitions maps an env name to the status (or transition name) a
	// ticket moves to after a successful release there; optional.
	Transitions map[string]string
	// LinkNamespace scopes the remote links' globalIds so that two bots
	// (two infra repos) on one Jira keep their own links. Default
	// "code-releaser".
	LinkNamespace string
	// LinkURL is where a remote link points when the release has no
	// conversation link (no Slack thread): e.g. the infra repo's web page.
	// Without either, no remote link is written.
	LinkURL string
	// Timeout bounds each HTTP request (default 10s).
	Timeout time.Duration
	// MaxRetryWait is the longest Retry-After the client waits for (default
	// 10s); Retries bounds the retries of one request (default 2).
	MaxRetryWait time.Duration
	Retries      int
	// Transport is the HTTP transport under the auth; nil uses
	// http.DefaultTransport.
	Transport http.RoundTripper
}

// LogValue keeps the token out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", c.URL),
		slog.String("email", c.Email),
		slog.Bool("token_set", c.Token != ""),
		slog.Bool("allow_unvalidated", c.AllowUnvalidated),
	)
}

// String keeps the token out of %v.
func (c Config) String() string {
	return fmt.Sprintf("jira.Config{url: %s, email: %s, token set: %t}", c.URL, c.Email, c.Token != "")
}

// gatewayHost is Atlassian's API gateway, which scoped tokens need.
const gatewayHost = "api.atlassian.com"

// validate checks c and fills its defaults; errors name the field.
func (c *Config) validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		return fmt.Errorf("jira.url is required")
	case err != nil:
		return fmt.Errorf("jira.url: not a URL")
	case u.User != nil:
		return fmt.Errorf("jira.url: must not hold credentials; the token comes from JIRA_API_TOKEN")
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("jira.url: must not have a query or fragment")
	case u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())):
		return fmt.Errorf("jira.url: %s must use https (http only for a local Jira)", u.Redacted())
	}
	cloud := strings.HasSuffix(u.Hostname(), ".atlassian.net")
	gateway := u.Hostname() == gatewayHost
	if gateway {
		parts := strings.Split(strings.Trim(u.Path, "/"), "/")
		if len(parts) != 3 || parts[0] != "ex" || parts[1] != "jira" || parts[2] == "" {
			return fmt.Errorf("jira.url: the Atlassian gateway URL is https://api.atlassian.com/ex/jira/<cloudId>")
		}
	}
	if (cloud || gateway) && c.Email == "" {
		return fmt.Errorf("jira.email is required for Jira Cloud: its API tokens go with the account's email")
	}
	if c.Token == "" {
		return fmt.Errorf("JIRA_API_TOKEN is not set: Jira needs an API token (Cloud) or a personal access token (Server/Data Center)")
	}
	if strings.ContainsAny(c.Token, " \t\r\n") {
		return fmt.Errorf("JIRA_API_TOKEN holds blanks: paste the token alone")
	}
	if c.BrowseURL == "" && !gateway {
		c.BrowseURL = c.URL
	}
	c.BrowseURL = strings.TrimRight(c.BrowseURL, "/")
	if c.LinkNamespace == "" {
		c.LinkNamespace = "code-releaser"
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MaxRetryWait <= 0 {
		c.MaxRetryWait = 10 * time.Second
	}
	if c.Retries <= 0 {
		c.Retries = 2
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
