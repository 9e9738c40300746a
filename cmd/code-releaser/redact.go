package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/code-releaser/code-releaser/workflow"
)

// processSecrets collects the secrets a process knows from its
// environment; loading the config adds those found in URLs.
func processSecrets(getenv func(string) string) *workflow.Secrets {
	s := &workflow.Secrets{}
	for _, name := range secretEnv {
		s.Add(getenv(name))
	}
	return s
}

// redactingTransport takes every known secret out of the bodies of the
// requests it sends (chat messages, Jira comments), whatever the message
// was built from; credentials travel in headers, or in the form fields
// listed in keep (Slack's token), which are left alone.
type redactingTransport struct {
	next    http.RoundTripper
	secrets *workflow.Secrets
	keep    []string
}

func (t redactingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	if req.Body == nil || req.Body == http.NoBody {
		return next.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	clean := t.redact(req.Header.Get("Content-Type"), body)
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(clean))
	out.ContentLength = int64(len(clean))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(clean)), nil }
	return next.RoundTrip(out)
}

func (t redactingTransport) redact(contentType string, body []byte) []byte {
	if !t.secrets.Contains(string(body)) {
		return body
	}
	if strings.HasPrefix(contentType, "application/x-www-form-urlencoded") {
		if form, err := url.ParseQuery(string(body)); err == nil {
			for k, vs := range form {
				if slices.Contains(t.keep, k) {
					continue
				}
				for i := range vs {
					vs[i] = t.secrets.Redact(vs[i])
				}
			}
			return []byte(form.Encode())
		}
	}
	return []byte(t.secrets.Redact(string(body)))
}

// redactingStore keeps secrets out of what the workflow persists: journal
// steps, release errors and audit details.
type redactingStore struct {
	workflow.Store
	secrets *workflow.Secrets
}

func (s redactingStore) AppendStep(ctx context.Context, id string, st workflow.Step) error {
	st.Detail = s.secrets.Redact(st.Detail)
	return s.Store.AppendStep(ctx, id, st)
}

func (s redactingStore) UpdateRelease(ctx context.Context, id string, u workflow.ReleaseUpdate) error {
	u.Error = s.secrets.Redact(u.Error)
	return s.Store.UpdateRelease(ctx, id, u)
}

func (s redactingStore) CreateRelease(ctx context.Context, r workflow.Release) error {
	r.Error = s.secrets.Redact(r.Error)
	for i := range r.Steps {
		r.Steps[i].Detail = s.secrets.Redact(r.Steps[i].Detail)
	}
	return s.Store.CreateRelease(ctx, r)
}

func (s redactingStore) AppendEvent(ctx context.Context, e workflow.Event) error {
	e.Detail = s.secrets.Redact(e.Detail)
	return s.Store.AppendEvent(ctx, e)
}
