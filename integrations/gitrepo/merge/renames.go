package merge

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// Rename detection for one side of a merge, giving the pairs git's
// diffcore-rename gives when merge-ort calls it:
//
//  1. exact renames: a destination takes a source with the same blob (and,
//     unless both are regular files, the same mode), preferring one with the
//     same basename, else the first in path order;
//  2. basename matches: a source and a destination whose basename is unique
//     among the remaining sources and destinations (or, for merges, whose
//     directory was renamed according to the exact renames) are paired if
//     they are at least halfway between the threshold and 100% similar;
//  3. inexact renames: every remaining destination is scored against every
//     remaining (relevant) source, keeping its four best candidates; all
//     candidates are then taken best first, each source and destination used
//     once, skipping pairs under the threshold.
//
// Empty files are never paired (merge-ort turns rename_empty off), only
// regular files are compared by content, and a source is renamed at most once
// (merges detect no copies).

const (
	// defaultMergeRenameLimit is merge-ort's rename limit when none is set:
	// inexact detection is skipped when sources*destinations > limit*limit.
	defaultMergeRenameLimit = 7000
	// candidatesPerDest is how many best sources each destination keeps.
	candidatesPerDest = 4
	// maxIdenticalTried bounds how many identical sources an exact rename looks at.
	maxIdenticalTried = 100
	// minBasenameScoreShare places the basename step's threshold between
	// the minimum score and 100% (git's GIT_BASENAME_FACTOR default).
	minBasenameScoreShare = 0.5
	// unknownDir marks, in directory rename counts, sources whose rename is
	// not known yet (it cannot be a real directory name).
	unknownDir = "/"
)

// emptyBlobID is the id of the empty blob; empty files take no part in renames.
var emptyBlobID = plumbing.NewHash("e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")

// Values of renameOptions.DirsRemoved: why merge-ort wants to know where a
// removed directory went (git's enum dir_rename_relevance).
const (
	renameDirNotRelevant = 0 // removed, but its renames do not matter
	renameDirForAncestor = 1 // needed only to decide an ancestor's rename
	renameDirForItself   = 2 // its own rename must be decided
)

// renameOptions tunes detectRenames. The zero value is merge-ort's default
// behaviour without relevance filtering (which is also what `git diff -M
// --no-rename-empty -l7000` does).
type renameOptions struct {
	// MinScore is the similarity threshold in percent; 0 means git's 50.
	// 100 or more means exact renames only.
	MinScore int
	// Limit bounds inexact detection: when the remaining sources times the
	// remaining destinations exceed Limit*Limit, no inexact renames are looked
	// for (exact and basename renames are still found). 0 means merge-ort's
	// default 7000; a negative value means no limit.
	Limit int
	// Relevant, if non-nil, says which deleted paths may be renamed by the
	// basename and inexact steps (merge-ort's relevant_sources). Exact
	// renames consider all sources, and irrelevant sources still count when
	// deciding whether a basename is unique.
	Relevant func(path string) bool

	// The fields below are only needed to reproduce merge-ort exactly.

	// DirsRemoved is merge-ort's dirs_removed for this side: the directories
	// of the base that no longer exist on this side, with why their renames
	// matter (renameDir* values). merge-ort always passes one (perhaps empty), and that turns on
	// directory-guided basename matching: a non-unique basename is looked
	// up in the directory its directory was renamed to by exact renames. nil
	// means no directory hints (as in git diff). The map is not modified.
	DirsRemoved map[string]int
	// LocationOnly, used with Relevant and DirsRemoved, says which relevant
	// sources matter only for directory rename detection
	// (RELEVANT_LOCATION): they are dropped before the inexact step when the
	// renames of their directories are already decided by majority.
	LocationOnly func(path string) bool
	// CountTailChunk counts a final chunk that ends neither with a newline
	// nor at 64 bytes, as git 2.43.2 and later do. git 2.39 (the version the
	// oracle tests use) ignores it, and so does the zero value.
	CountTailChunk bool
}

// renamePair is one detected rename.
type renamePair struct {
	From, To fileEntry
	Score    int // similarity percent (100 for exact)
}

// renameResult is everything detectRenamesDetailed finds.
type renameResult struct {
	// Pairs are the renames, ordered by destination path.
	Pairs []renamePair
	// NeededLimit is non-zero when inexact detection was skipped because of
	// Limit: the limit that would have been needed (git's needed_rename_limit).
	NeededLimit int
	// DirRenameCount is, when DirsRemoved was given, merge-ort's
	// dir_rename_count: for each removed directory, how many renames went
	// from directly in it to each destination directory.
	DirRenameCount map[string]map[string]int
	// NoLongerRelevant are the relevant sources (LocationOnly ones) that
	// were dropped before the inexact step because the renames of their
	// directories were already decided: git's RELEVANT_NO_MORE, which
	// merge-ort caches as irrelevant when it redoes its walk.
	NoLongerRelevant map[string]bool
}

// blobSizer is optionally implemented by a blobSource that can tell a blob's
// size without reading it; rename detection then reads only blobs whose size
// leaves a chance of a match.
type blobSizer interface {
	blobSize(ctx context.Context, h plumbing.Hash) (int64, error)
}

// detectRenames pairs deleted entries with added entries, like git's
// diffcore_rename_extended for one side of a merge.
func detectRenames(ctx context.Context, src blobSource, deleted, added []fileEntry, opt renameOptions) ([]renamePair, error) {
	res, err := detectRenamesDetailed(ctx, src, deleted, added, opt)
	return res.Pairs, err
}

// renameCand is a rename source or destination.
type renameCand struct {
	entry fileEntry
	base  string // basename
	used  bool   // source: renamed already; destination: has its source
	from  int    // destination: index of its source
	score int    // destination: score of the pair (0..maxScore)
}

// blobInfo is what is cached about one blob.
type blobInfo struct {
	size      int64
	sizeKnown bool
	sig       *fileSignature
}

type renameDetector struct {
	ctx      context.Context
	src      blobSource
	sizer    blobSizer
	opt      renameOptions
	minScore int
	blobs    map[plumbing.Hash]*blobInfo
	srcs     []renameCand // all sources, in path order
	live     []int        // indexes of the sources still in play
	dsts     []renameCand
	deleted  []fileEntry
	dirs     dirRenameInfo
	noMore   map[string]bool // sources dropped as RELEVANT_NO_MORE
}

// detectRenamesDetailed is detectRenames with the extra results merge-ort uses.
func detectRenamesDetailed(ctx context.Context, src blobSource, deleted, added []fileEntry, opt renameOptions) (renameResult, error) {
	d := &renameDetector{
		ctx:      ctx,
		src:      src,
		opt:      opt,
		minScore: scoreFromPercent(opt.MinScore),
		blobs:    make(map[plumbing.Hash]*blobInfo),
	}
	d.sizer, _ = src.(blobSizer)
	d.srcs = candidates(deleted)
	d.live = make([]int, len(d.srcs))
	for i := range d.live {
		d.live[i] = i
	}
	d.deleted = deleted
	d.dsts = candidates(added)
	res, err := d.run()
	if err != nil {
		return renameResult{}, err
	}
	return res, nil
}

// scoreFromPercent converts a percentage to git's internal score, as git
// parses "-M<n>%".
func scoreFromPercent(p int) int {
	switch {
	case p <= 0:
		return defaultRenameScore
	case p >= 100:
		return maxScore
	}
	return int(maxScore * float64(p) / 100)
}

// percentFromScore is git's similarity index, as shown in "R087".
func percentFromScore(s int) int { return int(float64(s) * 100 / maxScore) }

// candidates keeps the non-empty entries, in git's path order.
func candidates(entries []fileEntry) []renameCand {
	out := make([]renameCand, 0, len(entries))
	for _, e := range entries {
		if e.hash == emptyBlobID {
			continue
		}
		out = append(out, renameCand{entry: e, base: baseName(e.path), from: -1})
	}
	slices.SortStableFunc(out, func(a, b renameCand) int { return strings.Compare(a.entry.path, b.entry.path) })
	return out
}

func baseName(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

// dirName is the directory of p, "" at the top level.
func dirName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

func isRegularMode(m filemode.FileMode) bool { return m&0o170000 == 0o100000 }

func (d *renameDetector) run() (renameResult, error) {
	var res renameResult
	if len(d.srcs) > 0 && len(d.dsts) > 0 {
		found := d.findExact()
		if d.minScore < maxScore {
			if err := d.findInexact(found, &res); err != nil {
				return renameResult{}, err
			}
		}
	}
	for i := range d.dsts {
		dst := &d.dsts[i]
		if !dst.used {
			continue
		}
		res.Pairs = append(res.Pairs, renamePair{
			From:  d.srcs[dst.from].entry,
			To:    dst.entry,
			Score: percentFromScore(dst.score),
		})
	}
	res.DirRenameCount = d.dirs.result()
	res.NoLongerRelevant = d.noMore
	return res, nil
}

func (d *renameDetector) record(dstIdx, srcIdx, score int) {
	dst := &d.dsts[dstIdx]
	dst.used, dst.from, dst.score = true, srcIdx, score
	d.srcs[srcIdx].used = true
}

// findExact pairs destinations with sources holding the same blob, and
// returns how many it paired.
func (d *renameDetector) findExact() int {
	byHash := make(map[plumbing.Hash][]int, len(d.srcs))
	for i, s := range d.srcs {
		byHash[s.entry.hash] = append(byHash[s.entry.hash], i)
	}
	found := 0
	for di := range d.dsts {
		dst := &d.dsts[di]
		best, bestSameBase, tried := -1, false, 0
		for _, si := range byHash[dst.entry.hash] {
			s := &d.srcs[si]
			if (!isRegularMode(s.entry.mode) || !isRegularMode(dst.entry.mode)) && s.entry.mode != dst.entry.mode {
				continue
			}
			if s.used {
				continue
			}
			same := s.base == dst.base
			if best < 0 || (same && !bestSameBase) {
				best, bestSameBase = si, same
				if same {
					break
				}
			}
			if tried++; tried == maxIdenticalTried {
				break
			}
		}
		if best >= 0 {
			d.record(di, best, maxScore)
			found++
		}
	}
	return found
}

func (d *renameDetector) relevant(path string) bool {
	return d.opt.Relevant == nil || d.opt.Relevant(path)
}

// findInexact runs the basename and similarity steps.
func (d *renameDetector) findInexact(found int, res *renameResult) error {
	d.dropUsedSources(false)
	d.dirs.init(d)
	n, err := d.findBasenameMatches()
	if err != nil {
		return err
	}
	found += n
	d.dropUsedSources(true)
	d.dropSettledLocationSources()

	numDst, numSrc := len(d.dsts)-found, len(d.live)
	if numDst == 0 || numSrc == 0 {
		return nil
	}
	limit := d.opt.Limit
	if limit == 0 {
		limit = defaultMergeRenameLimit
	}
	if limit > 0 && uint64(numDst)*uint64(numSrc) > uint64(limit)*uint64(limit) {
		res.NeededLimit = max(numDst, numSrc)
		return nil
	}
	return d.scoreMatrix()
}

// dropUsedSources takes renamed sources (and, with irrelevant set, the
// irrelevant ones) out of the remaining sources.
func (d *renameDetector) dropUsedSources(irrelevant bool) {
	d.filterLive(func(s *renameCand) bool {
		return !s.used && (!irrelevant || d.relevant(s.entry.path))
	})
}

func (d *renameDetector) filterLive(keep func(*renameCand) bool) {
	live := d.live[:0]
	for _, i := range d.live {
		if keep(&d.srcs[i]) {
			live = append(live, i)
		}
	}
	d.live = live
}

// findBasenameMatches pairs sources and destinations by basename, with a
// threshold halfway between the minimum score and 100%.
func (d *renameDetector) findBasenameMatches() (int, error) {
	minScore := d.minScore + int(minBasenameScoreShare*float64(maxScore-d.minScore))
	uniqueSrc := make(map[string]int, len(d.live))
	for _, i := range d.live {
		s := &d.srcs[i]
		if _, dup := uniqueSrc[s.base]; dup {
			uniqueSrc[s.base] = -1
		} else {
			uniqueSrc[s.base] = i
		}
	}
	uniqueDst := make(map[string]int, len(d.dsts))
	for i, t := range d.dsts {
		if t.used {
			continue
		}
		if _, dup := uniqueDst[t.base]; dup {
			uniqueDst[t.base] = -1
		} else {
			uniqueDst[t.base] = i
		}
	}
	found := 0
	for n, i := range d.live {
		if n%256 == 0 {
			if err := d.ctx.Err(); err != nil {
				return 0, err
			}
		}
		s := &d.srcs[i]
		if !d.relevant(s.entry.path) {
			continue
		}
		di, ok := uniqueDst[s.base]
		if !ok {
			continue
		}
		if uniqueSrc[s.base] < 0 || di < 0 {
			di = d.dirs.guessDest(s.entry.path)
		}
		if di < 0 || d.dsts[di].used {
			continue
		}
		score, err := d.estimate(s.entry, d.dsts[di].entry, minScore)
		if err != nil {
			return 0, err
		}
		if score < minScore {
			continue
		}
		d.record(di, i, score)
		found++
		d.dirs.count(s.entry.path, d.dsts[di].entry.path)
	}
	return found, nil
}

// dropSettledLocationSources is merge-ort's early cull: sources wanted only
// for directory rename detection are dropped once no directory above them
// still needs its rename decided.
func (d *renameDetector) dropSettledLocationSources() {
	di := &d.dirs
	if di.removed == nil || d.opt.Relevant == nil {
		return
	}
	for _, i := range d.live {
		s := &d.srcs[i]
		for dir := dirName(s.entry.path); dir != "" && di.removed[dir] != renameDirNotRelevant; dir = dirName(dir) {
			di.add(dir, unknownDir)
		}
	}
	for dir, counts := range di.counts {
		if di.removed[dir] == renameDirForItself && majorityDecided(counts) {
			di.removed[dir] = renameDirForAncestor
		}
	}
	if d.opt.LocationOnly == nil {
		return
	}
	d.filterLive(func(s *renameCand) bool {
		if !d.opt.LocationOnly(s.entry.path) {
			return true
		}
		for dir := dirName(s.entry.path); ; dir = dirName(dir) {
			rel := di.removed[dir]
			if rel == renameDirForItself {
				return true
			}
			if rel == renameDirNotRelevant || dir == "" {
				if d.noMore == nil {
					d.noMore = map[string]bool{}
				}
				d.noMore[s.entry.path] = true
				return false
			}
		}
	})
}

// majorityDecided reports whether the most popular destination of a
// directory wins even if all unknown renames go to the runner-up.
func majorityDecided(counts map[string]int) bool {
	first, second, unknown := 0, 0, 0
	for dir, c := range counts {
		switch {
		case dir == unknownDir:
			unknown = c
		case c >= first:
			first, second = c, first
		case c >= second:
			second = c
		}
	}
	return first > second+unknown
}

// scoreCand is one (source, destination) score kept for a destination.
type scoreCand struct {
	src, dst  int // dst < 0: empty slot
	score     int
	nameScore int
}

// compareCands orders candidates best first: by score, then same basename
// first; empty slots last.
func compareCands(a, b *scoreCand) int {
	switch {
	case a.dst < 0:
		if b.dst >= 0 {
			return 1
		}
		return 0
	case b.dst < 0:
		return -1
	case a.score == b.score:
		return b.nameScore - a.nameScore
	}
	return b.score - a.score
}

// keepIfBetter puts c in place of the worst of the slots if c is better.
func keepIfBetter(slots []scoreCand, c scoreCand) {
	worst := 0
	for i := 1; i < len(slots); i++ {
		if compareCands(&slots[i], &slots[worst]) > 0 {
			worst = i
		}
	}
	if compareCands(&slots[worst], &c) > 0 {
		slots[worst] = c
	}
}

// scoreMatrix scores every remaining destination against every remaining
// source and takes the best pairs first.
func (d *renameDetector) scoreMatrix() error {
	if err := d.loadForMatrix(); err != nil {
		return err
	}
	var rows []int
	for i := range d.dsts {
		if !d.dsts[i].used {
			rows = append(rows, i)
		}
	}
	slots := make([]scoreCand, len(rows)*candidatesPerDest)
	workers := min(runtime.GOMAXPROCS(0), (len(rows)+15)/16)
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	var cancelled error
	for w := 0; w < max(workers, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				r := next
				next++
				if cancelled == nil && r%64 == 0 {
					cancelled = d.ctx.Err()
				}
				stop := cancelled != nil
				mu.Unlock()
				if stop || r >= len(rows) {
					return
				}
				d.scoreRow(rows[r], slots[r*candidatesPerDest:(r+1)*candidatesPerDest])
			}
		}()
	}
	wg.Wait()
	if cancelled != nil {
		return cancelled
	}
	slices.SortStableFunc(slots, func(a, b scoreCand) int { return compareCands(&a, &b) })
	for _, c := range slots {
		if c.dst < 0 || c.score < d.minScore {
			break
		}
		if d.dsts[c.dst].used || d.srcs[c.src].used {
			continue
		}
		d.record(c.dst, c.src, c.score)
		d.dirs.count(d.srcs[c.src].entry.path, d.dsts[c.dst].entry.path)
	}
	return nil
}

// scoreRow keeps the best candidates of one destination. It only uses
// signatures loaded by loadForMatrix, so rows can be scored concurrently.
func (d *renameDetector) scoreRow(di int, slots []scoreCand) {
	for k := range slots {
		slots[k] = scoreCand{dst: -1}
	}
	dst := &d.dsts[di]
	dstRegular := isRegularMode(dst.entry.mode)
	var dinfo *blobInfo
	if dstRegular {
		dinfo = d.blobs[dst.entry.hash]
	}
	for _, si := range d.live {
		s := &d.srcs[si]
		c := scoreCand{src: si, dst: di}
		if s.base == dst.base {
			c.nameScore = 1
		}
		if dstRegular && isRegularMode(s.entry.mode) {
			sinfo := d.blobs[s.entry.hash]
			if sizesCompatible(sinfo.size, dinfo.size, d.minScore) {
				c.score = similarityScore(sinfo.sig, dinfo.sig)
			}
		}
		keepIfBetter(slots, c)
	}
}

// loadForMatrix learns the size of every remaining regular file and the
// signature of those that have a partner of compatible size, so that the
// matrix can be scored without reading (and concurrently).
func (d *renameDetector) loadForMatrix() error {
	// Remaining regular sources by size.
	var bySize []int
	for _, i := range d.live {
		s := &d.srcs[i]
		if !isRegularMode(s.entry.mode) {
			continue
		}
		if _, err := d.sizeOf(s.entry.hash); err != nil {
			return err
		}
		bySize = append(bySize, i)
	}
	sizeAt := func(k int) int64 { return d.blobs[d.srcs[bySize[k]].entry.hash].size }
	slices.SortStableFunc(bySize, func(a, b int) int {
		return cmp.Compare(d.blobs[d.srcs[a].entry.hash].size, d.blobs[d.srcs[b].entry.hash].size)
	})
	// The sources a destination of size sz could match are a run of
	// bySize: mark the runs, then load the sources inside one.
	wanted := make([]int, len(bySize)+1)
	for _, t := range d.dsts {
		if t.used || !isRegularMode(t.entry.mode) {
			continue
		}
		info, err := d.sizeOf(t.entry.hash)
		if err != nil {
			return err
		}
		sz := info.size
		lo := sort.Search(len(bySize), func(k int) bool {
			s := sizeAt(k)
			return s > sz || sizesCompatible(s, sz, d.minScore)
		})
		hi := sort.Search(len(bySize), func(k int) bool {
			s := sizeAt(k)
			return s > sz && !sizesCompatible(s, sz, d.minScore)
		})
		if lo >= hi {
			continue
		}
		wanted[lo]++
		wanted[hi]--
		if _, err := d.signature(t.entry.hash); err != nil {
			return err
		}
	}
	open := 0
	for k, i := range bySize {
		if open += wanted[k]; open > 0 {
			if _, err := d.signature(d.srcs[i].entry.hash); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *renameDetector) info(h plumbing.Hash) *blobInfo {
	b := d.blobs[h]
	if b == nil {
		b = &blobInfo{}
		d.blobs[h] = b
	}
	return b
}

// sizeOf makes sure the blob's size is known.
func (d *renameDetector) sizeOf(h plumbing.Hash) (*blobInfo, error) {
	b := d.info(h)
	if b.sizeKnown {
		return b, nil
	}
	if d.sizer != nil {
		sz, err := d.sizer.blobSize(d.ctx, h)
		if err != nil {
			return nil, fmt.Errorf("rename detection: size of blob %s: %w", h, err)
		}
		b.size, b.sizeKnown = sz, true
		return b, nil
	}
	_, err := d.signature(h)
	return b, err
}

// signature makes sure the blob's signature (and size) is known; each blob
// is read at most once.
func (d *renameDetector) signature(h plumbing.Hash) (*fileSignature, error) {
	b := d.info(h)
	if b.sig != nil {
		return b.sig, nil
	}
	if err := d.ctx.Err(); err != nil {
		return nil, err
	}
	data, err := d.src.readBlob(d.ctx, h)
	if err != nil {
		return nil, fmt.Errorf("rename detection: read blob %s: %w", h, err)
	}
	sig := computeSignature(data, d.opt.CountTailChunk)
	b.sig, b.size, b.sizeKnown = &sig, sig.size, true
	return b.sig, nil
}

// estimate is the similarity score of dst as an edited src, or 0 when the
// pair cannot reach minScore because of sizes or is not two regular files.
func (d *renameDetector) estimate(src, dst fileEntry, minScore int) (int, error) {
	if !isRegularMode(src.mode) || !isRegularMode(dst.mode) {
		return 0, nil
	}
	si, err := d.sizeOf(src.hash)
	if err != nil {
		return 0, err
	}
	ti, err := d.sizeOf(dst.hash)
	if err != nil {
		return 0, err
	}
	if !sizesCompatible(si.size, ti.size, minScore) {
		return 0, nil
	}
	ss, err := d.signature(src.hash)
	if err != nil {
		return 0, err
	}
	ts, err := d.signature(dst.hash)
	if err != nil {
		return 0, err
	}
	return similarityScore(ss, ts), nil
}

// dirRenameInfo is the directory-rename bookkeeping that guides basename
// matching in merges (and that merge-ort reads back as dir_rename_count).
type dirRenameInfo struct {
	enabled bool
	// inScope says whether renames out of a directory are counted.
	inScope func(dir string) bool
	removed map[string]int // copy of DirsRemoved; nil without it
	counts  map[string]map[string]int
	guess   map[string]string // old dir -> most likely new dir
	idx     map[string]int    // unpaired destination path -> index
}

func (di *dirRenameInfo) init(d *renameDetector) {
	if d.opt.DirsRemoved == nil && d.opt.Relevant == nil {
		return
	}
	di.enabled = true
	di.counts = make(map[string]map[string]int)
	if d.opt.DirsRemoved != nil {
		di.removed = make(map[string]int, len(d.opt.DirsRemoved))
		for k, v := range d.opt.DirsRemoved {
			di.removed[k] = v
		}
		di.inScope = func(dir string) bool { _, ok := di.removed[dir]; return ok }
	} else {
		dirs := make(map[string]bool)
		for _, e := range d.deleted {
			if d.opt.Relevant(e.path) {
				dirs[dirName(e.path)] = true
			}
		}
		di.inScope = func(dir string) bool { return dirs[dir] }
	}
	di.idx = make(map[string]int)
	for i, t := range d.dsts {
		if !t.used {
			di.idx[t.entry.path] = i
			continue
		}
		di.count(d.srcs[t.from].entry.path, t.entry.path)
	}
	di.guess = make(map[string]string, len(di.counts))
	for old, counts := range di.counts {
		best, bestN := "", 0
		for dir, n := range counts {
			// git takes the first maximum in hash order; take the smallest
			// name among the maxima to stay deterministic.
			if n > bestN || (n == bestN && dir < best) {
				best, bestN = dir, n
			}
		}
		if bestN > 0 {
			di.guess[old] = best
		}
	}
}

func (di *dirRenameInfo) add(oldDir, newDir string) {
	m := di.counts[oldDir]
	if m == nil {
		m = make(map[string]int)
		di.counts[oldDir] = m
	}
	m[newDir]++
}

// count records the rename oldPath -> newPath for the directory that held
// oldPath and for those of its ancestors whose trailing components were
// kept by the rename and whose renames matter.
func (di *dirRenameInfo) count(oldPath, newPath string) {
	if !di.enabled {
		return
	}
	oldDir, newDir := oldPath, newPath
	for first := true; ; first = false {
		prevOld, prevNew := oldDir, newDir
		oldDir = dirName(prevOld)
		if !di.inScope(oldDir) {
			return
		}
		newDir = dirName(prevNew)
		if !first && baseName(prevOld) != baseName(prevNew) {
			return
		}
		flag := di.removed[oldDir] // renameDirNotRelevant without DirsRemoved
		if flag == renameDirForItself || first {
			di.add(oldDir, newDir)
		}
		if flag == renameDirNotRelevant || oldDir == "" || newDir == "" {
			return
		}
	}
}

// guessDest is the unpaired destination at the path where path's directory
// was most often renamed to, or -1.
func (di *dirRenameInfo) guessDest(path string) int {
	if !di.enabled {
		return -1
	}
	newDir, ok := di.guess[dirName(path)]
	if !ok {
		return -1
	}
	if i, ok := di.idx[newDir+"/"+baseName(path)]; ok {
		return i
	}
	return -1
}

// result is dir_rename_count as merge-ort keeps it: only removed
// directories, without the unknown placeholder.
func (di *dirRenameInfo) result() map[string]map[string]int {
	if !di.enabled || di.removed == nil {
		return nil
	}
	out := make(map[string]map[string]int)
	for dir, counts := range di.counts {
		if di.removed[dir] == renameDirNotRelevant {
			continue
		}
		delete(counts, unknownDir)
		out[dir] = counts
	}
	return out
}
