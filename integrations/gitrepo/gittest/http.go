package gittest

import (
	"crypto/subtle"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// HTTPServer serves the bare repositories under root over git's smart HTTP
// protocol (git http-backend behind net/http/cgi), fetch and push, on
// 127.0.0.1 only, for the duration of the test. Every request needs basic
// auth with user and pass, else it gets 401. The repository root/x.git is
// at <URL>/x.git.
func HTTPServer(tb testing.TB, root, user, pass string) string {
	tb.Helper()
	srv := httptest.NewServer(HTTPHandler(tb, root, user, pass)) // listens on 127.0.0.1
	tb.Cleanup(srv.Close)
	return srv.URL
}

// HTTPHandler is HTTPServer's handler, for tests that wrap it (to break
// connections, count requests, ...).
func HTTPHandler(tb testing.TB, root, user, pass string) http.Handler {
	tb.Helper()
	RequireGit(tb)
	execPath := Git(tb, "", "--exec-path")
	backend := &cgi.Handler{
		Path: filepath.Join(execPath, "git-http-backend"),
		Root: "/",
		Env: []string{
			"GIT_PROJECT_ROOT=" + root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"GIT_CONFIG_GLOBAL=/dev/null",
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(pass)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		// http-backend allows receive-pack only to an authenticated user.
		h := *backend
		h.Env = append(append([]string(nil), backend.Env...), "REMOTE_USER="+u)
		h.ServeHTTP(w, r)
	})
}

// LosePushAnswers wraps a git HTTP handler h so that no push gets its
// answer: for each receive-pack request, apply says whether the backend
// runs it (to completion: the remote applies the update) or not at all;
// then the connection is closed before the client reads anything, as when
// a connection drops at the worst moment. Other requests pass through.
func LosePushAnswers(tb testing.TB, h http.Handler, apply func() bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			h.ServeHTTP(w, r)
			return
		}
		if apply() {
			h.ServeHTTP(httptest.NewRecorder(), r)
		} else {
			_, _ = io.Copy(io.Discard, r.Body)
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			tb.Errorf("hijack the push's connection: %v", err)
			return
		}
		conn.Close()
	})
}
