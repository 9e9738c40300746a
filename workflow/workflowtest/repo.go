package workflowtest

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
)

// Repo is a fake workflow.Repo: a tiny git model in memory. A commit is a
// snapshot of files (path → content) with parents; merges are three-way per
// file (a file changed on both sides differently conflicts). There is one
// ref namespace: the "remote" and the mirror are the same, so Fetch only
// counts. Tests build history with Commit and Branch, and may inject
// failures (Fail) and an outside push just before the bot's (BeforePush).
type Repo struct {
	mu      sync.Mutex
	commits map[string]*fakeCommit
	refs    map[string]string
	seq     int
	calls   []string
	pushes  []Push
	fail    map[string]error

	// BeforePush, if set, runs before each Push's compare-and-swap,
	// outside the Repo's lock: a test makes an outside commit there to
	// lose the race for the bot.
	BeforePush func(branch string)
}

// Push is one successful push.
type Push struct{ Branch, Old, New string }

type fakeCommit struct {
	sha     string
	parents []string
	files   map[string]string
	changed []string
	message string
	author  string
	when    time.Time
	seq     int
}

var _ workflow.Repo = (*Repo)(nil)

// NewRepo returns a repository whose production branch (master) has one
// commit with a README.
func NewRepo() *Repo {
	r := &Repo{commits: map[string]*fakeCommit{}, refs: map[string]string{}, fail: map[string]error{}}
	r.refs["master"] = r.write(nil, map[string]string{"README.md": "infra\n"}, "Initial commit", "admin")
	return r
}

// write stores a commit. Callers hold mu (or own r exclusively).
func (r *Repo) write(parents []string, files map[string]string, msg, author string) string {
	r.seq++
	h := sha1.New()
	fmt.Fprintf(h, "%d\x00%s\x00%s\x00%v", r.seq, msg, author, parents)
	c := &fakeCommit{
		sha: hex.EncodeToString(h.Sum(nil)), parents: parents, files: files,
		message: msg, author: author, when: time.Date(2026, 1, 1, 0, 0, r.seq, 0, time.UTC), seq: r.seq,
	}
	var first map[string]string
	if len(parents) > 0 {
		first = r.commits[parents[0]].files
	}
	c.changed = diff(first, files)
	r.commits[c.sha] = c
	return c.sha
}

// diff lists the paths whose content differs between a and b.
func diff(a, b map[string]string) []string {
	var out []string
	for p, v := range b {
		if av, ok := a[p]; !ok || av != v {
			out = append(out, p)
		}
	}
	for p := range a {
		if _, ok := b[p]; !ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// Branch creates branch at from's tip (a branch name or a SHA).
func (r *Repo) Branch(name, from string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sha, ok := r.refs[from]
	if !ok {
		sha = from
	}
	if _, ok := r.commits[sha]; !ok {
		panic("workflowtest.Repo.Branch: no " + from)
	}
	r.refs[name] = sha
}

// DeleteBranch removes branch (as a merged pull request's branch is).
func (r *Repo) DeleteBranch(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.refs, name)
}

// Commit adds a commit to branch (created from master when absent) that
// sets files (an empty content deletes the file) and returns its SHA.
func (r *Repo) Commit(branch, msg string, files map[string]string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	parent, ok := r.refs[branch]
	if !ok {
		parent = r.refs["master"]
	}
	tree := maps.Clone(r.commits[parent].files)
	for p, v := range files {
		if v == "" {
			delete(tree, p)
		} else {
			tree[p] = v
		}
	}
	sha := r.write([]string{parent}, tree, msg, "dev")
	r.refs[branch] = sha
	return sha
}

// MergeBranch merges branch from into branch into with a merge commit, as
// a person would (a pull request into master, or a mistaken merge of a
// release branch into a ticket branch). It panics on conflicts.
func (r *Repo) MergeBranch(into, from, msg string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ours, theirs := r.refs[into], r.refs[from]
	tree, conflicts := r.merge3(ours, theirs)
	if len(conflicts) > 0 {
		panic(fmt.Sprintf("workflowtest.Repo.MergeBranch %s into %s conflicts: %v", from, into, conflicts))
	}
	sha := r.write([]string{ours, theirs}, tree, msg, "dev")
	r.refs[into] = sha
	return sha
}

// Head returns branch's tip, "" when absent.
func (r *Repo) Head(branch string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refs[branch]
}

// Files returns the files at branch's tip (or at a commit, given its SHA).
func (r *Repo) Files(branch string) map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sha, ok := r.refs[branch]; ok {
		return maps.Clone(r.commits[sha].files)
	}
	if c, ok := r.commits[branch]; ok { // a commit's SHA
		return maps.Clone(c.files)
	}
	return nil
}

// Message returns a commit's message.
func (r *Repo) Message(sha string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.commits[sha]; ok {
		return c.message
	}
	return ""
}

// Contains reports whether branch's tip reaches sha.
func (r *Repo) Contains(branch, sha string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	tip, ok := r.refs[branch]
	return ok && r.reach(tip)[sha]
}

// Calls returns the names of the port methods called, in order.
func (r *Repo) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// Pushes returns the successful pushes, in order.
func (r *Repo) Pushes() []Push {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.pushes)
}

// Fail makes every later call of the port method named method (e.g.
// "Push") return err; a nil err heals it.
func (r *Repo) Fail(method string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		delete(r.fail, method)
		return
	}
	r.fail[method] = err
}

// enter records a call and returns its injected failure. It takes mu;
// callers unlock it.
func (r *Repo) enter(method string) error {
	r.mu.Lock()
	r.calls = append(r.calls, method)
	return r.fail[method]
}

// reach returns the commits reachable from sha. Callers hold mu.
func (r *Repo) reach(sha string) map[string]bool {
	seen := map[string]bool{}
	stack := []string{sha}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		if c, ok := r.commits[s]; ok {
			if to, ok := workflow.RollbackTarget(c.message); ok && len(c.parents) == 1 {
				// as the real mirror reads a rollback commit (without its
				// checks that the commit is on an env branch)
				stack = append(stack, to)
				continue
			}
			stack = append(stack, c.parents...)
		}
	}
	return seen
}

// base returns the newest common ancestor of a and b. Callers hold mu.
func (r *Repo) base(a, b string) string {
	ra, rb := r.reach(a), r.reach(b)
	best, seq := "", -1
	for s := range ra {
		if rb[s] && r.commits[s].seq > seq {
			best, seq = s, r.commits[s].seq
		}
	}
	return best
}

// merge3 merges theirs into ours per file. Callers hold mu.
func (r *Repo) merge3(ours, theirs string) (map[string]string, []workflow.FileConflict) {
	var b map[string]string
	if base := r.base(ours, theirs); base != "" {
		b = r.commits[base].files
	}
	o, t := r.commits[ours].files, r.commits[theirs].files
	paths := map[string]bool{}
	for _, m := range []map[string]string{b, o, t} {
		for p := range m {
			paths[p] = true
		}
	}
	out := map[string]string{}
	var conflicts []workflow.FileConflict
	for _, p := range slices.Sorted(maps.Keys(paths)) {
		bv, ov, tv := b[p], o[p], t[p]
		var v string
		switch {
		case ov == tv:
			v = ov
		case ov == bv:
			v = tv
		case tv == bv:
			v = ov
		default:
			kind := "content"
			switch {
			case bv == "":
				kind = "add/add"
			case ov == "" || tv == "":
				kind = "modify/delete"
			}
			conflicts = append(conflicts, workflow.FileConflict{Path: p, Kind: kind, Hunks: []workflow.ConflictHunk{{
				OursStart: 1, OursLines: 1, TheirsStart: 1, TheirsLines: 1,
				Ours: []string{ov}, Theirs: []string{tv},
			}}})
			continue
		}
		if v != "" {
			out[p] = v
		}
	}
	return out, conflicts
}

// Fetch implements workflow.Repo; it only counts.
func (r *Repo) Fetch(ctx context.Context) error {
	err := r.enter("Fetch")
	defer r.mu.Unlock()
	if err != nil {
		return err
	}
	return ctx.Err()
}

// ResolveTicket implements workflow.Repo: the branch named like the key,
// else the one branch containing the key as a word (release branches and
// master excluded).
func (r *Repo) ResolveTicket(ctx context.Context, key workflow.TicketKey) (workflow.Branch, error) {
	err := r.enter("ResolveTicket")
	defer r.mu.Unlock()
	if err != nil {
		return workflow.Branch{}, err
	}
	if sha, ok := r.refs[string(key)]; ok {
		return workflow.Branch{Name: string(key), SHA: sha}, nil
	}
	word := regexp.MustCompile(`(^|[^A-Za-z0-9])` + regexp.QuoteMeta(string(key)) + `($|[^0-9])`)
	var found []string
	for name := range r.refs {
		if name == "master" || strings.HasPrefix(name, "release/") {
			continue
		}
		if word.MatchString(name) {
			found = append(found, name)
		}
	}
	sort.Strings(found)
	switch len(found) {
	case 0:
		return workflow.Branch{}, workflow.Errorf("git.resolve", workflow.NotFound, "no branch for %s", key)
	case 1:
		return workflow.Branch{Name: found[0], SHA: r.refs[found[0]]}, nil
	default:
		return workflow.Branch{}, workflow.Errorf("git.resolve", workflow.Invalid, "%s has several branches: %s", key, strings.Join(found, ", "))
	}
}

// Tip implements workflow.Repo.
func (r *Repo) Tip(ctx context.Context, branch string) (string, bool, error) {
	err := r.enter("Tip")
	defer r.mu.Unlock()
	if err != nil {
		return "", false, err
	}
	sha, ok := r.refs[branch]
	return sha, ok, nil
}

// IsAncestor implements workflow.Repo.
func (r *Repo) IsAncestor(ctx context.Context, a, b string) (bool, error) {
	err := r.enter("IsAncestor")
	defer r.mu.Unlock()
	if err != nil {
		return false, err
	}
	if r.commits[a] == nil || r.commits[b] == nil {
		return false, workflow.Errorf("git.ancestor", workflow.NotFound, "no commit %s or %s", a, b)
	}
	return r.reach(b)[a], nil
}

// Merge implements workflow.Repo.
func (r *Repo) Merge(ctx context.Context, req workflow.MergeRequest) (workflow.MergeOutcome, error) {
	err := r.enter("Merge")
	defer r.mu.Unlock()
	if err != nil {
		return workflow.MergeOutcome{}, err
	}
	if r.commits[req.Ours] == nil || r.commits[req.Theirs] == nil {
		return workflow.MergeOutcome{}, workflow.Errorf("git.merge", workflow.NotFound, "no commit %s or %s", req.Ours, req.Theirs)
	}
	if r.reach(req.Ours)[req.Theirs] {
		return workflow.MergeOutcome{SHA: req.Ours, UpToDate: true}, nil
	}
	tree, conflicts := r.merge3(req.Ours, req.Theirs)
	if len(conflicts) > 0 {
		return workflow.MergeOutcome{Conflicts: conflicts}, nil
	}
	return workflow.MergeOutcome{SHA: r.write([]string{req.Ours, req.Theirs}, tree, req.Message, req.Author)}, nil
}

// CommitTree implements workflow.Repo.
func (r *Repo) CommitTree(ctx context.Context, req workflow.CommitRequest) (string, error) {
	err := r.enter("CommitTree")
	defer r.mu.Unlock()
	if err != nil {
		return "", err
	}
	to := r.commits[req.TreeOf]
	if r.commits[req.Parent] == nil || to == nil {
		return "", workflow.Errorf("git.commit_tree", workflow.NotFound, "no commit %s or %s", req.Parent, req.TreeOf)
	}
	if !r.reach(req.Parent)[req.TreeOf] {
		return "", workflow.Errorf("git.commit_tree", workflow.Invalid, "%s is not in %s's history", req.TreeOf, req.Parent)
	}
	return r.write([]string{req.Parent}, maps.Clone(to.files), req.Message, req.Author), nil
}

// Push implements workflow.Repo as a compare-and-swap on the ref.
func (r *Repo) Push(ctx context.Context, branch, old, new string) error {
	if hook := r.BeforePush; hook != nil {
		hook(branch)
	}
	err := r.enter("Push")
	defer r.mu.Unlock()
	if err != nil {
		return err
	}
	if r.commits[new] == nil {
		return workflow.Errorf("git.push", workflow.Internal, "no commit %s", new)
	}
	if r.refs[branch] != old {
		return fmt.Errorf("push %s: %w", branch, workflow.ErrRefMoved)
	}
	r.refs[branch] = new
	r.pushes = append(r.pushes, Push{Branch: branch, Old: old, New: new})
	return nil
}

// Log implements workflow.Repo.
func (r *Repo) Log(ctx context.Context, base, tip string) ([]workflow.Commit, error) {
	err := r.enter("Log")
	defer r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if r.commits[tip] == nil {
		return nil, workflow.Errorf("git.log", workflow.NotFound, "no commit %s", tip)
	}
	exclude := r.reach(base)
	var cs []*fakeCommit
	for s := range r.reach(tip) {
		if !exclude[s] {
			cs = append(cs, r.commits[s])
		}
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].seq > cs[j].seq })
	out := make([]workflow.Commit, len(cs))
	for i, c := range cs {
		subject, _, _ := strings.Cut(c.message, "\n")
		out[i] = workflow.Commit{
			SHA: c.sha, Parents: slices.Clone(c.parents), Author: c.author, When: c.when,
			Subject: subject, Message: c.message, Files: slices.Clone(c.changed),
		}
	}
	return out, nil
}
