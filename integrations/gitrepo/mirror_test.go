package gitrepo

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
	"github.com/code-releaser/code-releaser/workflow"
)

// openMirror opens a mirror of url in a new cache dir, closed at the end of
// the test.
func openMirror(t *testing.T, rawURL string, auth Auth) *Mirror {
	t.Helper()
	m, err := Open(context.Background(), slog.New(slog.DiscardHandler), Config{
		URL:      rawURL,
		CacheDir: t.TempDir(),
		Auth:     auth,
		BotName:  "Code-Releaser",
		BotEmail: "bot@example.com",
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// mirrorBranches lists the branches of the mirror, as git sees them.
func mirrorBranches(t *testing.T, m *Mirror) map[string]string {
	t.Helper()
	out := gittest.Git(t, m.Dir(), "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads/")
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if name, sha, ok := strings.Cut(line, " "); ok {
			got[name] = sha
		}
	}
	return got
}

// seed makes a remote with master (one commit) and returns it with a clone.
func seed(t *testing.T) (*gittest.Remote, *gittest.Work) {
	t.Helper()
	r := gittest.NewRemote(t, "", "infra")
	w := r.Clone(t)
	w.Commit(t, "initial", map[string]string{"README.md": "infra\n", "stacks/app.yml": "a: 1\nb: 2\nc: 3\n"})
	w.Push(t, "master")
	return r, w
}

func wantKind(t *testing.T, err error, want workflow.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want kind %v", want)
	}
	if got := workflow.KindOf(err); got != want {
		t.Fatalf("KindOf(%v) = %v, want %v", err, got, want)
	}
}

func TestFetchFile(t *testing.T) {
	r, w := seed(t)
	w.Branch(t, "JIRA-1", "")
	w.Commit(t, "JIRA-1 change", map[string]string{"stacks/app.yml": "a: 10\nb: 2\nc: 3\n"})
	w.Push(t, "JIRA-1")
	w.Branch(t, "gone", "master")
	w.Push(t, "gone")
	w.Git(t, "tag", "v1", "master")
	w.Push(t, "v1")

	m := openMirror(t, r.URL(), Auth{})
	ctx := context.Background()
	if err := m.Fetch(ctx); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if diff := cmp.Diff(r.Branches(t), mirrorBranches(t, m)); diff != "" {
		t.Errorf("mirror branches after the first fetch (-remote +mirror):\n%s", diff)
	}
	if tags := gittest.Git(t, m.Dir(), "tag"); tags != "" {
		t.Errorf("mirror has tags %q, want none", tags)
	}

	// Incremental: a new commit, a deleted branch, a rewritten branch, a new one.
	w.Checkout(t, "master")
	w.Commit(t, "master moves", map[string]string{"README.md": "infra v2\n"})
	w.Push(t, "master")
	w.Git(t, "push", "--quiet", "origin", "--delete", "gone")
	w.Checkout(t, "JIRA-1")
	w.Git(t, "commit", "--quiet", "--amend", "-m", "JIRA-1 change, amended")
	w.Push(t, "+JIRA-1")
	w.Branch(t, "feature/OPS-2-x", "master")
	w.Commit(t, "OPS-2", map[string]string{"ops.txt": "x\n"})
	w.Push(t, "feature/OPS-2-x")

	if err := m.Fetch(ctx); err != nil {
		t.Fatalf("second Fetch: %v", err)
	}
	if diff := cmp.Diff(r.Branches(t), mirrorBranches(t, m)); diff != "" {
		t.Errorf("mirror branches after the second fetch (-remote +mirror):\n%s", diff)
	}
	// Nothing new: still fine.
	if err := m.Fetch(ctx); err != nil {
		t.Fatalf("third Fetch: %v", err)
	}
	// The mirror is a sound repository for git itself.
	gittest.Git(t, m.Dir(), "fsck", "--no-dangling")

	sha, ok, err := m.Tip(ctx, "master")
	if err != nil || !ok || sha != r.Tip(t, "master") {
		t.Errorf("Tip(master) = %q, %v, %v; want %q, true, nil", sha, ok, err, r.Tip(t, "master"))
	}
	if _, ok, err := m.Tip(ctx, "gone"); ok || err != nil {
		t.Errorf("Tip(gone) = _, %v, %v; want false, nil", ok, err)
	}
}

func TestFetchEmptyRemote(t *testing.T) {
	r := gittest.NewRemote(t, "", "empty")
	m := openMirror(t, r.URL(), Auth{})
	if err := m.Fetch(context.Background()); err != nil {
		t.Fatalf("Fetch of an empty remote: %v", err)
	}
}

// httpRemote serves a seeded remote over smart HTTP with basic auth.
func httpRemote(t *testing.T, user, pass string) (*gittest.Remote, *gittest.Work, string) {
	t.Helper()
	r, w := seed(t)
	base := gittest.HTTPServer(t, filepath.Dir(r.Dir), user, pass)
	return r, w, base + "/" + filepath.Base(r.Dir)
}

func TestFetchHTTP(t *testing.T) {
	const token = "s3cret-token-value"
	r, w, repoURL := httpRemote(t, "x-access-token", token)
	w.Branch(t, "feature/JIRA-7-thing", "")
	w.Commit(t, "JIRA-7", map[string]string{"seven.txt": "7\n"})
	w.Push(t, "feature/JIRA-7-thing")

	m := openMirror(t, repoURL, Auth{Token: token})
	ctx := context.Background()
	if err := m.Fetch(ctx); err != nil {
		t.Fatalf("Fetch over HTTP: %v", err)
	}
	if diff := cmp.Diff(r.Branches(t), mirrorBranches(t, m)); diff != "" {
		t.Errorf("mirror branches (-remote +mirror):\n%s", diff)
	}
	b, err := m.ResolveTicket(ctx, "JIRA-7")
	if err != nil {
		t.Fatalf("ResolveTicket: %v", err)
	}
	if want := (workflow.Branch{Name: "feature/JIRA-7-thing", SHA: r.Tip(t, "feature/JIRA-7-thing")}); b != want {
		t.Errorf("ResolveTicket = %+v, want %+v", b, want)
	}
}

func TestFetchHTTPCredentialsInURL(t *testing.T) {
	const token = "url-token-123456"
	r, _, repoURL := httpRemote(t, "bot", token)
	u, _ := url.Parse(repoURL)
	u.User = url.UserPassword("bot", token)
	m := openMirror(t, u.String(), Auth{})
	if err := m.Fetch(context.Background()); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if got, want := mirrorBranches(t, m)["master"], r.Tip(t, "master"); got != want {
		t.Errorf("mirror master = %q, want %q", got, want)
	}
	// The mirror's config on disk has no URL and no credentials.
	cfg, err := os.ReadFile(filepath.Join(m.Dir(), "config"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cfg), token) || strings.Contains(string(cfg), "url") {
		t.Errorf("mirror config holds the remote:\n%s", cfg)
	}
}

func TestFetchBadCredentials(t *testing.T) {
	const bad = "wrong-token-abcdef"
	_, _, repoURL := httpRemote(t, "x-access-token", "right-token-123456")
	m := openMirror(t, repoURL, Auth{Token: bad})
	err := m.Fetch(context.Background())
	wantKind(t, err, workflow.Forbidden)
	if msg := workflow.UserMessage(err); !strings.Contains(msg, "GIT_TOKEN") {
		t.Errorf("user message %q does not mention GIT_TOKEN", msg)
	}
	if strings.Contains(err.Error(), bad) {
		t.Errorf("error shows the token: %v", err)
	}
	if got := mirrorBranches(t, m); len(got) != 0 {
		t.Errorf("mirror branches after a refused fetch = %v, want none", got)
	}

	// With the token in the URL, the error does not show it either.
	u, _ := url.Parse(repoURL)
	u.User = url.UserPassword("x-access-token", bad)
	m2 := openMirror(t, u.String(), Auth{})
	err = m2.Fetch(context.Background())
	wantKind(t, err, workflow.Forbidden)
	if strings.Contains(err.Error(), bad) {
		t.Errorf("error shows the token from the URL: %v", err)
	}
}

// closedPort returns a 127.0.0.1 port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestFetchUnreachable(t *testing.T) {
	const token = "tok-unreachable-999"
	rawURL := "http://user:" + token + "@" + closedPort(t) + "/infra.git"
	m := openMirror(t, rawURL, Auth{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := m.Fetch(ctx)
	wantKind(t, err, workflow.Unavailable)
	if strings.Contains(err.Error(), token) {
		t.Errorf("error shows the password: %v", err)
	}

	// A file:// remote that does not exist.
	m2 := openMirror(t, "file://"+filepath.Join(t.TempDir(), "nope.git"), Auth{})
	wantKind(t, m2.Fetch(ctx), workflow.Unavailable)
}

func TestOpenReusesMirror(t *testing.T) {
	r, _ := seed(t)
	cache := t.TempDir()
	cfg := Config{URL: r.URL(), CacheDir: cache}
	ctx := context.Background()
	m, err := Open(ctx, slog.New(slog.DiscardHandler), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}

	// A second Open of the same cache dir waits for the first to close.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := Open(short, slog.New(slog.DiscardHandler), cfg); workflow.KindOf(err) != workflow.Busy {
		t.Fatalf("second Open while the first is open: %v, want kind busy", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Tip(ctx, "master"); err == nil {
		t.Errorf("Tip on a closed mirror: nil error")
	}

	m2, err := Open(ctx, slog.New(slog.DiscardHandler), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if m2.Dir() != m.Dir() {
		t.Errorf("Dir = %s, want the same mirror %s", m2.Dir(), m.Dir())
	}
	sha, ok, err := m2.Tip(ctx, "master")
	if err != nil || !ok || sha != r.Tip(t, "master") {
		t.Errorf("Tip(master) on the reopened mirror = %q, %v, %v", sha, ok, err)
	}
}

func TestMirrorNameIgnoresCredentials(t *testing.T) {
	a, _, _ := splitURL("https://x:tok1@git.example.com/acme/infra.git")
	b, _, _ := splitURL("https://git.example.com/acme/infra.git")
	if mirrorName(a) != mirrorName(b) {
		t.Errorf("mirror names differ with credentials: %s vs %s", a, b)
	}
}

func TestOpenInvalidConfig(t *testing.T) {
	for _, cfg := range []Config{
		{CacheDir: t.TempDir()},
		{URL: "https://h/r.git"},
		{URL: "https://h/r.git", CacheDir: t.TempDir(), ProductionBranch: "-x"},
		{URL: "https://h/r.git", CacheDir: t.TempDir(), ReleasePrefix: "release"},
		{URL: "ssh://git@h/r.git", CacheDir: t.TempDir(), Auth: Auth{SSHKeyPath: "/nope"}},
		{URL: "ssh://git@h/r.git", CacheDir: t.TempDir(), Auth: Auth{SSHKeyPath: "/nope", KnownHostsPath: "/nope"}},
		{URL: "ssh://git@h/r.git", CacheDir: t.TempDir()},
		{URL: "https://h/r.git", CacheDir: t.TempDir(), Auth: Auth{Token: "t0ken-1234", SSHKeyPath: "/k", KnownHostsPath: "/kh"}},
	} {
		_, err := Open(context.Background(), slog.New(slog.DiscardHandler), cfg)
		wantKind(t, err, workflow.Invalid)
	}
}

func TestRedact(t *testing.T) {
	r := newRedactor("ghp_abcdef123456")
	err := r.error(errors.New(`Get "https://x-access-token:ghp_abcdef123456@h/r.git/info/refs": dial tcp`))
	if strings.Contains(err.Error(), "ghp_") {
		t.Errorf("redacted error shows the token: %v", err)
	}
	for in, want := range map[string]string{
		"https://tok@h/r.git":          "https://REDACTED@h/r.git",
		"https://u:p@h/r.git":          "https://REDACTED@h/r.git",
		"ssh://git@h/r.git":            "ssh://git@h/r.git",
		"file:///tmp/r.git":            "file:///tmp/r.git",
		"git@github.com:acme/r.git":    "git@github.com:acme/r.git",
		"http://127.0.0.1:1/infra.git": "http://127.0.0.1:1/infra.git",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
	if s := (Auth{Token: "ghp_abcdef123456"}).String(); strings.Contains(s, "ghp_") {
		t.Errorf("Auth.String() = %q shows the token", s)
	}
}

func writeHook(t *testing.T, repo, name, script string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(repo, "hooks", name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentUse runs the mirror's operations from several goroutines
// (run with -race).
func TestConcurrentUse(t *testing.T) {
	r, w := seed(t)
	for _, b := range []string{"JIRA-1", "JIRA-2", "JIRA-3"} {
		w.Branch(t, b, "master")
		w.Commit(t, b, map[string]string{b + ".txt": b + "\n"})
		w.Push(t, b)
	}
	m := openMirror(t, r.URL(), Auth{})
	ctx := context.Background()
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	master := r.Tip(t, "master")
	errs := make(chan error, 32)
	for i := 0; i < 8; i++ {
		go func() {
			var err error
			switch i % 4 {
			case 0:
				err = m.Fetch(ctx)
			case 1:
				_, err = m.ResolveTicket(ctx, "JIRA-2")
			case 2:
				tip := r.Tip(t, "JIRA-3")
				_, err = m.Merge(ctx, workflow.MergeRequest{Ours: master, Theirs: tip, Message: "m"})
			case 3:
				_, err = m.Log(ctx, master, r.Tip(t, "JIRA-1"))
			}
			errs <- err
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestOpenSSHKey(t *testing.T) {
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Skipf("skipped: ssh-keygen is not installed (%v)", err)
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "id_ed25519")
	if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	knownHosts := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(knownHosts, append([]byte("git.example.com "), pub...), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := Open(context.Background(), slog.New(slog.DiscardHandler), Config{
		URL: "git@git.example.com:acme/infra.git", CacheDir: t.TempDir(),
		Auth: Auth{SSHKeyPath: key, KnownHostsPath: knownHosts},
	})
	if err != nil {
		t.Fatalf("Open with an SSH key: %v", err)
	}
	m.Close()
}
