package merge

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-git/v5/plumbing"
	v2 "github.com/go-git/go-git/v5/plumbing/format/commitgraph/v2"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// maxGraphDate is the first commit date a commit-graph cannot hold (34 bits).
const maxGraphDate = 1 << 34

// WriteCommitGraph writes git's commit-graph file (objects/info/commit-graph,
// with topological levels and corrected commit dates, as git 2.39 writes
// it) for every commit reachable from tips, replacing the one there. Commits
// already in the old file are read from it, so refreshing the file after a
// fetch decodes only the new commits. s must be a repository on a
// filesystem (go-git's filesystem.Storage). It returns how many commits the
// file lists. A history with a commit date that the format cannot hold is
// refused (and the old file is kept: it stays correct for the commits it
// lists).
//
// The Merger's method reads the commits through its pack reader.
//
// With minNew > 0 an existing file is kept (and 0 returned) while fewer
// than minNew commits reachable from tips are missing from it: commits not
// in the file are read from the objects, with the same results (git's own
// fetch leaves such commits to its next commit-graph write too), and a
// rewrite costs time in proportion to the whole history.
func WriteCommitGraph(ctx context.Context, s storer.EncodedObjectStorer, tips []plumbing.Hash, minNew int) (int, error) {
	repo := s
	if ps, ok := s.(*packedStore); ok {
		repo = ps.EncodedObjectStorer
	}
	fsys, ok := repo.(interface{ Filesystem() billy.Filesystem })
	if !ok {
		return 0, errors.New("write commit-graph: the object store is not a repository on a filesystem")
	}
	g := newCommitGraph(s)
	g.file = openGraphFile(repo)
	if g.file != nil && minNew > 0 {
		missing, err := g.countMissing(ctx, tips, minNew)
		if err != nil {
			return 0, fmt.Errorf("write commit-graph: %w", err)
		}
		if missing < minNew {
			return 0, nil
		}
	}
	type genInfo struct {
		level     uint64
		corrected uint64
	}
	gens := make(map[*graphCommit]genInfo)
	idx := v2.NewMemoryIndex()
	// Iterative post-order walk: a commit is added once its parents are.
	type frame struct {
		c        *graphCommit
		expanded bool
	}
	var stack []frame
	for _, t := range tips {
		c, err := g.commit(ctx, t)
		if errors.Is(err, errObjectNotCommit) {
			continue // a ref to a tree or blob (git's --reachable skips those too)
		}
		if err != nil {
			return 0, fmt.Errorf("write commit-graph: %w", err)
		}
		stack = append(stack, frame{c: c})
	}
	for n := 0; len(stack) > 0; n++ {
		if n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, fmt.Errorf("write commit-graph: %w", err)
			}
		}
		f := &stack[len(stack)-1]
		if _, done := gens[f.c]; done {
			stack = stack[:len(stack)-1]
			continue
		}
		ps, err := g.parentsOf(ctx, f.c)
		if err != nil {
			return 0, fmt.Errorf("write commit-graph: %w", err)
		}
		if !f.expanded {
			f.expanded = true
			for _, p := range ps {
				if _, done := gens[p]; !done {
					stack = append(stack, frame{c: p})
				}
			}
			continue
		}
		c := f.c
		stack = stack[:len(stack)-1]
		if c.date >= maxGraphDate {
			return 0, fmt.Errorf("write commit-graph: commit %s has a date (%d) the format cannot hold", c.hash, c.date)
		}
		var gi genInfo
		for _, p := range ps {
			pg := gens[p]
			gi.level = max(gi.level, pg.level)
			gi.corrected = max(gi.corrected, pg.corrected)
		}
		gi.level = min(gi.level+1, 0x3FFFFFFF) // git's GENERATION_NUMBER_V1_MAX
		gi.corrected = max(c.date, gi.corrected+1)
		if gi.corrected-c.date >= 0x80000000 {
			// go-git's encoder miscounts offsets between 2^31 and 2^32
			return 0, fmt.Errorf("write commit-graph: commit %s is too far ahead of its parents' dates", c.hash)
		}
		gens[c] = gi
		idx.Add(c.hash, &v2.CommitData{
			TreeHash:     c.tree,
			ParentHashes: append([]plumbing.Hash(nil), c.parents...),
			Generation:   gi.level,
			GenerationV2: gi.corrected,
			When:         time.Unix(int64(c.date), 0),
		})
	}
	if len(gens) == 0 {
		return 0, nil
	}
	fs := fsys.Filesystem()
	dir := path.Join("objects", "info")
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("write commit-graph: %w", err)
	}
	tmp, err := fs.TempFile(dir, "tmp_graph_")
	if err != nil {
		return 0, fmt.Errorf("write commit-graph: %w", err)
	}
	defer fs.Remove(tmp.Name()) // after the rename: nothing there
	// buffered: the encoder writes field by field
	bw := bufio.NewWriterSize(tmp, 256<<10)
	err = v2.NewEncoder(bw).Encode(idx)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		tmp.Close()
		return 0, fmt.Errorf("write commit-graph: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("write commit-graph: %w", err)
	}
	if err := fs.Rename(tmp.Name(), path.Join(dir, "commit-graph")); err != nil {
		return 0, fmt.Errorf("write commit-graph: %w", err)
	}
	return len(gens), nil
}

// WriteCommitGraph is WriteCommitGraph on the Merger's object store (for a
// Merger made by NewOnDisk, commits are read by its pack reader). Make a new
// Merger to use the file.
func (m *Merger) WriteCommitGraph(ctx context.Context, tips []plumbing.Hash, minNew int) (int, error) {
	return WriteCommitGraph(ctx, m.store, tips, minNew)
}

// countMissing counts the commits reachable from tips that are not in the
// commit-graph file, up to limit (it walks no further than the file).
func (g *commitGraph) countMissing(ctx context.Context, tips []plumbing.Hash, limit int) (int, error) {
	seen := map[plumbing.Hash]bool{}
	stack := append([]plumbing.Hash(nil), tips...)
	n := 0
	for len(stack) > 0 && n < limit {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[h] {
			continue
		}
		seen[h] = true
		if _, ok := g.lookupGraph(h); ok {
			continue
		}
		c, err := g.commit(ctx, h)
		if errors.Is(err, errObjectNotCommit) {
			continue
		}
		if err != nil {
			return 0, err
		}
		n++
		stack = append(stack, c.parents...)
	}
	return n, nil
}
