package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/code-releaser/code-releaser/workflow"
)

const redactedText = "REDACTED"

// userInfoRE matches the user info of a URL ("://user:secret@").
var userInfoRE = regexp.MustCompile(`://[^/@\s]+@`)

// redactURL removes the user info of an HTTP(S) URL (a user alone may be a
// token) and the password of any other URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return userInfoRE.ReplaceAllString(raw, "://"+redactedText+"@")
	}
	if u.User == nil {
		return raw
	}
	if u.Scheme == "http" || u.Scheme == "https" {
		u.User = url.User(redactedText)
	} else if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), redactedText)
	}
	return u.String()
}

// redactor removes known secrets from text.
type redactor struct {
	secrets []string
}

func newRedactor(secrets ...string) *redactor {
	r := &redactor{}
	for _, s := range secrets {
		// Very short strings would redact ordinary words; tokens and
		// passwords worth hiding are longer.
		if len(s) >= 4 {
			r.secrets = append(r.secrets, s, url.QueryEscape(s), url.PathEscape(s))
		}
	}
	return r
}

func (r *redactor) string(s string) string {
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, redactedText)
	}
	return userInfoRE.ReplaceAllString(s, "://"+redactedText+"@")
}

// error returns err with its message redacted; errors.Is and errors.As
// still see the causes, but the text of the chain is never printed from
// them by workflow.Error.
func (r *redactor) error(err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{msg: r.string(err.Error()), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Messages for the user, by kind.
const (
	msgAuth        = "the git remote refused our credentials: check GIT_TOKEN (HTTPS) or the SSH key and known_hosts (SSH)"
	msgUnreachable = "cannot reach the git remote %s"
	msgNoRepo      = "the git remote %s has no such repository, or our credentials cannot see it: check repo.url and GIT_TOKEN"
	msgCancelled   = "the git operation was cancelled or timed out"
	msgRefMoved    = "%s moved on the remote while we were working: fetch and merge again"
)

// remoteError translates an error from talking to the remote into a
// *workflow.Error of the right kind, with the secrets redacted. branch is
// the branch being pushed, "" for fetches.
func (m *Mirror) remoteError(op, branch string, err error) error {
	if err == nil {
		return nil
	}
	var we *workflow.Error
	if errors.As(err, &we) {
		return err
	}
	cause := m.redact.error(err)
	url := redactURL(m.url)
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return workflow.Wrap(op, workflow.Unavailable, msgCancelled, cause)
	case errors.Is(err, transport.ErrAuthenticationRequired),
		errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrInvalidAuthMethod),
		isSSHAuthFailure(err):
		return workflow.Wrap(op, workflow.Forbidden, msgAuth, cause)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return workflow.Wrap(op, workflow.Unavailable, fmt.Sprintf(msgNoRepo, url), cause)
	case isRefMoved(err):
		return workflow.Wrap(op, workflow.Busy, fmt.Sprintf(msgRefMoved, branch), &refMovedError{cause})
	case isUnreachable(err):
		return workflow.Wrap(op, workflow.Unavailable, fmt.Sprintf(msgUnreachable, url), cause)
	}
	return workflow.Wrap(op, workflow.Internal, "", cause)
}

// refMovedError is the cause of a lost race: it is workflow.ErrRefMoved for
// errors.Is, and prints only what the remote said.
type refMovedError struct{ cause error }

func (e *refMovedError) Error() string   { return e.cause.Error() }
func (e *refMovedError) Unwrap() []error { return []error{workflow.ErrRefMoved, e.cause} }

// isRefMoved is the one place that recognises, by message, a push refused
// because the remote ref is not where we expected it: go-git and the git
// servers have no typed errors for this.
func isRefMoved(err error) bool {
	msg := strings.ToLower(err.Error())
	for _, s := range []string{
		"non-fast-forward",
		"failed to update ref",
		"fetch first",
		"stale info",
		"required to be",
		"reference already exists",
		"cannot lock ref",
		"failed to lock",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// isSSHAuthFailure recognises the SSH client's refusals (bad key, unknown
// or mismatched host key); x/crypto/ssh has no typed errors for them.
func isSSHAuthFailure(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "ssh: unable to authenticate") ||
		strings.Contains(msg, "ssh: handshake failed: knownhosts")
}

// isUnreachable reports whether err says the remote could not be reached:
// connection refused or reset, DNS failures, timeouts, a connection cut
// short. go-git hides some of these in errors without Unwrap.
func isUnreachable(err error) bool {
	for err != nil {
		var (
			opErr  *net.OpError
			dnsErr *net.DNSError
			netErr net.Error
		)
		switch {
		case errors.As(err, &opErr), errors.As(err, &dnsErr),
			errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
			errors.Is(err, io.ErrUnexpectedEOF):
			return true
		case errors.As(err, &netErr) && netErr.Timeout():
			return true
		}
		var (
			unexpected *plumbing.UnexpectedError
			permanent  *plumbing.PermanentError
		)
		switch {
		case errors.As(err, &unexpected):
			err = unexpected.Err
		case errors.As(err, &permanent):
			err = permanent.Err
		default:
			return false
		}
	}
	return false
}
