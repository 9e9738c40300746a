// Package gittest builds git repositories with the git command for tests:
// a bare "remote", work clones that commit and push to it, and a smart-HTTP
// server (git http-backend) with basic auth in front of a directory of
// repositories. Every git command runs without the system's or the user's
// configuration.
package gittest

import (
	"bytes"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Identity used for the commits made by the helpers.
const (
	UserName  = "Test User"
	UserEmail = "test@example.com"
)

// Env is the environment of the git commands: the process's, without the
// system and global configuration, and without prompts.
func Env() []string {
	return append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=",
		"SSH_ASKPASS=",
	)
}

// RequireGit skips the test, saying why, when the git command is missing.
func RequireGit(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		tb.Skipf("skipped: the git command is not installed (%v)", err)
	}
}

// Git runs git in dir (the current directory when "") with a fixed identity
// and default branch and returns its standard output without the final
// newline. It fails the test when git fails.
func Git(tb testing.TB, dir string, args ...string) string {
	tb.Helper()
	out, err := RunGit(dir, nil, args...)
	if err != nil {
		tb.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// RunGit is Git without a test: it returns git's error with its standard
// error. stdin, if not nil, is git's standard input.
func RunGit(dir string, stdin []byte, args ...string) (string, error) {
	full := append([]string{
		"-c", "user.name=" + UserName,
		"-c", "user.email=" + UserEmail,
		"-c", "init.defaultBranch=master",
		"-c", "advice.detachedHead=false",
		"-c", "commit.gpgSign=false",
	}, args...)
	cmd := exec.Command("git", full...)
	cmd.Dir = dir
	cmd.Env = Env()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", &gitError{args: args, err: err, stderr: strings.TrimSpace(stderr.String())}
	}
	return strings.TrimSuffix(stdout.String(), "\n"), nil
}

type gitError struct {
	args   []string
	err    error
	stderr string
}

func (e *gitError) Error() string {
	return "git " + strings.Join(e.args, " ") + ": " + e.err.Error() + ": " + e.stderr
}

// Remote is a bare repository standing for the remote.
type Remote struct {
	Dir string // the bare repository
}

// NewRemote creates an empty bare repository named name+".git" in root
// (a new temporary directory when root is "").
func NewRemote(tb testing.TB, root, name string) *Remote {
	tb.Helper()
	RequireGit(tb)
	if root == "" {
		root = tb.TempDir()
	}
	dir := filepath.Join(root, name+".git")
	Git(tb, "", "init", "--bare", "--quiet", dir)
	return &Remote{Dir: dir}
}

// URL is the remote's file:// URL.
func (r *Remote) URL() string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(r.Dir)}).String()
}

// Tip returns the SHA of a branch of the remote, "" when it does not exist.
func (r *Remote) Tip(tb testing.TB, branch string) string {
	tb.Helper()
	out, err := RunGit(r.Dir, nil, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch+"^{commit}")
	if err != nil {
		return ""
	}
	return out
}

// Branches lists the remote's branches and their SHAs.
func (r *Remote) Branches(tb testing.TB) map[string]string {
	tb.Helper()
	out := Git(tb, r.Dir, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads/")
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if name, sha, ok := strings.Cut(line, " "); ok {
			m[name] = sha
		}
	}
	return m
}

// Work is a work clone of a Remote.
type Work struct {
	Dir string
}

// Clone clones the remote into a new temporary directory.
func (r *Remote) Clone(tb testing.TB) *Work {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "work")
	Git(tb, "", "clone", "--quiet", r.URL(), dir)
	return &Work{Dir: dir}
}

// InitWork makes a repository with a worktree in dir (made if missing),
// on branch master with no commit yet.
func InitWork(tb testing.TB, dir string) *Work {
	tb.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	Git(tb, dir, "init", "--quiet", "-b", "master")
	return &Work{Dir: dir}
}

// Git runs git in the work clone.
func (w *Work) Git(tb testing.TB, args ...string) string {
	tb.Helper()
	return Git(tb, w.Dir, args...)
}

// Delete as the content of a file in Commit removes the file.
const Delete = "\x00delete"

// Commit writes files (path → content; Delete removes the file), commits
// all changes with msg on the current branch and returns the commit's SHA.
func (w *Work) Commit(tb testing.TB, msg string, files map[string]string) string {
	tb.Helper()
	for path, content := range files {
		full := filepath.Join(w.Dir, filepath.FromSlash(path))
		if content == Delete {
			if err := os.Remove(full); err != nil {
				tb.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	w.Git(tb, "add", "--all")
	w.Git(tb, "commit", "--quiet", "--allow-empty", "-m", msg)
	return w.Head(tb)
}

// Head returns the SHA of HEAD.
func (w *Work) Head(tb testing.TB) string {
	tb.Helper()
	return w.Git(tb, "rev-parse", "HEAD")
}

// Branch creates branch at from (a revision; HEAD when "") and checks it out.
func (w *Work) Branch(tb testing.TB, name, from string) {
	tb.Helper()
	if from == "" {
		from = "HEAD"
	}
	w.Git(tb, "checkout", "--quiet", "-b", name, from)
}

// Checkout checks out an existing branch or revision.
func (w *Work) Checkout(tb testing.TB, rev string) {
	tb.Helper()
	w.Git(tb, "checkout", "--quiet", rev)
}

// Push pushes refspecs (branch names, src:dst, +src:dst) to origin.
func (w *Work) Push(tb testing.TB, refspecs ...string) {
	tb.Helper()
	w.Git(tb, append([]string{"push", "--quiet", "origin"}, refspecs...)...)
}

// Fetch fetches origin's branches into refs/remotes/origin.
func (w *Work) Fetch(tb testing.TB) {
	tb.Helper()
	w.Git(tb, "fetch", "--quiet", "--prune", "origin")
}
