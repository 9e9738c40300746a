package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/mergetree"
)

// mergeTreeFailed is merge-tree's exit status when it cannot merge (no
// repository, an unknown revision, a broken object…), as git's 128: 1 means
// "merged, with conflicts" only.
const mergeTreeFailed = mergetree.Failed

// runMergeTree is `git merge-tree --write-tree [--name-only] OURS THEIRS` on
// the pure-Go merge engine: same output, same exit status (0 clean, 1
// conflicts, 128 when it cannot merge, with the reason on stderr; 2 on a
// usage mistake). The code-releaser-merge-tree binary is the same command
// without the bot around it (it starts several times faster).
func runMergeTree(ctx context.Context, e *env, args []string) error {
	a, err := mergetree.ParseArgs(args)
	if err != nil {
		return usageError{err.Error()}
	}
	res, err := mergetree.Merge(ctx, mergetree.Env{Dir: e.dir, Getenv: e.getenv, Stderr: e.stderr}, a.Ours, a.Theirs)
	if err != nil {
		fmt.Fprintf(e.stderr, "code-releaser merge-tree: %s\n", strings.TrimSpace(err.Error()))
		return exitError{mergeTreeFailed}
	}
	w := bufio.NewWriter(e.stdout)
	mergetree.Write(w, res, a.NameOnly)
	if err := w.Flush(); err != nil {
		return err
	}
	if !res.Clean() {
		return exitError{1}
	}
	return nil
}
