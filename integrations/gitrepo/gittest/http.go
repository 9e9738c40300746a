package gittest

import (
	"crypto/subtle"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"path/filepath"
	"testing"
)

// HTTPServer serves the bare repositories under root over git's smart HTTP
// protocol (git http-backend behind net/http/cgi), fetch and push, on
// 127.0.0.1 only, for the duration of the test. Every request needs basic
// auth with user and pass, else it gets 401. The repository root/x.git is
// at <URL>/x.git.
func HTTPServer(tb testing.TB, root, user, pass string) string {
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
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	srv := httptest.NewServer(h) // listens on 127.0.0.1
	tb.Cleanup(srv.Close)
	return srv.URL
}
