// Package merge is a pure-Go three-way merge of commits and trees on go-git's
// object model, built to give the same answer as git's default "ort" merge
// strategy (as `git merge-tree --write-tree` does) without a worktree and
// without the git binary.
//
// The pieces, one concern per file:
//   - bases.go:   merge bases (all best common ancestors), as `git merge-base --all`;
//   - ort.go:     the tree merge (recursive virtual bases, tree walk, renames, conflicts);
//   - renames.go: rename detection like git's diffcore-rename (exact, basename, similarity);
//   - linediff.go and filemerge.go: the line-level merge (histogram diff, git's
//     hunk sliding, zealous conflict regions, git-style conflict markers).
package merge
