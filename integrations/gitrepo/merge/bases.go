package merge

// Merge bases, computed the way git 2.39 computes them: a "paint down" from
// both commits, then removal of redundant candidates, then a stable sort
// newest-first. Without a commit-graph the paint walk is date-ordered and
// redundant candidates are found by more paint walks; with one (see
// commitgraph.go) commits are read from the graph file instead of the
// object store, the walk is ordered by generation then date when the graph
// has corrected commit dates, and redundant candidates are found by one
// walk cut off at the lowest generation. The walk reproduces git's traversal order
// exactly (same priority, same tie-breaking by insertion order, same stop
// rule), so that even with clock skew — where the date-ordered walk can stop
// early and git's answer is not the mathematically minimal set — the result
// set and its order are those of `git merge-base --all`.
//
// This is an independent implementation written from the behaviour of git's
// commit-reach.c (paint_down_to_common, remove_redundant_no_gen,
// get_merge_bases_many_0) and commit.c (commit_list_insert_by_date,
// parse_commit_date); no code was taken from git.

import (
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// errObjectNotCommit is wrapped by the error returned when a hash names an object
// that is not a commit (a blob, a tree or a tag).
var errObjectNotCommit = errors.New("not a commit")

// graphCommit is the part of a commit the merge needs: parents, root tree and
// committer date. Values are shared between goroutines and never modified
// after creation (apart from the lazily resolved parent pointers).
type graphCommit struct {
	hash    plumbing.Hash
	tree    plumbing.Hash
	parents []plumbing.Hash
	// date is the committer timestamp as git reads it (parse_commit_date:
	// the number after the first '>' of the committer line, read like
	// strtoumax; 0 when the header is not "author" then "committer"). It is
	// unsigned, like git's timestamp_t, because git compares it unsigned.
	date uint64
	// virtual marks a commit made by newVirtualCommit (not in the storer).
	virtual bool
	// gen is the generation number from the commit-graph (genInfinity for a
	// commit that is not in it); inGraph tells parentPos is set.
	gen       uint64
	inGraph   bool
	parentPos []uint32
	// grafted marks a commit whose parents the graft table replaced:
	// parentPos is not used for it.
	grafted bool

	// parentPtrs caches the resolved parents (same order as parents).
	parentPtrs atomic.Pointer[[]*graphCommit]
}

// committerTime returns the committer date as a time.Time (UTC).
func (c *graphCommit) committerTime() time.Time {
	if c.date > math.MaxInt64 {
		return time.Unix(math.MaxInt64, 0).UTC()
	}
	return time.Unix(int64(c.date), 0).UTC()
}

// commitGraph loads and caches parsed commits (parents, commit time, tree)
// from a go-git storer, so that repeated merges in one process do not
// re-decode history. Safe for concurrent use. Reads from the storer are
// serialized (go-git's storers are not all safe for concurrent reads); cache
// hits take only a read lock.
type commitGraph struct {
	s    storer.EncodedObjectStorer
	file *graphFile // git's commit-graph, nil when there is none

	mu      sync.RWMutex
	commits map[plumbing.Hash]*graphCommit

	loadMu sync.Mutex // serializes storer reads
	buf    []byte     // read buffer, guarded by loadMu

	virtualSeq atomic.Uint64

	// grafts replaces the parents of some commits (see Merger.SetGrafts).
	grafts atomic.Pointer[map[plumbing.Hash]plumbing.Hash]
}

// graft gives c the parent the graft table names for it, if any. Every
// commit is made through it, before it is shared.
func (g *commitGraph) graft(c *graphCommit) *graphCommit {
	if t := g.grafts.Load(); t != nil {
		if p, ok := (*t)[c.hash]; ok {
			c.parents, c.parentPos, c.grafted = []plumbing.Hash{p}, nil, true
		}
	}
	return c
}

// setGrafts replaces the graft table; when it changed, the parsed commits
// are forgotten (their parents may be others now).
func (g *commitGraph) setGrafts(t map[plumbing.Hash]plumbing.Hash) {
	old := g.grafts.Load()
	if (old == nil || len(*old) == 0) && len(t) == 0 || old != nil && maps.Equal(*old, t) {
		return
	}
	t = maps.Clone(t)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.grafts.Store(&t)
	g.commits = make(map[plumbing.Hash]*graphCommit)
}

// newCommitGraph reads s's commit-graph file when s is a repository on a
// filesystem that has one (see openGraphFile).
func newCommitGraph(s storer.EncodedObjectStorer) *commitGraph {
	return &commitGraph{s: s, file: openGraphFile(s), commits: make(map[plumbing.Hash]*graphCommit)}
}

// genOrdered tells the paint walk to order by generation first (git's
// corrected_commit_dates_enabled).
func (g *commitGraph) genOrdered() bool { return g.file != nil && g.file.corrected }

// gensEnabled tells whether generation numbers may be used (git's
// generation_numbers_enabled).
func (g *commitGraph) gensEnabled() bool { return g.file != nil && g.file.gens }

// commit returns the parsed commit h, from the cache or the storer.
func (g *commitGraph) commit(ctx context.Context, h plumbing.Hash) (*graphCommit, error) {
	g.mu.RLock()
	c := g.commits[h]
	g.mu.RUnlock()
	if c != nil {
		return c, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	var err error
	if pos, ok := g.lookupGraph(h); ok {
		c, err = g.fromGraph(h, pos)
	} else {
		c, err = g.load(h)
	}
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	g.mu.Lock()
	if old := g.commits[h]; old != nil {
		c = old
	} else {
		g.commits[h] = c
	}
	g.mu.Unlock()
	return c, nil
}

func (g *commitGraph) lookupGraph(h plumbing.Hash) (uint32, bool) {
	if g.file == nil || h.IsZero() {
		return 0, false
	}
	return g.file.lookup(h)
}

// fromGraph makes the commit h at position pos of the commit-graph.
func (g *commitGraph) fromGraph(h plumbing.Hash, pos uint32) (*graphCommit, error) {
	e, err := g.file.entry(pos, nil)
	if err != nil {
		return nil, err
	}
	c := &graphCommit{hash: h, tree: e.tree, date: e.date, gen: e.gen, inGraph: true, parentPos: e.parents}
	c.parents = make([]plumbing.Hash, len(e.parents))
	for i, p := range e.parents {
		if c.parents[i], err = g.file.hashAt(p); err != nil {
			return nil, err
		}
	}
	return g.graft(c), nil
}

// load reads and parses one commit from the storer.
func (g *commitGraph) load(h plumbing.Hash) (*graphCommit, error) {
	if h.IsZero() {
		return nil, errors.New("zero hash")
	}
	g.loadMu.Lock()
	defer g.loadMu.Unlock()
	obj, err := g.s.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return nil, err
	}
	if t := obj.Type(); t != plumbing.CommitObject {
		return nil, fmt.Errorf("object is a %s: %w", t, errObjectNotCommit)
	}
	r, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	buf := g.buf[:0]
	if n := obj.Size() + 1; int64(cap(buf)) < n && n <= 1<<24 { // +1: room to see EOF
		buf = make([]byte, 0, max(n, 512))
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if cap(buf) <= 1<<16 {
		g.buf = buf
	}
	c, err := parseGraphCommit(h, buf)
	if err != nil {
		return nil, err
	}
	return g.graft(c), nil
}

// parseGraphCommit reads the header of a raw commit the way git's
// parse_commit_buffer does: a "tree" line, then any number of "parent"
// lines, then the committer date found after an "author" line.
func parseGraphCommit(h plumbing.Hash, b []byte) (*graphCommit, error) {
	const hexLen = 2 * len(plumbing.Hash{})
	const treeLen = len("tree ") + hexLen // without the newline
	const parentLen = len("parent ") + hexLen
	c := &graphCommit{hash: h, gen: genInfinity}
	if len(b) <= treeLen+1 || string(b[:5]) != "tree " || b[treeLen] != '\n' {
		return nil, errors.New("bogus commit object: no tree line")
	}
	if !parseHexOID(b[5:treeLen], &c.tree) {
		return nil, errors.New("bogus commit object: bad tree hash")
	}
	b = b[treeLen+1:]
	for len(b) > parentLen && string(b[:7]) == "parent " {
		var p plumbing.Hash
		if len(b) <= parentLen+1 || b[parentLen] != '\n' || !parseHexOID(b[7:parentLen], &p) {
			return nil, errors.New("bogus commit object: bad parent line")
		}
		c.parents = append(c.parents, p)
		b = b[parentLen+1:]
	}
	c.date = parseCommitDate(b)
	return c, nil
}

func parseHexOID(src []byte, h *plumbing.Hash) bool {
	if len(src) != 2*len(h) {
		return false
	}
	for i := range h {
		hi, ok1 := unhex(src[2*i])
		lo, ok2 := unhex(src[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		h[i] = hi<<4 | lo
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// parseCommitDate gives git's commit date from the header that follows the
// parent lines: 0 unless it starts with an "author" line directly followed
// by a "committer" line; otherwise the number after the committer line's
// first '>' (strtoumax semantics: leading space, optional sign, saturating).
func parseCommitDate(b []byte) uint64 {
	if len(b) <= 6 || string(b[:6]) != "author" {
		return 0
	}
	i := 0
	for i < len(b) && b[i] != '\n' {
		i++
	}
	b = b[min(i+1, len(b)):]
	if len(b) <= 9 || string(b[:9]) != "committer" {
		return 0
	}
	i = 0
	for i < len(b) && b[i] != '>' {
		i++
	}
	if i+1 >= len(b) {
		return 0
	}
	b = b[i+1:]
	end := 0
	for end < len(b) && b[end] != '\n' {
		end++
	}
	if end+1 >= len(b) {
		return 0 // git wants more bytes after the committer line's newline
	}
	return parseGitTimestamp(b[:end])
}

func parseGitTimestamp(b []byte) uint64 {
	i := 0
	for i < len(b) && (b[i] == ' ' || (b[i] >= '\t' && b[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	var v uint64
	overflow := false
	digits := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		digits++
		d := uint64(b[i] - '0')
		if v > (math.MaxUint64-d)/10 {
			overflow = true
		}
		v = v*10 + d
	}
	if digits == 0 {
		return 0
	}
	if overflow {
		return math.MaxUint64
	}
	if neg {
		return -v
	}
	return v
}

// parentsOf returns the resolved parents of c, loading them if needed.
func (g *commitGraph) parentsOf(ctx context.Context, c *graphCommit) ([]*graphCommit, error) {
	if p := c.parentPtrs.Load(); p != nil {
		return *p, nil
	}
	ps := make([]*graphCommit, len(c.parents))
	if c.inGraph && !c.grafted {
		// by position: no lookup of the hash in the graph
		for i, h := range c.parents {
			g.mu.RLock()
			p := g.commits[h]
			g.mu.RUnlock()
			if p == nil {
				var err error
				if p, err = g.fromGraph(h, c.parentPos[i]); err != nil {
					return nil, fmt.Errorf("parent of %s: %w", c.hash, err)
				}
				g.mu.Lock()
				if old := g.commits[h]; old != nil {
					p = old
				} else {
					g.commits[h] = p
				}
				g.mu.Unlock()
			}
			ps[i] = p
		}
		c.parentPtrs.Store(&ps)
		return ps, nil
	}
	for i, h := range c.parents {
		p, err := g.commit(ctx, h)
		if err != nil {
			return nil, fmt.Errorf("parent of %s: %w", c.hash, err)
		}
		ps[i] = p
	}
	c.parentPtrs.Store(&ps)
	return ps, nil
}

// newVirtualCommit registers an in-memory commit, as merge-ort's
// make_virtual_commit does for the merged merge bases of a recursive merge:
// it has the given tree and parents and committer date 0. It returns the
// synthetic hash that names it in this graph (not an object in the storer).
// The parents must be loadable (real or virtual). Call forgetVirtualCommit
// when the merge no longer needs it.
func (g *commitGraph) newVirtualCommit(ctx context.Context, tree plumbing.Hash, parents ...plumbing.Hash) (plumbing.Hash, error) {
	ps := make([]*graphCommit, len(parents))
	for i, h := range parents {
		p, err := g.commit(ctx, h)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("virtual commit: %w", err)
		}
		ps[i] = p
	}
	var seed [32]byte
	copy(seed[:], "code-releaser virtual commit\x00\x00")
	binary.BigEndian.PutUint64(seed[24:], g.virtualSeq.Add(1))
	h := plumbing.Hash(sha1.Sum(seed[:]))
	c := &graphCommit{hash: h, tree: tree, parents: append([]plumbing.Hash(nil), parents...), virtual: true, gen: genInfinity}
	c.parentPtrs.Store(&ps)
	g.mu.Lock()
	g.commits[h] = c
	g.mu.Unlock()
	return h, nil
}

// forgetVirtualCommit drops a commit made by newVirtualCommit.
func (g *commitGraph) forgetVirtualCommit(h plumbing.Hash) {
	g.mu.Lock()
	if c := g.commits[h]; c != nil && c.virtual {
		delete(g.commits, h)
	}
	g.mu.Unlock()
}

// Walk flags, as in git's commit-reach.c.
const (
	paintParent1 uint8 = 1 << iota // reachable from "one"
	paintParent2                   // reachable from one of "twos"
	paintStale                     // reachable from a common ancestor
	paintResult                    // already in the result list
)

type paintNode struct {
	c     *graphCommit
	flags uint8
	inq   int32 // how many times the node is in the queue now
}

type paintEntry struct {
	n   *paintNode
	ctr uint64
}

// paintWalk is the state of one paint-down walk: flags per commit and a
// priority queue ordered like git's (newer committer date first; equal dates
// in insertion order; a commit may be queued several times).
type paintWalk struct {
	g        *commitGraph
	ctx      context.Context
	nodes    map[*graphCommit]*paintNode
	queue    []paintEntry
	ctr      uint64
	nonstale int // queue entries whose commit is not STALE
	pops     int
	byGen    bool // order by generation, then date
}

func (g *commitGraph) newWalk(ctx context.Context) *paintWalk {
	return &paintWalk{g: g, ctx: ctx, nodes: make(map[*graphCommit]*paintNode), byGen: g.genOrdered()}
}

func (w *paintWalk) node(c *graphCommit) *paintNode {
	n := w.nodes[c]
	if n == nil {
		n = &paintNode{c: c}
		w.nodes[c] = n
	}
	return n
}

func (w *paintWalk) flags(c *graphCommit) uint8 {
	if n := w.nodes[c]; n != nil {
		return n.flags
	}
	return 0
}

// addFlags sets flags on n, keeping the non-stale count right.
func (w *paintWalk) addFlags(n *paintNode, f uint8) {
	if f&paintStale != 0 && n.flags&paintStale == 0 {
		w.nonstale -= int(n.inq)
	}
	n.flags |= f
}

func (w *paintWalk) less(a, b paintEntry) bool {
	if w.byGen && a.n.c.gen != b.n.c.gen {
		return a.n.c.gen > b.n.c.gen
	}
	if a.n.c.date != b.n.c.date {
		return a.n.c.date > b.n.c.date
	}
	return a.ctr < b.ctr
}

func (w *paintWalk) push(n *paintNode) {
	n.inq++
	if n.flags&paintStale == 0 {
		w.nonstale++
	}
	q := append(w.queue, paintEntry{n: n, ctr: w.ctr})
	w.ctr++
	i := len(q) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !w.less(q[i], q[p]) {
			break
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
	w.queue = q
}

func (w *paintWalk) pop() *paintNode {
	q := w.queue
	top := q[0].n
	last := len(q) - 1
	q[0] = q[last]
	q = q[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(q) {
			break
		}
		m := l
		if r := l + 1; r < len(q) && w.less(q[r], q[l]) {
			m = r
		}
		if !w.less(q[m], q[i]) {
			break
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
	w.queue = q
	top.inq--
	if top.flags&paintStale == 0 {
		w.nonstale--
	}
	return top
}

// insertCommitByDate inserts c into list before the first element with an older
// date (so equal dates keep insertion order): git's commit_list_insert_by_date.
func insertCommitByDate(list []*graphCommit, c *graphCommit) []*graphCommit {
	i := 0
	for i < len(list) && list[i].date >= c.date {
		i++
	}
	list = append(list, nil)
	copy(list[i+1:], list[i:])
	list[i] = c
	return list
}

// paint walks down from one (flag PARENT1) and twos (flag PARENT2) in date
// order until only STALE commits are queued, collecting commits reached from
// both sides (newest first, by insertCommitByDate). If stopOneInTwo is set, it
// returns as soon as one is known to be reachable from a "two" (isAncestor).
func (w *paintWalk) paint(one *graphCommit, twos []*graphCommit, stopOneInTwo bool) ([]*graphCommit, error) {
	n1 := w.node(one)
	w.addFlags(n1, paintParent1)
	if len(twos) == 0 {
		return []*graphCommit{one}, nil
	}
	w.push(n1)
	for _, t := range twos {
		n := w.node(t)
		w.addFlags(n, paintParent2)
		w.push(n)
	}
	var result []*graphCommit
	for w.nonstale > 0 {
		if stopOneInTwo && n1.flags&paintParent2 != 0 {
			break
		}
		if w.pops&1023 == 0 {
			if err := w.ctx.Err(); err != nil {
				return nil, err
			}
		}
		w.pops++
		n := w.pop()
		f := n.flags & (paintParent1 | paintParent2 | paintStale)
		if f == paintParent1|paintParent2 {
			if n.flags&paintResult == 0 {
				n.flags |= paintResult
				result = insertCommitByDate(result, n.c)
			}
			f |= paintStale // parents of a common ancestor are stale
		}
		parents, err := w.g.parentsOf(w.ctx, n.c)
		if err != nil {
			return nil, err
		}
		for _, p := range parents {
			pn := w.node(p)
			if pn.flags&f == f {
				continue
			}
			w.addFlags(pn, f)
			w.push(pn)
		}
	}
	return result, nil
}

// mergeBases returns all best common ancestors of a and b in the order git's
// get_merge_bases returns them (git's repo_get_merge_bases:
// paint_down_to_common, remove_redundant, then commit_list_insert_by_date —
// newest first, ties keep insertion order). Empty slice when the histories
// are unrelated. merge-ort merges them in the reverse order.
func (g *commitGraph) mergeBases(ctx context.Context, a, b plumbing.Hash) ([]plumbing.Hash, error) {
	bases, err := g.mergeBaseCommits(ctx, a, b)
	if err != nil {
		return nil, fmt.Errorf("merge bases of %s and %s: %w", a, b, err)
	}
	out := make([]plumbing.Hash, len(bases))
	for i, c := range bases {
		out[i] = c.hash
	}
	return out, nil
}

func (g *commitGraph) mergeBaseCommits(ctx context.Context, a, b plumbing.Hash) ([]*graphCommit, error) {
	ca, err := g.commit(ctx, a)
	if err != nil {
		return nil, err
	}
	cb, err := g.commit(ctx, b)
	if err != nil {
		return nil, err
	}
	if ca == cb {
		return []*graphCommit{ca}, nil
	}
	w := g.newWalk(ctx)
	list, err := w.paint(ca, []*graphCommit{cb}, false)
	if err != nil {
		return nil, err
	}
	var bases []*graphCommit
	for _, c := range list {
		if w.flags(c)&paintStale == 0 {
			bases = insertCommitByDate(bases, c)
		}
	}
	if len(bases) <= 1 {
		return bases, nil
	}
	bases, err = g.removeRedundant(ctx, bases)
	if err != nil {
		return nil, err
	}
	var out []*graphCommit
	for _, c := range bases {
		out = insertCommitByDate(out, c)
	}
	return out, nil
}

// removeRedundant drops the candidates that the paint walk finds reachable
// from another candidate, the way git does without generation numbers: for
// each candidate still kept, one walk from it against all other kept ones.
// The survivors keep their relative order.
func (g *commitGraph) removeRedundant(ctx context.Context, cands []*graphCommit) ([]*graphCommit, error) {
	if g.gensEnabled() {
		for _, c := range cands {
			if c.gen != genInfinity {
				return g.removeRedundantWithGen(ctx, cands)
			}
		}
	}
	redundant := make([]bool, len(cands))
	work := make([]*graphCommit, 0, len(cands))
	idx := make([]int, 0, len(cands))
	for i, c := range cands {
		if redundant[i] {
			continue
		}
		work, idx = work[:0], idx[:0]
		for j, o := range cands {
			if j != i && !redundant[j] {
				work = append(work, o)
				idx = append(idx, j)
			}
		}
		w := g.newWalk(ctx)
		if _, err := w.paint(c, work, false); err != nil {
			return nil, err
		}
		if w.flags(c)&paintParent2 != 0 {
			redundant[i] = true
		}
		for k, o := range work {
			if w.flags(o)&paintParent1 != 0 {
				redundant[idx[k]] = true
			}
		}
	}
	out := cands[:0:0]
	for i, c := range cands {
		if !redundant[i] {
			out = append(out, c)
		}
	}
	return out, nil
}

// removeRedundantWithGen drops the candidates reachable from another one,
// exactly, with one walk from all their parents that goes no lower than
// the lowest generation among them (git's remove_redundant_with_gen gives
// the same set). The survivors keep their relative order.
func (g *commitGraph) removeRedundantWithGen(ctx context.Context, cands []*graphCommit) ([]*graphCommit, error) {
	minGen := uint64(genInfinity)
	isCand := make(map[*graphCommit]bool, len(cands))
	for _, c := range cands {
		minGen = min(minGen, c.gen)
		isCand[c] = true
	}
	var stack []*graphCommit
	for _, c := range cands {
		ps, err := g.parentsOf(ctx, c)
		if err != nil {
			return nil, err
		}
		stack = append(stack, ps...)
	}
	reached, err := g.reach(ctx, stack, minGen, func(c *graphCommit) bool { return false })
	if err != nil {
		return nil, err
	}
	out := cands[:0:0]
	for _, c := range cands {
		if !reached[c] {
			out = append(out, c)
		}
	}
	return out, nil
}

// reach marks every commit reachable from starts whose generation is at
// least minGen (commits below it are not expanded: none of their ancestors
// can have a generation of minGen or more). It stops early when stop
// returns true for a reached commit.
func (g *commitGraph) reach(ctx context.Context, starts []*graphCommit, minGen uint64, stop func(*graphCommit) bool) (map[*graphCommit]bool, error) {
	seen := make(map[*graphCommit]bool)
	stack := starts
	for n := 0; len(stack) > 0; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[c] || c.gen < minGen {
			continue
		}
		seen[c] = true
		if stop(c) {
			break
		}
		ps, err := g.parentsOf(ctx, c)
		if err != nil {
			return nil, err
		}
		stack = append(stack, ps...)
	}
	return seen, nil
}

// isAncestor reports whether a is reachable from b (a == b counts), as
// `git merge-base --is-ancestor a b`.
func (g *commitGraph) isAncestor(ctx context.Context, a, b plumbing.Hash) (bool, error) {
	ca, err := g.commit(ctx, a)
	if err != nil {
		return false, fmt.Errorf("is %s an ancestor of %s: %w", a, b, err)
	}
	cb, err := g.commit(ctx, b)
	if err != nil {
		return false, fmt.Errorf("is %s an ancestor of %s: %w", a, b, err)
	}
	if ca == cb {
		return true, nil
	}
	if g.gensEnabled() && ca.gen != genInfinity {
		// Generations cut the walk off below a.
		if cb.gen != genInfinity && cb.gen <= ca.gen {
			return false, nil
		}
		seen, err := g.reach(ctx, []*graphCommit{cb}, ca.gen, func(c *graphCommit) bool { return c == ca })
		if err != nil {
			return false, fmt.Errorf("is %s an ancestor of %s: %w", a, b, err)
		}
		return seen[ca], nil
	}
	w := g.newWalk(ctx)
	if _, err := w.paint(ca, []*graphCommit{cb}, true); err != nil {
		return false, fmt.Errorf("is %s an ancestor of %s: %w", a, b, err)
	}
	return w.flags(ca)&paintParent2 != 0, nil
}
