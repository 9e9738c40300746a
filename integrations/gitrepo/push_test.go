package gitrepo

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
	"github.com/code-releaser/code-releaser/workflow"
)

// commitInMirror writes a commit with parent's tree on top of parent into
// the mirror's store (as Merge does), without moving any ref. (The git
// command must not write into an open mirror: its storage caches which
// objects exist.)
func commitInMirror(t *testing.T, m *Mirror, parent, msg string) string {
	t.Helper()
	p, err := object.GetCommit(m.st, plumbing.NewHash(parent))
	if err != nil {
		t.Fatal(err)
	}
	sig := object.Signature{Name: "T", Email: "t@example.com", When: time.Now()}
	c := &object.Commit{Author: sig, Committer: sig, Message: msg + "\n", TreeHash: p.TreeHash, ParentHashes: []plumbing.Hash{p.Hash}}
	obj := m.st.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		t.Fatal(err)
	}
	h, err := m.st.SetEncodedObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

func TestPushCreatesBranch(t *testing.T) {
	r, _ := seed(t)
	m := openMirror(t, r.URL(), Auth{})
	ctx := context.Background()
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	master := r.Tip(t, "master")

	// release/dev does not exist: create it at master (no object to send).
	if err := m.Push(ctx, "release/dev", "", master); err != nil {
		t.Fatalf("Push creating release/dev: %v", err)
	}
	if got := r.Tip(t, "release/dev"); got != master {
		t.Errorf("remote release/dev = %q, want %q", got, master)
	}
	// Pushing again the same is a success (a retry).
	if err := m.Push(ctx, "release/dev", "", master); err != nil {
		t.Errorf("Push of the same commit again: %v", err)
	}

	// A new commit on top, then another branch created with a new commit.
	c1 := commitInMirror(t, m, master, "one")
	if err := m.Push(ctx, "release/dev", master, c1); err != nil {
		t.Fatalf("Push moving release/dev: %v", err)
	}
	if got := r.Tip(t, "release/dev"); got != c1 {
		t.Errorf("remote release/dev = %q, want %q", got, c1)
	}
	sha, ok, err := m.Tip(ctx, "release/dev")
	if err != nil || !ok || sha != c1 {
		t.Errorf("mirror release/dev after the push = %q, %v, %v; want %q", sha, ok, err, c1)
	}
	c2 := commitInMirror(t, m, c1, "two")
	if err := m.Push(ctx, "release/stg", "", c2); err != nil {
		t.Fatalf("Push creating release/stg: %v", err)
	}
	if got := r.Tip(t, "release/stg"); got != c2 {
		t.Errorf("remote release/stg = %q, want %q", got, c2)
	}
	gittest.Git(t, r.Dir, "fsck", "--no-dangling")
}

func TestPushRace(t *testing.T) {
	r, w := seed(t)
	w.Branch(t, "release/dev", "master")
	w.Push(t, "release/dev")
	m := openMirror(t, r.URL(), Auth{})
	ctx := context.Background()
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	old, _, _ := m.Tip(ctx, "release/dev")
	ours := commitInMirror(t, m, old, "our merge")

	// Someone else pushes release/dev after our fetch.
	theirs := w.Commit(t, "their change", map[string]string{"theirs.txt": "x\n"})
	w.Push(t, "release/dev")

	err := m.Push(ctx, "release/dev", old, ours)
	wantKind(t, err, workflow.Busy)
	if !errors.Is(err, workflow.ErrRefMoved) {
		t.Errorf("errors.Is(%v, ErrRefMoved) = false", err)
	}
	if got := r.Tip(t, "release/dev"); got != theirs {
		t.Errorf("remote release/dev = %q, want their commit %q", got, theirs)
	}
	if sha, _, _ := m.Tip(ctx, "release/dev"); sha != old {
		t.Errorf("mirror release/dev = %q, want it unchanged at %q", sha, old)
	}

	// Creating a branch that someone created meanwhile is a lost race too.
	err = m.Push(ctx, "release/dev", "", ours)
	if !errors.Is(err, workflow.ErrRefMoved) {
		t.Errorf("Push creating an existing branch: %v, want ErrRefMoved", err)
	}
	// And so is moving a branch that was deleted.
	w.Git(t, "push", "--quiet", "origin", "--delete", "release/dev")
	err = m.Push(ctx, "release/dev", old, ours)
	if !errors.Is(err, workflow.ErrRefMoved) {
		t.Errorf("Push onto a deleted branch: %v, want ErrRefMoved", err)
	}
	if got := r.Tip(t, "release/dev"); got != "" {
		t.Errorf("remote release/dev = %q, want still deleted", got)
	}

	// After a fetch, the retry works.
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Push(ctx, "release/dev", "", ours); err != nil {
		t.Fatalf("Push after fetching: %v", err)
	}
}

// TestPushRaceOnTheWire checks that the server refuses the update when the
// branch moves between our look at the remote and our update: the update
// carries the old value.
func TestPushRaceOnTheWire(t *testing.T) {
	r, w := seed(t)
	w.Branch(t, "release/dev", "master")
	old := w.Head(t)
	w.Push(t, "release/dev")
	m := openMirror(t, r.URL(), Auth{})
	ctx := context.Background()
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	ours := commitInMirror(t, m, old, "our merge")
	theirs := w.Commit(t, "their change", map[string]string{"theirs.txt": "x\n"})
	w.Push(t, "HEAD:refs/heads/other") // their objects are there
	// An update hook that moves the branch just before our update lands
	// stands for a push that wins the race.
	hook := "#!/bin/sh\ngit update-ref refs/heads/release/dev " + theirs + " " + old + "\n"
	writeHook(t, r.Dir, "update", hook)

	err := m.Push(ctx, "release/dev", old, ours)
	if !errors.Is(err, workflow.ErrRefMoved) {
		t.Fatalf("Push = %v, want ErrRefMoved", err)
	}
	t.Logf("refused by the server: %v", err)
	if got := r.Tip(t, "release/dev"); got != theirs {
		t.Errorf("remote release/dev = %q, want their commit %q", got, theirs)
	}
}

func TestPushHTTP(t *testing.T) {
	const token = "push-token-abcdef"
	r, _, repoURL := httpRemote(t, "x-access-token", token)
	ctx := context.Background()

	bad := openMirror(t, repoURL, Auth{Token: "not-the-token"})
	good := openMirror(t, repoURL, Auth{Token: token})
	if err := good.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	master := r.Tip(t, "master")
	c := commitInMirror(t, good, master, "over http")

	if err := good.Push(ctx, "release/dev", "", c); err != nil {
		t.Fatalf("Push over HTTP: %v", err)
	}
	if got := r.Tip(t, "release/dev"); got != c {
		t.Errorf("remote release/dev = %q, want %q", got, c)
	}

	// Bad credentials: Forbidden, nothing changed.
	if err := bad.Fetch(ctx); err == nil {
		t.Fatal("Fetch with a bad token: nil error")
	}
	c2 := commitInMirror(t, good, c, "refused")
	bad.st, bad.merger = good.st, good.merger // the same objects, the bad credentials
	err := bad.Push(ctx, "release/dev", c, c2)
	wantKind(t, err, workflow.Forbidden)
	if strings.Contains(err.Error(), "not-the-token") {
		t.Errorf("error shows the token: %v", err)
	}
	if got := r.Tip(t, "release/dev"); got != c {
		t.Errorf("remote release/dev = %q after a refused push, want %q", got, c)
	}
}

func TestPushUnreachable(t *testing.T) {
	r, _ := seed(t)
	m := openMirror(t, r.URL(), Auth{})
	ctx := context.Background()
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	master := r.Tip(t, "master")
	// The same mirror directory, pointed at a dead remote.
	m.url = "http://" + closedPort(t) + "/infra.git"
	wantKind(t, m.Push(ctx, "release/dev", "", master), workflow.Unavailable)
}

func TestPushUnknownCommit(t *testing.T) {
	r, _ := seed(t)
	m := openMirror(t, r.URL(), Auth{})
	err := m.Push(context.Background(), "release/dev", "", strings.Repeat("ab", 20))
	wantKind(t, err, workflow.NotFound)
}

// TestPushAnswerLost pushes through a server that drops the connection
// after receive-pack: when the update was applied the push is a success
// (the remote is read again), when it was not the error says nothing was
// pushed.
func TestPushAnswerLost(t *testing.T) {
	const token = "push-token-abcdef"
	r, _ := seed(t)
	var apply atomic.Bool
	var dropped atomic.Int32
	srv := httptest.NewServer(gittest.LosePushAnswers(t, gittest.HTTPHandler(t, filepath.Dir(r.Dir), "x-access-token", token),
		func() bool { dropped.Add(1); return apply.Load() }))
	t.Cleanup(srv.Close)
	m := openMirror(t, srv.URL+"/"+filepath.Base(r.Dir), Auth{Token: token})
	ctx := context.Background()
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	master := r.Tip(t, "master")

	// Not applied: nothing was pushed, and the error says so.
	c1 := commitInMirror(t, m, master, "lost on the way")
	err := m.Push(ctx, "release/dev", "", c1)
	wantKind(t, err, workflow.Unavailable)
	if msg := workflow.UserMessage(err); !strings.Contains(msg, "nothing was pushed") {
		t.Errorf("UserMessage = %q, want it to say nothing was pushed", msg)
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("error shows the token: %v", err)
	}
	if got := r.Tip(t, "release/dev"); got != "" {
		t.Errorf("remote release/dev = %q, want absent", got)
	}

	// Applied, answer lost: a success, and the mirror follows.
	apply.Store(true)
	if err := m.Push(ctx, "release/dev", "", c1); err != nil {
		t.Fatalf("Push whose answer was lost after it landed: %v", err)
	}
	if got := r.Tip(t, "release/dev"); got != c1 {
		t.Errorf("remote release/dev = %q, want %q", got, c1)
	}
	if sha, _, _ := m.Tip(ctx, "release/dev"); sha != c1 {
		t.Errorf("mirror release/dev = %q, want %q", sha, c1)
	}
	c2 := commitInMirror(t, m, c1, "moved, answer lost")
	if err := m.Push(ctx, "release/dev", c1, c2); err != nil {
		t.Fatalf("Push moving release/dev, answer lost: %v", err)
	}
	if got := r.Tip(t, "release/dev"); got != c2 {
		t.Errorf("remote release/dev = %q, want %q", got, c2)
	}
	if n := dropped.Load(); n != 3 {
		t.Errorf("%d pushes dropped by the server, want 3", n)
	}
	gittest.Git(t, r.Dir, "fsck", "--no-dangling")
}

// TestPushAnswerLostRefMoved: the push was not applied and someone else
// moved the branch meanwhile: the lost race of a clean refusal.
func TestPushAnswerLostRefMoved(t *testing.T) {
	const token = "push-token-abcdef"
	r, w := seed(t)
	inner := gittest.HTTPHandler(t, filepath.Dir(r.Dir), "x-access-token", token)
	var theirs string
	h := gittest.LosePushAnswers(t, inner, func() bool { return false })
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/git-receive-pack") {
			// Another push wins while ours is lost.
			theirs = w.Commit(t, "their change", map[string]string{"theirs.txt": "x\n"})
			w.Push(t, "HEAD:refs/heads/release/dev")
		}
		h.ServeHTTP(rw, req)
	}))
	t.Cleanup(srv.Close)
	m := openMirror(t, srv.URL+"/"+filepath.Base(r.Dir), Auth{Token: token})
	ctx := context.Background()
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	ours := commitInMirror(t, m, r.Tip(t, "master"), "ours")
	err := m.Push(ctx, "release/dev", "", ours)
	if !errors.Is(err, workflow.ErrRefMoved) {
		t.Fatalf("Push = %v, want ErrRefMoved", err)
	}
	if got := r.Tip(t, "release/dev"); got != theirs {
		t.Errorf("remote release/dev = %q, want their commit %q", got, theirs)
	}
}
