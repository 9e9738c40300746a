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
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
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
	// gen is the generation number from the commit-graph (genInfinity for a
	// commit that is not in it); inGraph tells pos (its position there) and
	// parentPos are set.
	gen uint64
	pos uint32

	// walkID and walkRef are the ref that the walk walkID gave the commit:
	// only the walk that holds its graph's marker (commitGraph.marker)
	// reads or writes them.
	walkRef uint32
	walkID  uint64

	parentPos []uint32

	// parentArr (with parentState parentsSet) caches the resolved
	// parents of a commit with at most two, parentPtrs those of one with
	// more (same order as parents): no allocation for most commits.
	parentArr   [2]*graphCommit
	parentState atomic.Uint32
	parentPtrs  atomic.Pointer[[]*graphCommit]

	// virtual marks a commit made by newVirtualCommit (not in the storer).
	virtual bool
	inGraph bool
	// grafted marks a commit whose parents the graft table replaced:
	// parentPos is not used for it.
	grafted bool
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
	commits commitTable

	loadMu sync.Mutex // serializes storer reads
	buf    []byte     // read buffer, guarded by loadMu
	slab   commitSlab // what load makes commits of, guarded by loadMu

	virtualSeq atomic.Uint64

	// marker is the id of the walk that may keep its refs in the commits
	// (graphCommit.walkID), 0 when none does: one walk at a time, the
	// others keep them in a table of their own.
	marker atomic.Uint64

	// grafts replaces the parents of some commits (see Merger.SetGrafts).
	grafts atomic.Pointer[graftTable]
}

// graftTable is a graft table and where its commits are in the
// commit-graph.
type graftTable struct {
	parents map[plumbing.Hash]plumbing.Hash
	once    sync.Once
	posBits []uint64 // bit p: the commit at position p is grafted
}

// positions returns the bit set of the grafted commits' positions in f
// (nil when none of them is in it).
func (t *graftTable) positions(f *graphFile) []uint64 {
	t.once.Do(func() {
		for h := range t.parents {
			if p, ok := f.lookup(h); ok {
				if t.posBits == nil {
					t.posBits = make([]uint64, (f.total+63)/64)
				}
				t.posBits[p/64] |= 1 << (p % 64)
			}
		}
	})
	return t.posBits
}

// graft gives c the parent the graft table names for it, if any. Every
// commit is made through it, before it is shared.
func (g *commitGraph) graft(c *graphCommit) *graphCommit {
	if t := g.grafts.Load(); t != nil {
		if p, ok := t.parents[c.hash]; ok {
			c.parents, c.parentPos, c.grafted = []plumbing.Hash{p}, nil, true
		}
	}
	return c
}

// setGrafts replaces the graft table; when it changed, the parsed commits
// are forgotten (their parents may be others now).
func (g *commitGraph) setGrafts(t map[plumbing.Hash]plumbing.Hash) {
	old := g.grafts.Load()
	if (old == nil || len(old.parents) == 0) && len(t) == 0 || old != nil && maps.Equal(old.parents, t) {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.grafts.Store(&graftTable{parents: maps.Clone(t)})
	g.commits = commitTable{}
}

// newCommitGraph reads s's commit-graph file when s is a repository on a
// filesystem that has one (see openGraphFile).
func newCommitGraph(s storer.EncodedObjectStorer) *commitGraph {
	return &commitGraph{s: s, file: openGraphFile(s)}
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
	c := g.commits.get(&h)
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
	return g.share(c), nil
}

// share puts c in the cache unless a commit of its hash is there already,
// and returns the one in the cache.
func (g *commitGraph) share(c *graphCommit) *graphCommit {
	g.mu.Lock()
	defer g.mu.Unlock()
	if old := g.commits.get(&c.hash); old != nil {
		return old
	}
	g.commits.add(c, 0)
	return c
}

// commitAt returns the commit at position pos of the commit-graph.
func (g *commitGraph) commitAt(pos uint32) (*graphCommit, error) {
	h, err := g.file.hashAt(pos)
	if err != nil {
		return nil, err
	}
	g.mu.RLock()
	c := g.commits.get(&h)
	g.mu.RUnlock()
	if c != nil {
		return c, nil
	}
	if c, err = g.fromGraph(h, pos); err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	return g.share(c), nil
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
	c := &graphCommit{hash: h, tree: e.tree, date: e.date, gen: e.gen, inGraph: true, pos: pos, parentPos: e.parents}
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
	if ps, ok := g.s.(*packedStore); ok {
		if cap(g.buf) < 1<<10 {
			g.buf = make([]byte, 1<<10)
		}
		typ, data, found, err := ps.readInto(h, g.buf[:cap(g.buf)])
		if err != nil {
			return nil, err
		}
		if found {
			if typ != plumbing.CommitObject {
				return nil, fmt.Errorf("object is a %s: %w", typ, errObjectNotCommit)
			}
			if cap(data) > cap(g.buf) && cap(data) <= 1<<16 {
				g.buf = data
			}
			c, err := parseCommitInto(&g.slab, h, data)
			if err != nil {
				return nil, err
			}
			return g.graft(c), nil
		}
	}
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
	c, err := parseCommitInto(&g.slab, h, buf)
	if err != nil {
		return nil, err
	}
	return g.graft(c), nil
}

// parseGraphCommit reads the header of a raw commit the way git's
// parse_commit_buffer does: a "tree" line, then any number of "parent"
// lines, then the committer date found after an "author" line.
func parseGraphCommit(h plumbing.Hash, b []byte) (*graphCommit, error) {
	return parseCommitInto(nil, h, b)
}

// parseCommitInto is parseGraphCommit making the commit from slab (nil:
// from the heap).
func parseCommitInto(slab *commitSlab, h plumbing.Hash, b []byte) (*graphCommit, error) {
	const hexLen = 2 * len(plumbing.Hash{})
	const treeLen = len("tree ") + hexLen // without the newline
	const parentLen = len("parent ") + hexLen
	var tree plumbing.Hash
	if len(b) <= treeLen+1 || string(b[:5]) != "tree " || b[treeLen] != '\n' {
		return nil, errors.New("bogus commit object: no tree line")
	}
	if !parseHexOID(b[5:treeLen], &tree) {
		return nil, errors.New("bogus commit object: bad tree hash")
	}
	b = b[treeLen+1:]
	var scratch [4]plumbing.Hash
	parents := scratch[:0]
	for len(b) > parentLen && string(b[:7]) == "parent " {
		var p plumbing.Hash
		if len(b) <= parentLen+1 || b[parentLen] != '\n' || !parseHexOID(b[7:parentLen], &p) {
			return nil, errors.New("bogus commit object: bad parent line")
		}
		parents = append(parents, p)
		b = b[parentLen+1:]
	}
	c := slab.newCommit()
	c.hash, c.tree, c.gen = h, tree, genInfinity
	c.parents = slab.copyIDs(parents)
	c.date = parseCommitDate(b)
	return c, nil
}

// commitSlab hands out the commits that a walk without a commit-graph
// parses (all 60,000 of a git.git-sized history for maint and master),
// and their parents' ids, from chunks: one allocation for many commits
// instead of two each. They stay in the graph's cache anyway.
type commitSlab struct {
	commits []graphCommit
	ids     []plumbing.Hash
}

func (s *commitSlab) newCommit() *graphCommit {
	if s == nil {
		return new(graphCommit)
	}
	if len(s.commits) == 0 {
		s.commits = make([]graphCommit, 64)
	}
	c := &s.commits[0]
	s.commits = s.commits[1:]
	return c
}

// copyIDs returns a copy of ids (nil when there are none), which appends
// to it do not change.
func (s *commitSlab) copyIDs(ids []plumbing.Hash) []plumbing.Hash {
	if len(ids) == 0 {
		return nil
	}
	if s == nil || len(ids) > 16 {
		return slices.Clone(ids)
	}
	if len(s.ids) < len(ids) {
		s.ids = make([]plumbing.Hash, 256)
	}
	out := s.ids[:len(ids):len(ids)]
	copy(out, ids)
	s.ids = s.ids[len(ids):]
	return out
}

func parseHexOID(src []byte, h *plumbing.Hash) bool {
	if len(src) != 2*len(h) {
		return false
	}
	bad := uint8(0)
	for i := range h {
		hi, lo := hexValue[src[2*i]], hexValue[src[2*i+1]]
		bad |= hi | lo
		h[i] = hi<<4 | lo&0x0f
	}
	return bad&0xf0 == 0 // a walk without a commit-graph parses three ids a commit
}

// hexValue is the value of each hexadecimal digit, 0xff for other bytes.
var hexValue = func() (t [256]uint8) {
	for c := range t {
		v, ok := unhex(byte(c))
		t[c] = v
		if !ok {
			t[c] = 0xff
		}
	}
	return t
}()

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
	n := len(c.parents)
	if n <= len(c.parentArr) {
		if c.parentState.Load() == parentsSet {
			return c.parentArr[:n], nil
		}
		var ps [2]*graphCommit
		if err := g.resolveParents(ctx, c, ps[:n]); err != nil {
			return nil, err
		}
		return c.setParents(ps), nil
	}
	if p := c.parentPtrs.Load(); p != nil {
		return *p, nil
	}
	ps := make([]*graphCommit, n)
	if err := g.resolveParents(ctx, c, ps); err != nil {
		return nil, err
	}
	c.parentPtrs.Store(&ps)
	return ps, nil
}

// States of graphCommit.parentArr.
const (
	parentsUnset uint32 = iota
	parentsWriting
	parentsSet
)

// setParents caches ps (the first len(c.parents) of them) as c's
// parents, unless another goroutine does, and returns the cached ones.
func (c *graphCommit) setParents(ps [2]*graphCommit) []*graphCommit {
	if c.parentState.CompareAndSwap(parentsUnset, parentsWriting) {
		c.parentArr = ps
		c.parentState.Store(parentsSet)
	} else {
		for c.parentState.Load() != parentsSet {
			runtime.Gosched() // another goroutine is writing the same parents
		}
	}
	return c.parentArr[:len(c.parents)]
}

// resolveParents puts c's parents into ps.
func (g *commitGraph) resolveParents(ctx context.Context, c *graphCommit, ps []*graphCommit) error {
	if c.inGraph && !c.grafted {
		// by position: no lookup of the hash in the graph
		for i, h := range c.parents {
			g.mu.RLock()
			p := g.commits.get(&h)
			g.mu.RUnlock()
			if p == nil {
				var err error
				if p, err = g.fromGraph(h, c.parentPos[i]); err != nil {
					return fmt.Errorf("parent of %s: %w", c.hash, err)
				}
				p = g.share(p)
			}
			ps[i] = p
		}
		return nil
	}
	for i, h := range c.parents {
		p, err := g.commit(ctx, h)
		if err != nil {
			return fmt.Errorf("parent of %s: %w", c.hash, err)
		}
		ps[i] = p
	}
	return nil
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
	var h plumbing.Hash
	sum := newSHA1()
	sum.Write(seed[:])
	sum.Sum(h[:0])
	c := &graphCommit{hash: h, tree: tree, parents: append([]plumbing.Hash(nil), parents...), virtual: true, gen: genInfinity}
	if len(ps) <= len(c.parentArr) {
		var arr [2]*graphCommit
		copy(arr[:], ps)
		c.setParents(arr)
	} else {
		c.parentPtrs.Store(&ps)
	}
	g.mu.Lock()
	g.commits.add(c, 0) // a new id: nothing has it
	g.mu.Unlock()
	return h, nil
}

// forgetVirtualCommit drops a commit made by newVirtualCommit.
func (g *commitGraph) forgetVirtualCommit(h plumbing.Hash) {
	g.mu.Lock()
	if c := g.commits.get(&h); c != nil && c.virtual {
		g.commits.remove(&h)
	}
	g.mu.Unlock()
}

// Walk flags, as in git's commit-reach.c.
const (
	paintParent1 uint8 = 1 << iota // reachable from "one"
	paintParent2                   // reachable from one of "twos"
	paintStale                     // reachable from a common ancestor
	paintResult                    // already in the result list
	reachSeen                      // reached by reach
)

// A walk names each commit by a ref: a commit in the commit-graph by its
// position there, any other (not in the file, made up for a recursive
// merge) by the file's commit count plus its index in the walk's list of
// others. Flags are kept in a slice indexed by ref, as git keeps them in
// slabs indexed by position: commits read from the file are never made
// into objects or looked up by hash, and only the commits outside it need
// a map. A commit in the file whose parents the graft table replaces takes
// its parents from the table, never from the file.

// refState is a walk's state of one commit.
type refState struct {
	flags uint8
	inq   uint8 // how many times it is in the queue now (a commit is queued at most once per flag)
}

// walkEntry is one entry of the paint walk's queue.
type walkEntry struct {
	gen, date uint64
	ref       uint32
	ctr       uint32 // insertion order
}

// walker is one walk of history (or several, one after another, with
// reset in between; the refs stay the same).
type walker struct {
	g       *commitGraph
	ctx     context.Context
	file    *graphFile   // nil: no commit-graph, every commit is an "other"
	total   uint32       // commits in the file: the first ref of the others
	grafted []uint64     // positions whose parents come from the graft table
	state   [][]refState // by ref: chunks of stateChunk refs, made when first touched
	others  []*graphCommit
	id      uint64      // this walk's id
	marks   bool        // the walk keeps the others' refs in them (walkID, walkRef)
	otherOf commitTable // the others' refs when it does not
	pbuf    []uint32

	// the paint walk's queue: newer committer date first (by generation
	// first when byGen); equal ones in insertion order; a commit may be
	// queued several times
	queue    []walkEntry
	ctr      uint32
	nonstale int // queue entries whose commit is not STALE
	pops     int
	byGen    bool
}

// walkIDs numbers the walks of all graphs.
var walkIDs atomic.Uint64

// newWalker starts a walk; release ends it.
func (g *commitGraph) newWalker(ctx context.Context) *walker {
	w := &walker{g: g, ctx: ctx, byGen: g.genOrdered(), id: walkIDs.Add(1)}
	// The walk that takes the marker may keep its refs in the commits
	// themselves: what one walk wrote there happens before the next one
	// takes the marker (the marker's atomic operations order them).
	w.marks = g.marker.CompareAndSwap(0, w.id)
	if f := g.file; f != nil {
		w.file, w.total = f, f.total
		w.state = make([][]refState, f.total/stateChunk+1)
		if t := g.grafts.Load(); t != nil {
			w.grafted = t.positions(f)
		}
	}
	return w
}

// release ends the walk: it gives back the marker if it has it.
func (w *walker) release() {
	if w.marks {
		w.marks = false
		w.g.marker.Store(0)
	}
}

// reset clears the flags and the queue for another walk.
func (w *walker) reset() {
	for _, ch := range w.state {
		clear(ch)
	}
	w.queue, w.ctr, w.nonstale = w.queue[:0], 0, 0
}

// ref names c in this walk.
func (w *walker) ref(c *graphCommit) uint32 {
	if c.inGraph && w.file != nil {
		return c.pos
	}
	if w.marks {
		if c.walkID == w.id {
			return c.walkRef
		}
	} else if r, ok := w.otherOf.refOf(c); ok {
		return r
	}
	r := w.total + uint32(len(w.others))
	w.others = append(w.others, c)
	if w.marks {
		c.walkID, c.walkRef = w.id, r
	} else {
		w.otherOf.add(c, r)
	}
	return r
}

// stateChunk is how many refs' states are made at once. Positions in the
// commit-graph follow the hashes: the few commits of a short walk are
// spread over the whole file, and one slice for all of them would have a
// short walk fault in a page of fresh memory for nearly every commit.
const stateChunk = 256

// st returns r's state.
func (w *walker) st(r uint32) *refState {
	c := int(r / stateChunk)
	if c >= len(w.state) {
		w.state = append(w.state, make([][]refState, c+1-len(w.state))...)
	}
	ch := w.state[c]
	if ch == nil {
		ch = make([]refState, stateChunk)
		w.state[c] = ch
	}
	return &ch[r%stateChunk]
}

// commit returns the commit named r.
func (w *walker) commit(r uint32) (*graphCommit, error) {
	if r >= w.total {
		return w.others[r-w.total], nil
	}
	return w.g.commitAt(r)
}

func (w *walker) isGrafted(r uint32) bool {
	return r < w.total && w.grafted != nil && w.grafted[r/64]&(1<<(r%64)) != 0
}

// meta returns the generation and committer date of r.
func (w *walker) meta(r uint32) (gen, date uint64, err error) {
	if r >= w.total {
		c := w.others[r-w.total]
		return c.gen, c.date, nil
	}
	return w.file.metaAt(r)
}

func (w *walker) date(r uint32) uint64 {
	_, d, _ := w.meta(r) // r was queued: its entry was read once already
	return d
}

// parents returns the parents of r, in order, in a buffer that the next
// call reuses.
func (w *walker) parents(r uint32) ([]uint32, error) {
	if r < w.total && !w.isGrafted(r) {
		ps, err := w.file.parentsAt(r, w.pbuf)
		if err != nil {
			return nil, fmt.Errorf("commit-graph position %d: %w", r, err)
		}
		w.pbuf = ps
		return ps, nil
	}
	c, err := w.commit(r)
	if err != nil {
		return nil, err
	}
	cs, err := w.g.parentsOf(w.ctx, c)
	if err != nil {
		return nil, err
	}
	ps := w.pbuf[:0]
	for _, p := range cs {
		ps = append(ps, w.ref(p))
	}
	w.pbuf = ps
	return ps, nil
}

// addFlags sets flags on r, keeping the non-stale count right.
func (w *walker) addFlags(r uint32, f uint8) {
	st := w.st(r)
	if f&paintStale != 0 && st.flags&paintStale == 0 {
		w.nonstale -= int(st.inq)
	}
	st.flags |= f
}

func (w *walker) less(a, b *walkEntry) bool {
	if w.byGen && a.gen != b.gen {
		return a.gen > b.gen
	}
	if a.date != b.date {
		return a.date > b.date
	}
	return a.ctr < b.ctr
}

func (w *walker) push(r uint32) error {
	gen, date, err := w.meta(r)
	if err != nil {
		return err
	}
	st := w.st(r)
	st.inq++
	if st.flags&paintStale == 0 {
		w.nonstale++
	}
	q := append(w.queue, walkEntry{gen: gen, date: date, ref: r, ctr: w.ctr})
	w.ctr++
	i := len(q) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !w.less(&q[i], &q[p]) {
			break
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
	w.queue = q
	return nil
}

func (w *walker) pop() walkEntry {
	q := w.queue
	top := q[0]
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
		if r := l + 1; r < len(q) && w.less(&q[r], &q[l]) {
			m = r
		}
		if !w.less(&q[m], &q[i]) {
			break
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
	w.queue = q
	st := w.st(top.ref)
	st.inq--
	if st.flags&paintStale == 0 {
		w.nonstale--
	}
	return top
}

// insertByDate inserts r into list before the first element with an older
// date (so equal dates keep insertion order): git's commit_list_insert_by_date.
func (w *walker) insertByDate(list []uint32, r uint32) []uint32 {
	d := w.date(r)
	i := 0
	for i < len(list) && w.date(list[i]) >= d {
		i++
	}
	return slices.Insert(list, i, r)
}

// paint walks down from one (flag PARENT1) and twos (flag PARENT2) in date
// order until only STALE commits are queued, collecting commits reached from
// both sides (newest first, by insertByDate). If stopOneInTwo is set, it
// returns as soon as one is known to be reachable from a "two" (isAncestor).
func (w *walker) paint(one uint32, twos []uint32, stopOneInTwo bool) ([]uint32, error) {
	w.addFlags(one, paintParent1)
	if len(twos) == 0 {
		return []uint32{one}, nil
	}
	if err := w.push(one); err != nil {
		return nil, err
	}
	for _, t := range twos {
		w.addFlags(t, paintParent2)
		if err := w.push(t); err != nil {
			return nil, err
		}
	}
	var result []uint32
	for w.nonstale > 0 {
		if stopOneInTwo && w.st(one).flags&paintParent2 != 0 {
			break
		}
		if w.pops&1023 == 0 {
			if err := w.ctx.Err(); err != nil {
				return nil, err
			}
		}
		w.pops++
		n := w.pop().ref
		f := w.st(n).flags & (paintParent1 | paintParent2 | paintStale)
		if f == paintParent1|paintParent2 {
			if w.st(n).flags&paintResult == 0 {
				w.st(n).flags |= paintResult
				result = w.insertByDate(result, n)
			}
			f |= paintStale // parents of a common ancestor are stale
		}
		parents, err := w.parents(n)
		if err != nil {
			return nil, err
		}
		for _, p := range parents {
			if w.st(p).flags&f == f {
				continue
			}
			w.addFlags(p, f)
			if err := w.push(p); err != nil {
				return nil, err
			}
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
	w := g.newWalker(ctx)
	defer w.release()
	list, err := w.paint(w.ref(ca), []uint32{w.ref(cb)}, false)
	if err != nil {
		return nil, err
	}
	var bases []uint32
	for _, r := range list {
		if w.st(r).flags&paintStale == 0 {
			bases = w.insertByDate(bases, r)
		}
	}
	if len(bases) > 1 {
		if bases, err = w.removeRedundant(bases); err != nil {
			return nil, err
		}
		var sorted []uint32
		for _, r := range bases {
			sorted = w.insertByDate(sorted, r)
		}
		bases = sorted
	}
	out := make([]*graphCommit, len(bases))
	for i, r := range bases {
		if out[i], err = w.commit(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// removeRedundant drops the candidates that the paint walk finds reachable
// from another candidate, the way git does without generation numbers: for
// each candidate still kept, one walk from it against all other kept ones.
// The survivors keep their relative order.
func (w *walker) removeRedundant(cands []uint32) ([]uint32, error) {
	if w.g.gensEnabled() {
		for _, r := range cands {
			if gen, _, err := w.meta(r); err != nil {
				return nil, err
			} else if gen != genInfinity {
				return w.removeRedundantWithGen(cands)
			}
		}
	}
	redundant := make([]bool, len(cands))
	work := make([]uint32, 0, len(cands))
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
		w.reset()
		if _, err := w.paint(c, work, false); err != nil {
			return nil, err
		}
		if w.st(c).flags&paintParent2 != 0 {
			redundant[i] = true
		}
		for k, o := range work {
			if w.st(o).flags&paintParent1 != 0 {
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
func (w *walker) removeRedundantWithGen(cands []uint32) ([]uint32, error) {
	minGen := uint64(genInfinity)
	for _, r := range cands {
		gen, _, err := w.meta(r)
		if err != nil {
			return nil, err
		}
		minGen = min(minGen, gen)
	}
	var starts []uint32
	for _, r := range cands {
		ps, err := w.parents(r)
		if err != nil {
			return nil, err
		}
		starts = append(starts, ps...)
	}
	w.reset()
	if _, err := w.reach(starts, minGen, math.MaxUint32); err != nil {
		return nil, err
	}
	out := cands[:0:0]
	for _, r := range cands {
		if w.st(r).flags&reachSeen == 0 {
			out = append(out, r)
		}
	}
	return out, nil
}

// reach marks (reachSeen) every commit reachable from starts whose
// generation is at least minGen (commits below it are not expanded: none
// of their ancestors can have a generation of minGen or more). It stops
// early, returning true, when it reaches stop.
func (w *walker) reach(starts []uint32, minGen uint64, stop uint32) (bool, error) {
	stack := slices.Clone(starts)
	for n := 0; len(stack) > 0; n++ {
		if n&1023 == 0 {
			if err := w.ctx.Err(); err != nil {
				return false, err
			}
		}
		r := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if w.st(r).flags&reachSeen != 0 {
			continue
		}
		gen, _, err := w.meta(r)
		if err != nil {
			return false, err
		}
		if gen < minGen {
			continue
		}
		w.st(r).flags |= reachSeen
		if r == stop {
			return true, nil
		}
		ps, err := w.parents(r)
		if err != nil {
			return false, err
		}
		stack = append(stack, ps...)
	}
	return false, nil
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
	w := g.newWalker(ctx)
	defer w.release()
	ra, rb := w.ref(ca), w.ref(cb)
	if g.gensEnabled() && ca.gen != genInfinity {
		// Generations cut the walk off below a.
		if cb.gen != genInfinity && cb.gen <= ca.gen {
			return false, nil
		}
		found, err := w.reach([]uint32{rb}, ca.gen, ra)
		if err != nil {
			return false, fmt.Errorf("is %s an ancestor of %s: %w", a, b, err)
		}
		return found, nil
	}
	if _, err := w.paint(ra, []uint32{rb}, true); err != nil {
		return false, fmt.Errorf("is %s an ancestor of %s: %w", a, b, err)
	}
	return w.st(ra).flags&paintParent2 != 0, nil
}
