package workflow

import (
	"context"
	"time"
)

// Repo is the infra repository as the workflow needs it. The gitrepo
// adapter implements it on a cached bare mirror of the remote.
// SHAs are full lowercase hex object names.
type Repo interface {
	// Fetch brings the mirror up to date with the remote (branches only).
	Fetch(ctx context.Context) error
	// ResolveTicket finds the one branch of a ticket: the branch named
	// exactly like the key, else the single branch whose name contains the
	// key as a word (feature/JIRA-123-foo). None gives a NotFound error,
	// several an Invalid error listing the candidates.
	ResolveTicket(ctx context.Context, key TicketKey) (Branch, error)
	// Tip returns the SHA of a branch; ok is false when it does not exist.
	Tip(ctx context.Context, branch string) (sha string, ok bool, err error)
	// IsAncestor reports whether commit a is reachable from commit b.
	IsAncestor(ctx context.Context, a, b string) (bool, error)
	// Merge merges theirs into ours in memory and writes a merge commit
	// (parents ours, theirs) when clean. It pushes nothing. When ours
	// already contains theirs it returns SHA == ours and UpToDate true.
	Merge(ctx context.Context, req MergeRequest) (MergeOutcome, error)
	// Push moves branch on the remote from old (""= must not exist) to new,
	// as a compare-and-swap. A lost race returns an error of kind Busy that
	// wraps ErrRefMoved; nothing else is changed.
	Push(ctx context.Context, branch, old, new string) error
	// Log lists the commits reachable from tip and not from base, newest
	// first, with the files each changed (used for occupancy and conflict
	// attribution).
	Log(ctx context.Context, base, tip string) ([]Commit, error)
}

// ErrRefMoved is wrapped by Repo.Push when the remote branch is not at the
// expected commit any more.
var ErrRefMoved = &Error{Op: "git.push", Kind: Busy, Msg: "the branch moved on the remote while we were merging"}

// Branch is a ticket's branch.
type Branch struct {
	Name string
	SHA  string
}

// MergeRequest asks the Repo for a merge commit.
type MergeRequest struct {
	Ours, Theirs           string // SHAs
	OursLabel, TheirsLabel string // branch names for messages and markers
	Message                string // commit message, trailers included
	Author                 string // who asked, for the commit's author name
	When                   time.Time
}

// MergeOutcome is what a merge produced.
type MergeOutcome struct {
	SHA       string         // the merge commit (or ours when UpToDate); empty on conflicts
	UpToDate  bool           // theirs was already in ours: nothing to do
	Conflicts []FileConflict // non-empty when the merge conflicts; nothing was written then
}

// FileConflict is one conflicted file, for the user.
type FileConflict struct {
	Path  string
	Kind  string // git's wording: content, modify/delete, rename/delete, add/add, ...
	Hunks []ConflictHunk
}

// ConflictHunk is one conflicting region, with 1-based line ranges and the
// lines of both sides (capped by the adapter).
type ConflictHunk struct {
	OursStart, OursLines     int
	TheirsStart, TheirsLines int
	Ours, Theirs             []string
}

// Commit is one commit in a Log.
type Commit struct {
	SHA     string
	Parents []string
	Author  string
	When    time.Time
	Subject string
	Message string
	Files   []string // paths changed against the first parent
}
