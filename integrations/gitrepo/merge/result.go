package merge

import (
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// Options tunes one merge. The zero value merges like
// `git merge-tree --write-tree` with git's defaults.
type Options struct {
	// OursLabel and TheirsLabel label the conflict markers, as the revision
	// arguments do for git ("<<<<<<< OURS"). Empty means "ours"/"theirs".
	OursLabel, TheirsLabel string
	// RenameLimit caps inexact rename detection (git's merge.renameLimit);
	// 0 means git's default for merges, 7000.
	RenameLimit int
}

// Result is the outcome of a merge. Tree is always written: for a merge with
// conflicts it holds the files with conflict markers, exactly as git writes it.
type Result struct {
	Tree      plumbing.Hash
	Bases     []plumbing.Hash // the merge bases used (several for criss-cross histories)
	Conflicts []Conflict      // sorted by path; empty when the merge is clean
	Messages  []Message       // informational messages, sorted by path, like git's

	// unclean marks conflicts that leave no conflicted path, such as a
	// directory renamed to several places ("directory rename split").
	unclean bool
}

// Clean reports whether the merge has no conflicts.
func (r *Result) Clean() bool { return len(r.Conflicts) == 0 && !r.unclean }

// ConflictKind names the kind of a conflict, with git's wording.
type ConflictKind string

// The conflict kinds, as git's CONFLICT (<kind>) messages name them.
const (
	KindContent         ConflictKind = "content"
	KindAddAdd          ConflictKind = "add/add"
	KindModifyDelete    ConflictKind = "modify/delete"
	KindRenameDelete    ConflictKind = "rename/delete"
	KindRenameRename    ConflictKind = "rename/rename"
	KindRenameAdd       ConflictKind = "rename/add"
	KindFileDirectory   ConflictKind = "file/directory"
	KindDistinctTypes   ConflictKind = "distinct types"
	KindBinary          ConflictKind = "binary"
	KindMode            ConflictKind = "mode"
	KindSubmodule       ConflictKind = "submodule"
	KindSymlink         ConflictKind = "symlink"
	KindDirectoryRename ConflictKind = "directory rename"
)

// Stage is one version of a conflicted path: 1 base, 2 ours, 3 theirs.
// A zero Hash means the version is absent on that side.
type Stage struct {
	Path string // the path of this version (differs from Conflict.Path with renames)
	Mode filemode.FileMode
	Hash plumbing.Hash
}

// Present reports whether this side has the path.
func (s Stage) Present() bool { return !s.Hash.IsZero() }

// Conflict is one conflicted path of the merged tree.
type Conflict struct {
	Path   string
	Kind   ConflictKind
	Base   Stage
	Ours   Stage
	Theirs Stage
	Hunks  []Hunk // conflicting regions of a text content conflict
}

// Message is one informational line git prints for a path
// ("Auto-merging a.txt", "CONFLICT (content): Merge conflict in a.txt").
type Message struct {
	Path     string
	Conflict bool // a CONFLICT line (as opposed to Auto-merging and the like)
	Text     string
}
