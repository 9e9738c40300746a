package merge

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Merger merges commits and trees of one object store. It caches parsed
// commits across merges; it is safe for concurrent use.
type Merger struct {
	store storer.EncodedObjectStorer
	graph *commitGraph
}

// New returns a Merger reading from and writing into s.
func New(s storer.EncodedObjectStorer) *Merger {
	return &Merger{store: s, graph: newCommitGraph(s)}
}

// SetGrafts makes the Merger see the commits of grafts (keys) as having the
// one parent named (values) instead of their own, in every walk of history
// (merge bases, IsAncestor): a commit that stands for an earlier commit of
// its own history (a rollback) hides what came between. A graft's parent
// must be an ancestor of the commit's own parents: generation numbers and
// dates then still order the walks. The table replaces the previous one.
func (m *Merger) SetGrafts(grafts map[plumbing.Hash]plumbing.Hash) { m.graph.setGrafts(grafts) }

// IsAncestor reports whether commit a is reachable from commit b (a == b counts).
func (m *Merger) IsAncestor(ctx context.Context, a, b plumbing.Hash) (bool, error) {
	return m.graph.isAncestor(ctx, a, b)
}

// MergeBases returns the merge bases of a and b, as `git merge-base --all`.
func (m *Merger) MergeBases(ctx context.Context, a, b plumbing.Hash) ([]plumbing.Hash, error) {
	return m.graph.mergeBases(ctx, a, b)
}

// MergeCommits merges commit theirs into commit ours like git's ort strategy
// (`git merge-tree --write-tree ours theirs`): criss-cross histories are
// merged through a recursive virtual base. The result tree is written into
// the store; no ref is changed.
func (m *Merger) MergeCommits(ctx context.Context, ours, theirs plumbing.Hash, opt Options) (*Result, error) {
	oc, err := m.graph.commit(ctx, ours)
	if err != nil {
		return nil, fmt.Errorf("merge: ours: %w", err)
	}
	tc, err := m.graph.commit(ctx, theirs)
	if err != nil {
		return nil, fmt.Errorf("merge: theirs: %w", err)
	}
	bases, err := m.graph.mergeBases(ctx, ours, theirs)
	if err != nil {
		return nil, fmt.Errorf("merge: merge bases of %s and %s: %w", short(ours), short(theirs), err)
	}
	// git merges the bases oldest first (it reverses get_merge_bases' order).
	rev := make([]plumbing.Hash, len(bases))
	for i, b := range bases {
		rev[len(bases)-1-i] = b
	}
	baseTree := emptyTreeHash
	if len(rev) > 0 {
		baseTree, err = m.virtualBase(ctx, rev, 1)
		if err != nil {
			return nil, err
		}
	}
	st := newMergeState(m, opt, 0)
	res, err := st.mergeTrees(ctx, baseTree, oc.tree, tc.tree)
	if err != nil {
		return nil, err
	}
	res.Bases = bases
	return res, nil
}

// MergeTrees merges the trees ours and theirs against base (no history).
func (m *Merger) MergeTrees(ctx context.Context, base, ours, theirs plumbing.Hash, opt Options) (*Result, error) {
	return newMergeState(m, opt, 0).mergeTrees(ctx, base, ours, theirs)
}

// virtualBase merges the commits of bases (oldest first) pairwise into one
// tree, as git's merge_ort_internal does with call_depth > 0: each merged
// pair becomes a virtual commit (parents: the two, date 0) whose merge
// bases with the next one are computed like a real commit's.
func (m *Merger) virtualBase(ctx context.Context, bases []plumbing.Hash, depth int) (plumbing.Hash, error) {
	merged, err := m.graph.commit(ctx, bases[0])
	if err != nil {
		return plumbing.ZeroHash, err
	}
	var virtuals []plumbing.Hash
	defer func() {
		for _, v := range virtuals {
			m.graph.forgetVirtualCommit(v)
		}
	}()
	for _, next := range bases[1:] {
		nc, err := m.graph.commit(ctx, next)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		inner, err := m.graph.mergeBases(ctx, merged.hash, next)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		innerBase := emptyTreeHash
		if len(inner) > 0 {
			rev := make([]plumbing.Hash, len(inner))
			for i, b := range inner {
				rev[len(inner)-1-i] = b
			}
			if innerBase, err = m.virtualBase(ctx, rev, depth+1); err != nil {
				return plumbing.ZeroHash, err
			}
		}
		st := newMergeState(m, Options{OursLabel: "Temporary merge branch 1", TheirsLabel: "Temporary merge branch 2"}, depth)
		res, err := st.mergeTrees(ctx, innerBase, merged.tree, nc.tree)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		vh, err := m.graph.newVirtualCommit(ctx, res.Tree, merged.hash, next)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		virtuals = append(virtuals, vh)
		if merged, err = m.graph.commit(ctx, vh); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	return merged.tree, nil
}

var (
	emptyTreeHash = plumbing.NewHash("4b825dc642cb6eb9a060e54bf8d69288fbee4904")
	emptyBlobHash = plumbing.NewHash("e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")
)

func short(h plumbing.Hash) string { return h.String()[:7] }

// version is one side's entry at a path: mode 0 means absent.
type version struct {
	mode filemode.FileMode
	hash plumbing.Hash
}

func (v version) present() bool { return v.mode != 0 }
func (v version) isDir() bool   { return v.mode == filemode.Dir }

// pathInfo is what the merge knows of one path; it mirrors the role of
// merge-ort's merged_info/conflict_info.
type pathInfo struct {
	resolved bool // resolved while collecting (no conflict_info)
	clean    bool
	isNull   bool
	result   version

	stages       [3]version // file versions only (dirs are zeroed later)
	pathnames    [3]string
	filemask     uint8
	dirmask      uint8
	matchMask    uint8
	dfConflict   bool
	pathConflict bool
	kind         ConflictKind
	hunks        []Hunk
}

type mergeState struct {
	m       *Merger
	opt     Options
	depth   int
	branch1 string
	branch2 string
	blobs   *blobCache

	paths map[string]*pathInfo
	// rename candidates per side (index 1, 2): deletions and additions, in
	// traversal order, and which deletions are relevant sources.
	deleted  [3][]fileEntry
	added    [3][]fileEntry
	relevant [3]map[string]bool
	// locationOnly: relevant sources that matter only for directory renames
	locationOnly [3]map[string]bool
	messages     map[string][]Message
	nonEmpty     map[string]bool // directories with something in the merged tree
	// adds lists every path added on a side (empty files included), in
	// traversal order; dirsRemoved the directories a side removed, with
	// their relevance for directory rename detection.
	adds        [3][]fileEntry
	dirsRemoved [3]map[string]int
	unclean     bool // a conflict without a conflicted path (git's clean=0)
	// deferred lists, per side, the directories that only that side
	// changed (or added), not walked yet: merge-ort's
	// possible_trivial_merges. noDefer[side] is set once a side is known
	// to need every directory walked (git's trivial_merges_okay = 0), and
	// targetDirs[side] holds the directories above the cached rename
	// destinations that the redone walk must read (git's target_dirs).
	deferred   [3][]deferredDir
	noDefer    [3]bool
	targetDirs [3]map[string]bool
	// redo is set when walking the deferred directories at least tripled
	// the paths: rename detection then caches what it found and the walk
	// starts again (merge-ort's redo_after_renames). cache holds the
	// renames of the first walk during the second.
	redo  bool
	cache *renameCache
}

// renameCache is what merge-ort keeps of the first walk's rename detection
// when it redoes the walk (cached_pairs, cached_target_names,
// cached_irrelevant and the kept dir_rename_count), per side.
type renameCache struct {
	// pairs maps a relevant source to its rename destination, or to ""
	// when it was deleted.
	pairs [3]map[string]string
	// targets are the destinations in pairs.
	targets [3]map[string]bool
	// irrelevant are the sources that rename detection found no longer
	// relevant (RELEVANT_NO_MORE).
	irrelevant [3]map[string]bool
	// dirRenameCount is the first detection's directory rename counts.
	dirRenameCount [3]map[string]map[string]int
}

// cacheRenames keeps what the first rename detection found, as merge-ort's
// possibly_cache_new_pair does before it redoes the walk: for each relevant
// source of a side, its destination or its deletion, and the sources found
// no longer relevant. Renames of irrelevant sources (exact renames find
// them too) are not kept: the redone walk may not even see them.
func (st *mergeState) cacheRenames(pairs [3][]renamePair, counts [3]map[string]map[string]int, noMore [3]map[string]bool) {
	c := &renameCache{}
	for side := 1; side <= 2; side++ {
		c.pairs[side] = map[string]string{}
		c.targets[side] = map[string]bool{}
		c.irrelevant[side] = map[string]bool{}
		c.dirRenameCount[side] = counts[side]
		renamed := make(map[string]string, len(pairs[side]))
		for _, p := range pairs[side] {
			renamed[p.From.path] = p.To.path
		}
		for _, d := range st.deleted[side] {
			src := d.path
			switch to, ok := renamed[src]; {
			case !st.relevant[side][src]:
			case ok:
				c.pairs[side][src] = to
				c.targets[side][to] = true
			case noMore[side][src]:
				c.irrelevant[side][src] = true
			default:
				c.pairs[side][src] = ""
			}
		}
	}
	st.cache = c
}

// renames are a side's cached renames, ordered by destination.
func (c *renameCache) renames(side int) []renamePair {
	var out []renamePair
	for from, to := range c.pairs[side] {
		if to != "" {
			out = append(out, renamePair{From: fileEntry{path: from}, To: fileEntry{path: to}, Score: 100})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].To.path < out[j].To.path })
	return out
}

// cached reports whether the redone walk already knows what became of the
// source path deleted on side (a rename, a deletion or an irrelevant
// source).
func (c *renameCache) cached(side int, path string) bool {
	if c == nil {
		return false
	}
	_, ok := c.pairs[side][path]
	return ok || c.irrelevant[side][path]
}

// deferredDir is a directory whose walk waits until the end of collect.
type deferredDir struct {
	e    entry
	mask uint8 // the dirRenameMask of its children
}

// relevance of a removed directory for directory rename detection, as git's
// dirs_removed values.
const (
	dirNotRelevant = 0
	dirForAncestor = 1
	dirForSelf     = 2
)

func newMergeState(m *Merger, opt Options, depth int) *mergeState {
	b1, b2 := opt.OursLabel, opt.TheirsLabel
	if b1 == "" {
		b1 = "ours"
	}
	if b2 == "" {
		b2 = "theirs"
	}
	st := &mergeState{
		m: m, opt: opt, depth: depth, branch1: b1, branch2: b2,
		blobs:    newBlobCache(m.store),
		paths:    map[string]*pathInfo{},
		messages: map[string][]Message{},
	}
	st.relevant[1] = map[string]bool{}
	st.relevant[2] = map[string]bool{}
	st.locationOnly[1] = map[string]bool{}
	st.locationOnly[2] = map[string]bool{}
	st.dirsRemoved[1] = map[string]int{}
	st.dirsRemoved[2] = map[string]int{}
	return st
}

func (st *mergeState) msg(path string, conflict bool, format string, args ...any) {
	if st.depth > 0 {
		return // git drops messages of inner merges
	}
	st.messages[path] = append(st.messages[path], Message{Path: path, Conflict: conflict, Text: fmt.Sprintf(format, args...)})
}

func (st *mergeState) mergeTrees(ctx context.Context, base, ours, theirs plumbing.Hash) (*Result, error) {
	roots := [3]version{{filemode.Dir, base}, {filemode.Dir, ours}, {filemode.Dir, theirs}}
	if base == ours && base == theirs {
		return &Result{Tree: base}, nil
	}
	for {
		if err := st.collect(ctx, "", roots, 0); err != nil {
			return nil, err
		}
		if err := st.handleDeferred(ctx); err != nil {
			return nil, err
		}
		redo, err := st.renames(ctx)
		if err != nil {
			return nil, err
		}
		if !redo {
			break
		}
		st.restart()
	}
	if err := st.processEntries(ctx); err != nil {
		return nil, err
	}
	tree, err := st.writeTrees(ctx)
	if err != nil {
		return nil, err
	}
	res := &Result{Tree: tree, unclean: st.unclean}
	res.Conflicts = st.conflicts()
	var mpaths []string
	for p := range st.messages {
		mpaths = append(mpaths, p)
	}
	sort.Strings(mpaths)
	for _, p := range mpaths {
		res.Messages = append(res.Messages, st.messages[p]...)
	}
	return res, nil
}

// treeEntries reads the entries of a tree by name (nil for an absent side).
func (st *mergeState) treeEntries(ctx context.Context, v version) (map[string]version, error) {
	if !v.isDir() {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	entries, err := readTree(st.m.store, v.hash)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", short(v.hash), err)
	}
	out := make(map[string]version, len(entries))
	for _, e := range entries {
		out[e.name] = version{e.mode, e.hash}
	}
	return out, nil
}

// collect walks the three trees below dir, recording every path whose
// versions differ, like merge-ort's collect_merge_info. It descends only into
// subtrees that differ on some side. dirRenameMask follows git's rules for
// which deleted files are relevant to directory rename detection.
func (st *mergeState) collect(ctx context.Context, dir string, trees [3]version, dirRenameMask uint8) error {
	ents, names, err := st.readDir(ctx, trees)
	if err != nil {
		return err
	}
	dirRenameMask = widenDirRenameMask(ents, names, dirRenameMask)
	for _, name := range names {
		e := newEntry(dir, name, ents)
		if st.resolveTrivial(e) {
			continue
		}
		// rename bookkeeping (collect_rename_info)
		childMask := st.noteRemovedDir(dir, e, dirRenameMask)
		st.noteRenameCandidates(e, dirRenameMask)
		st.paths[e.path] = e.info()
		if e.dirmask == 0 {
			continue
		}
		if side := st.deferSide(e, childMask); side != 0 {
			st.deferred[side] = append(st.deferred[side], deferredDir{e, childMask})
			continue
		}
		if err := st.collect(ctx, e.path, e.subtrees(), childMask); err != nil {
			return err
		}
	}
	return nil
}

// restart clears what the walk and rename detection collected, keeping
// the rename cache and the blob cache, for the redone walk.
func (st *mergeState) restart() {
	cache, blobs := st.cache, st.blobs
	*st = *newMergeState(st.m, st.opt, st.depth)
	st.cache, st.blobs = cache, blobs
}

// deferSide is the side whose walk of directory e can wait (0: none), as
// merge-ort's collect_merge_info_callback decides: a directory that one
// side left as the base has it (the other side's version may be taken
// whole), or that only one side added, unless directory rename detection
// needs the files below it (childMask 7), the side is known to need all
// its directories walked, or a cached rename destination lies below it.
func (st *mergeState) deferSide(e entry, childMask uint8) int {
	if childMask == 7 {
		return 0
	}
	side := 0
	switch e.matchMask {
	case 3:
		side = 2
	case 5:
		side = 1
	}
	if e.filemask == 0 && (e.dirmask == 2 || e.dirmask == 4) {
		side = int(e.dirmask / 2)
	}
	if side == 0 || st.noDefer[side] || st.targetDirs[side][e.path] {
		return 0
	}
	return side
}

// handleDeferred settles the deferred directories, as merge-ort's
// handle_deferred_entries does. A side that needs no rename destination
// below them takes each whole (a file, a tree, or nothing) without reading
// it: a side with no relevant rename source, or, in the redone walk, one
// whose relevant sources are all cached, except the directories above
// cached destinations not walked yet, which are walked (their
// subdirectories may wait again, then are taken whole). Otherwise every
// deferred directory of the side is walked now, and the additions and
// deletions are put back in the order of a full walk. (Below such a
// directory the other side has the base's version, so the walk cannot
// find a relevant source: the decision stands.)
//
// When walking them at least tripled the paths collected, the merge will
// redo its walk once renames are known (the first walk only).
func (st *mergeState) handleDeferred(ctx context.Context) error {
	before := len(st.paths)
	for side := 1; side <= 2; side++ {
		okay := st.noteCachedTargets(side)
		st.noDefer[side] = !okay
		pending := st.deferred[side]
		st.deferred[side] = nil
		walked := false
		for _, d := range pending {
			if okay && !st.targetDirs[side][d.e.path] {
				st.resolve(d.e.path, d.e.v[side])
				continue
			}
			if err := st.collect(ctx, d.e.path, d.e.subtrees(), d.mask); err != nil {
				return err
			}
			walked = true
		}
		// directories deferred again while walking those above cached
		// destinations
		for _, d := range st.deferred[side] {
			st.resolve(d.e.path, d.e.v[side])
		}
		st.deferred[side] = nil
		if walked {
			for s := 1; s <= 2; s++ {
				sortWalkOrder(st.deleted[s])
				sortWalkOrder(st.added[s])
				sortWalkOrder(st.adds[s])
			}
		}
	}
	// git's wanted_factor: the ratio is an integer division (a side whose
	// directories were all taken whole added no path to it)
	if st.cache == nil && before > 0 && len(st.paths)/before >= 3 {
		st.redo = true
	}
	return nil
}

// noteCachedTargets reports whether side's deferred directories may be
// taken whole: every relevant source of the side has a cached outcome (so
// there is none in the first walk). It records in targetDirs the
// directories above the cached destinations not collected yet.
func (st *mergeState) noteCachedTargets(side int) bool {
	if len(st.relevant[side]) == 0 {
		return true
	}
	if st.cache == nil {
		return false
	}
	for src := range st.relevant[side] {
		if st.cache.irrelevant[side][src] {
			continue
		}
		to, ok := st.cache.pairs[side][src]
		if !ok {
			return false
		}
		if to == "" {
			continue // a deletion
		}
		if _, seen := st.paths[to]; seen {
			continue
		}
		if st.targetDirs[side] == nil {
			st.targetDirs[side] = map[string]bool{}
		}
		for d := dirname(to); d != "" && !st.targetDirs[side][d]; d = dirname(d) {
			st.targetDirs[side][d] = true
		}
	}
	return true
}

// sortWalkOrder sorts entries in the order collect walks them: by path
// component, each directory's names in string order.
func sortWalkOrder(es []fileEntry) {
	sort.SliceStable(es, func(i, j int) bool { return walkLess(es[i].path, es[j].path) })
}

func walkLess(a, b string) bool {
	for {
		ia, ib := strings.IndexByte(a, '/'), strings.IndexByte(b, '/')
		ca, cb := a, b
		if ia >= 0 {
			ca = a[:ia]
		}
		if ib >= 0 {
			cb = b[:ib]
		}
		if ca != cb {
			return ca < cb
		}
		if ia < 0 || ib < 0 {
			return ia < 0 && ib >= 0
		}
		a, b = a[ia+1:], b[ib+1:]
	}
}

// readDir reads a directory's three trees (no entries for an absent side)
// and returns their entries and every name in them, sorted.
func (st *mergeState) readDir(ctx context.Context, trees [3]version) ([3]map[string]version, []string, error) {
	var ents [3]map[string]version
	for i := 0; i < 3; i++ {
		if j := sameTree(trees, i); j >= 0 {
			ents[i] = ents[j] // read once, as git does
			continue
		}
		var err error
		if ents[i], err = st.treeEntries(ctx, trees[i]); err != nil {
			return ents, nil, err
		}
	}
	names := map[string]struct{}{}
	for i := 0; i < 3; i++ {
		for n := range ents[i] {
			names[n] = struct{}{}
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	return ents, sorted, nil
}

// sameTree is the index of an earlier side with the same tree as side i,
// or -1.
func sameTree(trees [3]version, i int) int {
	for j := 0; j < i; j++ {
		if trees[i].isDir() && trees[j] == trees[i] {
			return j
		}
	}
	return -1
}

// widenDirRenameMask is git's traverse_trees_wrapper: in a directory
// removed on one side (mask 2 or 4: the side that kept it), a file added
// on the other side makes every deletion below relevant for directory
// rename detection (mask 7).
func widenDirRenameMask(ents [3]map[string]version, names []string, mask uint8) uint8 {
	if mask != 2 && mask != 4 {
		return mask
	}
	for _, n := range names {
		var fm uint8
		for i := 0; i < 3; i++ {
			if v, ok := ents[i][n]; ok && !v.isDir() {
				fm |= 1 << i
			}
		}
		if fm != 0 && fm == mask {
			return 7
		}
	}
	return mask
}

// entry is one name of a directory as the three sides have it (index 0
// the base, 1 ours, 2 theirs); bit i of a mask stands for side i.
type entry struct {
	path      string
	v         [3]version
	filemask  uint8 // the sides where it is not a directory
	dirmask   uint8 // the sides where it is a directory
	matchMask uint8 // the sides that agree: 7 all, 3 base and ours, 5 base and theirs, 6 ours and theirs, 0 none
}

func newEntry(dir, name string, ents [3]map[string]version) entry {
	e := entry{path: name}
	if dir != "" {
		e.path = dir + "/" + name
	}
	var mask uint8
	for i := 0; i < 3; i++ {
		if v, ok := ents[i][name]; ok {
			e.v[i] = v
			mask |= 1 << i
			if v.isDir() {
				e.dirmask |= 1 << i
			}
		}
	}
	e.filemask = mask &^ e.dirmask
	same := func(a, b int) bool {
		return e.v[a].present() && e.v[b].present() && e.v[a] == e.v[b]
	}
	s1base, s2base, sides := same(0, 1), same(0, 2), same(1, 2)
	switch {
	case s1base && s2base:
		e.matchMask = 7
	case s1base:
		e.matchMask = 3
	case s2base:
		e.matchMask = 5
	case sides:
		e.matchMask = 6
	}
	return e
}

// resolveTrivial resolves e when it needs no more work: the same on every
// side, or a file changed on one side only (or alike on both); it reports
// whether it did.
func (st *mergeState) resolveTrivial(e entry) bool {
	switch {
	case e.matchMask == 7:
		st.resolve(e.path, e.v[0])
	case e.matchMask == 6 && e.filemask == 7:
		st.resolve(e.path, e.v[1])
	case e.matchMask == 3 && e.filemask == 7:
		st.resolve(e.path, e.v[2])
	case e.matchMask == 5 && e.filemask == 7:
		st.resolve(e.path, e.v[1])
	default:
		return false
	}
	return true
}

// noteRemovedDir records a directory that a side removed (or turned into
// a file), with its relevance for directory rename detection, and a
// directory whose file a side deleted where the other added one; it
// returns the dirRenameMask of e's children.
func (st *mergeState) noteRemovedDir(dir string, e entry, dirRenameMask uint8) uint8 {
	childMask := dirRenameMask
	if childMask != 7 && (e.dirmask == 3 || e.dirmask == 5) {
		childMask = e.dirmask &^ 1
	}
	if e.dirmask == 1 || e.dirmask == 3 || e.dirmask == 5 {
		rel := dirNotRelevant
		if childMask == 7 {
			rel = dirForAncestor
		}
		sides := (7 - e.dirmask) / 2
		if sides&1 != 0 {
			st.dirsRemoved[1][e.path] = rel
		}
		if sides&2 != 0 {
			st.dirsRemoved[2][e.path] = rel
		}
	}
	if dirRenameMask == 7 && (e.filemask == 2 || e.filemask == 4) {
		st.dirsRemoved[3-int(e.filemask>>1)][dir] = dirForSelf
	}
	return childMask
}

// noteRenameCandidates records a file deleted or added on a side as a
// rename source or destination of that side.
func (st *mergeState) noteRenameCandidates(e entry, dirRenameMask uint8) {
	if e.filemask == 0 || e.filemask == 7 {
		return
	}
	for side := 1; side <= 2; side++ {
		sm := uint8(1) << side
		if e.filemask&1 != 0 && e.filemask&sm == 0 {
			contentRel, locationRel := e.matchMask&e.filemask == 0, dirRenameMask == 7
			if contentRel || locationRel {
				st.relevant[side][e.path] = true
			}
			if locationRel && !contentRel {
				st.locationOnly[side][e.path] = true
			}
			// the redone walk does not detect again what it cached
			if !st.cache.cached(side, e.path) {
				st.deleted[side] = append(st.deleted[side], fileEntry{e.path, e.v[0].mode, e.v[0].hash})
			}
		}
		// git's merges set rename_empty=0: an empty file is
		// never a rename destination.
		if e.filemask&1 == 0 && e.filemask&sm != 0 {
			st.adds[side] = append(st.adds[side], fileEntry{e.path, e.v[side].mode, e.v[side].hash})
		}
		if e.filemask&1 == 0 && e.filemask&sm != 0 && e.v[side].hash != emptyBlobHash &&
			(st.cache == nil || !st.cache.targets[side][e.path]) {
			st.added[side] = append(st.added[side], fileEntry{e.path, e.v[side].mode, e.v[side].hash})
		}
	}
}

// info is the pathInfo of an entry collect could not resolve.
func (e entry) info() *pathInfo {
	pi := &pathInfo{filemask: e.filemask, dirmask: e.dirmask, matchMask: e.matchMask,
		dfConflict: e.filemask != 0 && e.dirmask != 0}
	for i := 0; i < 3; i++ {
		pi.stages[i] = e.v[i]
		pi.pathnames[i] = e.path
	}
	if e.dirmask != 0 {
		pi.isNull = true
		pi.matchMask &= e.filemask
	}
	return pi
}

// subtrees are the sides of e that are directories.
func (e entry) subtrees() [3]version {
	var sub [3]version
	for i := 0; i < 3; i++ {
		if e.dirmask&(1<<i) != 0 {
			sub[i] = e.v[i]
		}
	}
	return sub
}

func (st *mergeState) resolve(path string, v version) {
	st.paths[path] = &pathInfo{resolved: true, clean: true, result: v, isNull: !v.present()}
}

// sidePair is a rename of one side.
type sidePair struct {
	renamePair
	side int
}

// renames detects renames on both sides and folds them into the path
// infos, like merge-ort's detect_and_process_renames + process_renames.
// When the walk is to be redone (st.redo), it stops once renames are
// detected, caches them and reports true: the caller walks again, and the
// second time the cached renames are used instead of detected again.
func (st *mergeState) renames(ctx context.Context) (bool, error) {
	var pairs [3][]renamePair
	var counts [3]map[string]map[string]int
	var noMore [3]map[string]bool
	detected, limited := false, false
	for side := 1; side <= 2; side++ {
		rel, loc := st.relevant[side], st.locationOnly[side]
		if st.cache != nil {
			// sources whose outcome is cached are not detected again;
			// the first detection's directory rename counts stand
			// unless this side is detected again
			counts[side] = st.cache.dirRenameCount[side]
			rel = map[string]bool{}
			for p := range st.relevant[side] {
				if !st.cache.cached(side, p) {
					rel[p] = true
				}
			}
		}
		if len(rel) == 0 || len(st.deleted[side]) == 0 {
			continue
		}
		detected = true // git runs diffcore even without destinations
		if len(st.added[side]) == 0 {
			continue
		}
		rr, err := detectRenamesDetailed(ctx, st.blobs, st.deleted[side], st.added[side], renameOptions{
			Limit:        st.opt.RenameLimit,
			Relevant:     func(p string) bool { return rel[p] },
			LocationOnly: func(p string) bool { return loc[p] },
			DirsRemoved:  st.dirsRemoved[side],
		})
		if err != nil {
			return false, fmt.Errorf("detect renames: %w", err)
		}
		pairs[side], counts[side], noMore[side] = rr.Pairs, rr.DirRenameCount, rr.NoLongerRelevant
		limited = limited || rr.NeededLimit > 0
	}
	if st.redo && detected && !limited {
		st.cacheRenames(pairs, counts, noMore)
		return true, nil
	}
	if st.cache != nil {
		for side := 1; side <= 2; side++ {
			pairs[side] = append(pairs[side], st.cache.renames(side)...)
		}
	}
	// Directory renames (git's default merge.directoryRenames=conflict):
	// not in the merges that build a virtual base.
	var dirRenames [3]map[string]string
	if st.depth == 0 {
		for side := 1; side <= 2; side++ {
			dirRenames[side] = st.provisionalDirRenames(side, counts[side])
		}
		for d := range dirRenames[1] {
			if _, both := dirRenames[2][d]; both {
				delete(dirRenames[1], d)
				delete(dirRenames[2], d)
			}
		}
	}
	var collisions [3]map[string]*collision
	targets := [3][]renameTarget{}
	for side := 1; side <= 2; side++ {
		targets[side] = st.targets(side, pairs[side])
		collisions[side] = computeCollisions(dirRenames[3-side], targets[side])
	}
	var combined []sidePair
	for side := 1; side <= 2; side++ {
		for _, tg := range targets[side] {
			newPath := st.checkForDirRename(tg.to, side, dirRenames[3-side], dirRenames[side], collisions)
			if newPath != "" {
				st.applyDirRename(tg, side, newPath)
				tg.to = newPath
			}
			if tg.from != "" {
				combined = append(combined, sidePair{renamePair{From: fileEntry{path: tg.from}, To: fileEntry{path: tg.to}}, side})
			}
		}
	}
	sort.SliceStable(combined, func(i, j int) bool { return combined[i].From.path < combined[j].From.path })

	for i := 0; i < len(combined); i++ {
		pair := combined[i]
		oldpath, newpath := pair.From.path, pair.To.path
		oldinfo, newinfo := st.paths[oldpath], st.paths[newpath]
		if oldinfo == nil || oldinfo.resolved || oldinfo.clean {
			continue
		}
		if i+1 < len(combined) && combined[i+1].From.path == oldpath {
			// rename/rename(1to2) or (1to1)
			p2 := combined[i+1].To.path
			base, side1, side2 := st.paths[oldpath], st.paths[newpath], st.paths[p2]
			if newpath == p2 {
				side1.stages[0] = base.stages[0]
				side1.filemask |= 1
				base.isNull, base.clean = true, true
				i++
				continue
			}
			merged, clean, err := st.contentMerge(ctx, oldpath, base.stages[0], side1.stages[1], side2.stages[2],
				[3]string{oldpath, newpath, p2}, 1+2*st.depth)
			if err != nil {
				return false, err
			}
			wasBinary := !clean && merged.version == side1.stages[1]
			side1.stages[1] = merged.version
			side1.hunks = merged.hunks
			if wasBinary {
				merged.version = side2.stages[2]
			}
			side2.stages[2] = merged.version
			side2.hunks = merged.hunks
			side1.pathConflict, side2.pathConflict, base.pathConflict = true, true, true
			side1.kind, side2.kind, base.kind = KindRenameRename, KindRenameRename, KindRenameRename
			st.msg(oldpath, true, "CONFLICT (rename/rename): %s renamed to %s in %s and to %s in %s.",
				oldpath, newpath, st.branch1, p2, st.branch2)
			i++
			continue
		}
		if newinfo == nil || newinfo.resolved {
			continue // cannot happen for a detected rename; be safe
		}
		target := pair.side
		other := 3 - target
		oldSideMask := uint8(1) << other
		sourceDeleted := oldinfo.filemask == 1
		collision := newinfo.filemask&oldSideMask != 0
		typeChanged := !sourceDeleted &&
			(typeOf(oldinfo.stages[other].mode) == 'f') != (typeOf(newinfo.stages[target].mode) == 'f')
		if typeChanged && collision {
			collision = false
		}
		renameBranch, deleteBranch := st.branch1, st.branch2
		if target == 2 {
			renameBranch, deleteBranch = st.branch2, st.branch1
		}
		switch {
		case collision && !sourceDeleted:
			var pn [3]string
			pn[0], pn[other], pn[target] = oldpath, oldpath, newpath
			b, s1, s2 := st.paths[pn[0]], st.paths[pn[1]], st.paths[pn[2]]
			merged, clean, err := st.contentMerge(ctx, oldpath, b.stages[0], s1.stages[1], s2.stages[2], pn, 1+2*st.depth)
			if err != nil {
				return false, err
			}
			newinfo.stages[target] = merged.version
			if !clean {
				st.msg(newpath, true, "CONFLICT (rename involved in collision): rename of %s -> %s has content conflicts AND collides with another path; this may result in nested conflict markers.", oldpath, newpath)
			}
		case collision && sourceDeleted:
			newinfo.pathConflict = true
			newinfo.kind = KindRenameDelete
			st.msg(newpath, true, "CONFLICT (rename/delete): %s renamed to %s in %s, but deleted in %s.", oldpath, newpath, renameBranch, deleteBranch)
		default:
			newinfo.stages[0] = oldinfo.stages[0]
			newinfo.filemask |= 1
			newinfo.pathnames[0] = oldpath
			switch {
			case typeChanged:
				oldinfo.stages[0] = version{}
				oldinfo.filemask &= 6
			case sourceDeleted:
				newinfo.pathConflict = true
				newinfo.kind = KindRenameDelete
				st.msg(newpath, true, "CONFLICT (rename/delete): %s renamed to %s in %s, but deleted in %s.", oldpath, newpath, renameBranch, deleteBranch)
			default:
				newinfo.stages[other] = oldinfo.stages[other]
				newinfo.filemask |= oldSideMask
				newinfo.pathnames[other] = oldpath
			}
		}
		if !typeChanged {
			oldinfo.isNull, oldinfo.clean = true, true
		}
	}
	return false, nil
}

type mergedVersion struct {
	version
	hunks []Hunk
}

// contentMerge is merge-ort's handle_content_merge: o, a, b are the base,
// ours and theirs versions (a and b of the same type).
func (st *mergeState) contentMerge(ctx context.Context, path string, o, a, b version, pathnames [3]string, extraMarker int) (mergedVersion, bool, error) {
	clean := true
	var res mergedVersion
	if a.mode == b.mode || a.mode == o.mode {
		res.mode = b.mode
	} else {
		res.mode = a.mode
		clean = b.mode == o.mode
	}
	switch {
	case a.hash == b.hash || a.hash == o.hash:
		res.hash = b.hash
	case b.hash == o.hash:
		res.hash = a.hash
	case typeOf(a.mode) == 'f':
		twoWay := typeOf(o.mode) != typeOf(a.mode)
		var base []byte
		var err error
		if !twoWay {
			if base, err = st.blobs.readBlob(ctx, o.hash); err != nil {
				return res, false, err
			}
		}
		ours, err := st.blobs.readBlob(ctx, a.hash)
		if err != nil {
			return res, false, err
		}
		theirs, err := st.blobs.readBlob(ctx, b.hash)
		if err != nil {
			return res, false, err
		}
		name1, name2 := st.branch1, st.branch2
		if !(pathnames[0] == pathnames[1] && pathnames[1] == pathnames[2]) {
			name1 = st.branch1 + ":" + pathnames[1]
			name2 = st.branch2 + ":" + pathnames[2]
		}
		var out []byte
		conflict := false
		if isBinary(base) || isBinary(ours) || isBinary(theirs) {
			if st.depth > 0 {
				out = base
			} else {
				out = ours
				conflict = true
				st.msg(path, true, "warning: Cannot merge binary files: %s (%s vs. %s)", path, name1, name2)
			}
		} else {
			fr := mergeFile(base, ours, theirs, fileMergeOptions{OursLabel: name1, TheirsLabel: name2, MarkerSize: 7 + extraMarker})
			out = fr.Content
			conflict = len(fr.Conflicts) > 0
			res.hunks = fr.Conflicts
		}
		h, err := st.blobs.write(out)
		if err != nil {
			return res, false, fmt.Errorf("write merged %s: %w", path, err)
		}
		res.hash = h
		clean = clean && !conflict
		st.msg(path, false, "Auto-merging %s", path)
	case a.mode == filemode.Submodule:
		// The submodule's commits are not in this repository (git reports
		// "not checked out" in a bare merge): keep ours, or the base when
		// building a virtual ancestor.
		res.hash = a.hash
		if st.depth > 0 {
			res.hash = o.hash
			if o.mode != a.mode {
				res.mode = o.mode
			}
		}
		clean = false
		st.msg(path, true, "Failed to merge submodule %s (not checked out)", pathnames[0])
	case a.mode == filemode.Symlink:
		clean = false
		if st.depth > 0 {
			res.version = o
		} else {
			res.hash = a.hash
		}
	default:
		return res, false, fmt.Errorf("merge %s: unsupported mode %o", path, a.mode)
	}
	return res, clean, nil
}

// processEntries resolves every collected path, children before parents,
// like merge-ort's process_entries: a directory's result is known (empty
// or not) before the file that may sit at the same path is handled.
func (st *mergeState) processEntries(ctx context.Context) error {
	keys := make([]string, 0, len(st.paths))
	for p := range st.paths {
		keys = append(keys, p)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] > keys[j] })
	st.nonEmpty = map[string]bool{}
	for _, p := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		pi := st.paths[p]
		if !pi.resolved {
			if pi.dirmask != 0 {
				if st.nonEmpty[p] {
					pi.result = version{mode: filemode.Dir}
					pi.isNull = false
				} else {
					pi.result = version{}
					pi.isNull = true
				}
			}
			if !pi.clean {
				if err := st.processEntry(ctx, p, pi); err != nil {
					return err
				}
			}
		}
		if !pi.isNull && pi.result.present() {
			st.markParents(p)
		}
	}
	return nil
}

// markParents records that the directories above path are not empty.
func (st *mergeState) markParents(path string) {
	for i := len(path) - 1; i > 0; i-- {
		if path[i] == '/' {
			if st.nonEmpty[path[:i]] {
				return
			}
			st.nonEmpty[path[:i]] = true
		}
	}
}

// processEntry resolves one collected path that is not clean yet, like
// merge-ort's process_entry: a file/directory conflict is settled first
// (the file moved aside when the directory stays), then the file's masks
// pick the case.
func (st *mergeState) processEntry(ctx context.Context, path string, ci *pathInfo) error {
	if ci.dirmask != 0 && ci.filemask == 0 {
		ci.clean = true // a directory: nothing else to handle
		return nil
	}
	dfFileIndex := 0
	if ci.dfConflict {
		if !ci.result.present() {
			ci.dropEmptyDir()
		} else if ci.filemask == 1 {
			// The file was deleted on both sides: the directory stays.
			ci.filemask = 0
			ci.clean = true
			return nil
		} else {
			path, ci, dfFileIndex = st.moveFileAside(path, ci)
		}
	}
	switch {
	case ci.matchMask != 0:
		ci.takeChangedSide()
	case ci.filemask >= 6 && typeOf(ci.stages[1].mode) != typeOf(ci.stages[2].mode):
		st.distinctTypes(path, ci)
	case ci.filemask >= 6:
		if err := st.mergeBothSides(ctx, path, ci, dfFileIndex); err != nil {
			return err
		}
	case ci.filemask == 3 || ci.filemask == 5:
		st.modifyDelete(path, ci)
	case ci.filemask == 2 || ci.filemask == 4:
		ci.takeAdded()
	case ci.filemask == 1:
		ci.isNull = true
		ci.result = version{}
		ci.clean = !ci.pathConflict
	}
	if !ci.clean && ci.kind == "" {
		if ci.dfConflict {
			ci.kind = KindFileDirectory
		} else {
			ci.kind = KindContent
		}
	}
	return nil
}

// dropEmptyDir turns a file/directory conflict whose directory is empty
// in the merged tree into a file entry.
func (ci *pathInfo) dropEmptyDir() {
	ci.dfConflict = false
	ci.clean = false
	ci.isNull = false
	ci.matchMask &^= ci.dirmask
	ci.dirmask = 0
	ci.keepFileStages()
}

// keepFileStages zeroes the stages of the sides without a file.
func (ci *pathInfo) keepFileStages() {
	for i := 0; i < 3; i++ {
		if ci.filemask&(1<<i) == 0 {
			ci.stages[i] = version{}
		}
	}
}

// moveFileAside settles a file/directory conflict whose directory stays
// in the merged tree: the file goes to path~branch (branch: the side with
// the directory). It returns the new path, its info and the index of the
// side whose file it is; ci, the directory, is then clean.
func (st *mergeState) moveFileAside(path string, ci *pathInfo) (string, *pathInfo, int) {
	nci := *ci
	nci.matchMask &^= nci.dirmask
	nci.keepFileStages()
	dfFileIndex := 1
	if ci.dirmask&2 != 0 {
		dfFileIndex = 2
	}
	nci.dirmask = 0
	nci.result = version{}
	nci.isNull = false
	branch := st.branch1
	if dfFileIndex == 2 {
		branch = st.branch2
	}
	moved := st.uniquePath(path, branch)
	st.paths[moved] = &nci
	st.markParents(moved)
	nci.kind = KindFileDirectory
	st.msg(moved, true, "CONFLICT (file/directory): directory in the way of %s from %s; moving it to %s instead.", path, branch, moved)
	ci.filemask = 0
	ci.clean = true
	return moved, &nci, dfFileIndex
}

// takeChangedSide resolves a file that two sides agree on (matchMask):
// the side that changed it wins, or both when they changed it alike.
func (ci *pathInfo) takeChangedSide() {
	ci.clean = !ci.dfConflict && !ci.pathConflict
	if ci.matchMask == 6 {
		ci.result = ci.stages[1]
		return
	}
	other := 7 &^ ci.matchMask
	side := 1
	if other == 4 {
		side = 2
	}
	ci.result = ci.stages[side]
	ci.isNull = !ci.result.present()
	if ci.isNull {
		ci.clean = true
	}
}

// distinctTypes handles a path that is a different type on each side
// (file, symlink, submodule): each side's version is recorded at its own
// path (path~branch for the side that has a regular file, or both when
// neither has), as git's process_entry. A virtual base keeps the base
// version.
func (st *mergeState) distinctTypes(path string, ci *pathInfo) {
	if st.depth > 0 {
		ci.clean = false
		ci.result = ci.stages[0]
		ci.isNull = !ci.result.present()
		return
	}
	a, b := ci.stages[1].mode, ci.stages[2].mode
	renameA, renameB := false, false
	switch {
	case typeOf(a) == 'f':
		renameA = true
	case typeOf(b) == 'f':
		renameB = true
	default:
		renameA, renameB = true, true
	}
	var aPath, bPath string
	if renameA {
		aPath = st.uniquePath(path, st.branch1)
	}
	if renameB {
		bPath = st.uniquePath(path, st.branch2)
	}
	if renameA && renameB {
		st.msg(path, true, "CONFLICT (distinct types): %s had different types on each side; renamed both of them so each can be recorded somewhere.", path)
	} else {
		st.msg(path, true, "CONFLICT (distinct types): %s had different types on each side; renamed one of them so each can be recorded somewhere.", path)
	}
	ci.clean = false
	nci := *ci
	nci.keepOnly(2)
	ci.keepOnly(1)
	if renameA {
		st.paths[aPath] = ci
	}
	if !renameB {
		bPath = path
	}
	st.paths[bPath] = &nci
	if renameA && renameB {
		delete(st.paths, path)
	}
}

// keepOnly makes ci one side's part of a distinct-types conflict: that
// side's version, with the base's when it is of the same type.
func (ci *pathInfo) keepOnly(side int) {
	ci.result = ci.stages[side]
	ci.stages[3-side] = version{}
	ci.filemask = 1 | 1<<side
	if typeOf(ci.stages[side].mode) != typeOf(ci.stages[0].mode) {
		ci.stages[0] = version{}
		ci.filemask = 1 << side
	}
	ci.kind = KindDistinctTypes
}

// mergeBothSides merges a file that both sides have, of one type. When it
// is the file side of a file/directory conflict (moved aside), a clean
// merge is recorded as that side's version only.
func (st *mergeState) mergeBothSides(ctx context.Context, path string, ci *pathInfo, dfFileIndex int) error {
	mv, clean, err := st.contentMerge(ctx, path, ci.stages[0], ci.stages[1], ci.stages[2], ci.pathnames, 2*st.depth)
	if err != nil {
		return err
	}
	ci.clean = clean && !ci.dfConflict && !ci.pathConflict
	ci.result = mv.version
	ci.isNull = !mv.present()
	if len(mv.hunks) > 0 {
		ci.hunks = mv.hunks
	}
	if clean && ci.dfConflict {
		ci.filemask = 1 << dfFileIndex
		ci.stages[dfFileIndex] = mv.version
	}
	if !clean {
		reason := KindContent
		if ci.filemask == 6 {
			reason = KindAddAdd
		}
		if mv.mode == filemode.Submodule {
			reason = KindSubmodule
		}
		if ci.kind == "" {
			ci.kind = reason
		}
		st.msg(path, true, "CONFLICT (%s): Merge conflict in %s", reason, path)
	}
	return nil
}

// modifyDelete handles a file one side changed and the other deleted: the
// changed version stays (the base in a virtual base), as a conflict.
func (st *mergeState) modifyDelete(path string, ci *pathInfo) {
	side := 1
	if ci.filemask == 5 {
		side = 2
	}
	index := side
	if st.depth > 0 {
		index = 0
	}
	ci.result = ci.stages[index]
	ci.clean = false
	if ci.pathConflict && ci.stages[0].hash == ci.stages[side].hash {
		return // rename/delete, already reported
	}
	modifyBranch, deleteBranch := st.branch1, st.branch2
	if side == 2 {
		modifyBranch, deleteBranch = st.branch2, st.branch1
	}
	if ci.kind == "" {
		ci.kind = KindModifyDelete
	}
	st.msg(path, true, "CONFLICT (modify/delete): %s deleted in %s and modified in %s.  Version %s of %s left in tree.",
		path, deleteBranch, modifyBranch, modifyBranch, path)
}

// takeAdded resolves a file only one side has: added there.
func (ci *pathInfo) takeAdded() {
	side := 1
	if ci.filemask == 4 {
		side = 2
	}
	ci.result = ci.stages[side]
	ci.clean = !ci.dfConflict && !ci.pathConflict
}

// typeOf classifies a mode as git's S_IFMT does: file, link, gitlink, dir.
func typeOf(m filemode.FileMode) byte {
	switch m {
	case filemode.Regular, filemode.Executable, filemode.Deprecated:
		return 'f'
	case filemode.Symlink:
		return 'l'
	case filemode.Submodule:
		return 'g'
	case filemode.Dir:
		return 'd'
	}
	return 0
}

// uniquePath is git's unique_path: path~branch (slashes in branch become
// underscores), with _0, _1, ... appended while taken.
func (st *mergeState) uniquePath(path, branch string) string {
	base := path + "~" + strings.ReplaceAll(branch, "/", "_")
	p := base
	for i := 0; ; i++ {
		if _, taken := st.paths[p]; !taken {
			return p
		}
		p = fmt.Sprintf("%s_%d", base, i)
	}
}

// conflicts lists the unclean paths, sorted.
func (st *mergeState) conflicts() []Conflict {
	var out []Conflict
	for p, pi := range st.paths {
		if pi.resolved || pi.clean {
			continue
		}
		c := Conflict{Path: p, Kind: pi.kind, Hunks: pi.hunks}
		stage := func(i int) Stage {
			if pi.filemask&(1<<i) == 0 {
				return Stage{}
			}
			return Stage{Path: pi.pathnames[i], Mode: pi.stages[i].mode, Hash: pi.stages[i].hash}
		}
		c.Base, c.Ours, c.Theirs = stage(0), stage(1), stage(2)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// writeTrees writes the merged tree bottom-up and returns the root.
func (st *mergeState) writeTrees(ctx context.Context) (plumbing.Hash, error) {
	type dirNode struct {
		entries map[string]version
		subdirs map[string]*dirNode
	}
	newNode := func() *dirNode { return &dirNode{entries: map[string]version{}, subdirs: map[string]*dirNode{}} }
	root := newNode()
	nodeFor := func(dir string) *dirNode {
		n := root
		if dir == "" {
			return n
		}
		for _, part := range strings.Split(dir, "/") {
			c := n.subdirs[part]
			if c == nil {
				c = newNode()
				n.subdirs[part] = c
			}
			n = c
		}
		return n
	}
	for p, pi := range st.paths {
		if pi.isNull || !pi.result.present() {
			continue
		}
		if !pi.resolved && pi.result.isDir() {
			continue // a merged directory: written from its children
		}
		dir, name := "", p
		if i := strings.LastIndexByte(p, '/'); i >= 0 {
			dir, name = p[:i], p[i+1:]
		}
		nodeFor(dir).entries[name] = pi.result
	}
	var write func(n *dirNode) (plumbing.Hash, bool, error)
	write = func(n *dirNode) (plumbing.Hash, bool, error) {
		if err := ctx.Err(); err != nil {
			return plumbing.ZeroHash, false, err
		}
		for name, c := range n.subdirs {
			h, ok, err := write(c)
			if err != nil {
				return plumbing.ZeroHash, false, err
			}
			if ok {
				n.entries[name] = version{filemode.Dir, h}
			}
		}
		if len(n.entries) == 0 {
			return plumbing.ZeroHash, false, nil
		}
		entries := make([]treeEntry, 0, len(n.entries))
		for name, v := range n.entries {
			entries = append(entries, treeEntry{name: name, mode: v.mode, hash: v.hash})
		}
		obj, err := encodeTree(entries)
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		h, err := storeObject(st.m.store, obj)
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		return h, true, nil
	}
	h, ok, err := write(root)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if !ok {
		// the empty tree
		obj, err := encodeTree(nil)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		return storeObject(st.m.store, obj)
	}
	return h, nil
}
