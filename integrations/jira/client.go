package jira

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	gojira "github.com/andygrunwald/go-jira"

	"github.com/code-releaser/code-releaser/workflow"
)

// Client is the Jira adapter. It is safe for concurrent use.
type Client struct {
	log *slog.Logger
	cfg Config
	jc  *gojira.Client

	// sleep waits for a Retry-After; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// maxBody bounds what is read of an answer.
const maxBody = 1 << 20

// New returns a Client for cfg. It does no I/O: call Preflight to check
// the credentials.
func New(log *slog.Logger, cfg Config) (*Client, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var rt http.RoundTripper
	if cfg.Email != "" {
		rt = &gojira.BasicAuthTransport{Username: cfg.Email, Password: cfg.Token, Transport: cfg.Transport}
	} else {
		rt = &gojira.PATAuthTransport{Token: cfg.Token, Transport: cfg.Transport}
	}
	hc := &http.Client{
		Transport: rt,
		Timeout:   cfg.Timeout,
		// Credentials must not follow a redirect to another host.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > 0 && req.URL.Host != via[0].URL.Host {
				return fmt.Errorf("jira redirected to another host (%s); set jira.url to the final URL", req.URL.Host)
			}
			if len(via) >= 5 {
				return fmt.Errorf("too many redirects")
			}
			return nil
		},
	}
	jc, err := gojira.NewClient(hc, cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("jira.url: %w", err)
	}
	return &Client{log: log, cfg: cfg, jc: jc, sleep: sleepCtx}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Identity is the account Code-Releaser uses in Jira.
type Identity struct {
	DisplayName string
	AccountID   string // Cloud
	Name        string // Server/Data Center user name
	Email       string // often hidden on Cloud
}

func (id Identity) String() string {
	who := id.AccountID
	if who == "" {
		who = id.Name
	}
	if id.DisplayName != "" {
		return id.DisplayName + " (" + who + ")"
	}
	return who
}

// Preflight checks that Jira answers and accepts the credentials
// (GET rest/api/2/myself), so that a bad token is found at start rather
// than at the first release.
func (c *Client) Preflight(ctx context.Context) (Identity, error) {
	const op = "jira.preflight"
	var u gojira.User
	if err := c.call(ctx, op, "Code-Releaser's own account", http.MethodGet, "rest/api/2/myself", nil, &u); err != nil {
		return Identity{}, err
	}
	id := Identity{DisplayName: u.DisplayName, AccountID: u.AccountID, Name: u.Name, Email: u.EmailAddress}
	if id.AccountID == "" && id.Name == "" {
		return Identity{}, workflow.Errorf(op, workflow.Unavailable, "%s does not look like Jira: GET rest/api/2/myself named no account", c.cfg.URL)
	}
	if !u.Active && u.AccountType != "" {
		return id, workflow.Errorf(op, workflow.Unavailable, "Code-Releaser's Jira account %s is deactivated", id)
	}
	return id, nil
}

// call sends one REST request (body JSON-encoded when not nil) and decodes
// a 2xx answer into out when not nil. subject names what the request is
// about in error messages. A 429, or a 503 on a GET, is retried after its
// Retry-After when that is at most MaxRetryWait, up to Retries times.
func (c *Client) call(ctx context.Context, op, subject, method, path string, body, out any) error {
	for attempt := 0; ; attempt++ {
		status, err := c.once(ctx, op, subject, method, path, body, out)
		if err == nil {
			return nil
		}
		se, ok := err.Err.(*StatusError)
		retryable := ok && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable && method == http.MethodGet)
		if !retryable || attempt >= c.cfg.Retries {
			return err
		}
		wait := se.RetryAfter
		if wait == 0 {
			wait = time.Duration(attempt+1) * time.Second
		}
		if wait > c.cfg.MaxRetryWait {
			return err // too long to hold a release for; the message says when to retry
		}
		c.log.Debug("jira retry", slog.String("path", path), slog.Int("status", status), slog.Duration("wait", wait))
		if serr := c.sleep(ctx, wait); serr != nil {
			return transportError(ctx, op, serr)
		}
	}
}

// once sends the request once; it returns the HTTP status (0 when none).
func (c *Client) once(ctx context.Context, op, subject, method, path string, body, out any) (int, *workflow.Error) {
	req, err := c.jc.NewRequestWithContext(ctx, method, path, body)
	if err != nil {
		return 0, workflow.Wrap(op, workflow.Internal, "", err)
	}
	req.Header.Set("Accept", "application/json")
	// Do with a nil target leaves the body to us, on success and failure.
	resp, err := c.jc.Do(req, nil)
	if resp == nil || resp.Response == nil {
		if err == nil {
			err = fmt.Errorf("no response")
		}
		return 0, transportError(ctx, op, err)
	}
	defer resp.Body.Close()
	data, rerr := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		se := &StatusError{
			Method: method, Path: strings.SplitN(path, "?", 2)[0], Status: resp.StatusCode,
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now()),
			Detail:     jiraMessage(data),
		}
		return resp.StatusCode, classify(op, subject, se)
	}
	if rerr != nil {
		return resp.StatusCode, transportError(ctx, op, rerr)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, workflow.Wrap(op, workflow.Unavailable,
				fmt.Sprintf("Jira's answer to %s %s is not what Code-Releaser expects; is jira.url Jira's base URL?", method, strings.SplitN(path, "?", 2)[0]), err)
		}
	}
	return resp.StatusCode, nil
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
