package merge

// Line diff with the results of git's xdiff as merge-ort uses it: the
// histogram algorithm (with its fallback to the classic Myers diff when
// every common line is too frequent), followed by git's compaction of change
// groups (slide up, slide down, align with the other side's changes; no
// indent heuristic) and git's pairing of changed groups into an edit script.
//
// Everything here is written from the published descriptions of those
// algorithms; where a detail decides which of several equally short edit
// scripts is produced it follows git's observable behaviour, which the
// differential tests in linediff_test.go and filemerge_test.go check against
// the git binary.

import "bytes"

// lineChange is one entry of an edit script from A to B: lines
// [AStart, AStart+ACount) of A are replaced by lines [BStart, BStart+BCount)
// of B. Positions are 0-based line indexes; a count may be 0 (a pure
// insertion or deletion, Start is then the line it sits before).
type lineChange struct {
	AStart, ACount int
	BStart, BCount int
}

// AEnd is the index of the first A line after the change.
func (c lineChange) AEnd() int { return c.AStart + c.ACount }

// BEnd is the index of the first B line after the change.
func (c lineChange) BEnd() int { return c.BStart + c.BCount }

// diffLines returns the edit script git's histogram diff (plus compaction)
// produces between the texts a and b, in file order. Lines end after '\n';
// the last line may lack it; lines are equal only when byte-identical.
func diffLines(a, b []byte) []lineChange {
	var in lineInterner
	return diffIDs(in.lines(splitLines(a)), in.lines(splitLines(b)), in.count())
}

// splitLines cuts b into lines that keep their '\n'; a last line without
// '\n' is a line too. The slices alias b.
func splitLines(b []byte) [][]byte {
	if len(b) == 0 {
		return nil
	}
	lines := make([][]byte, 0, bytes.Count(b, []byte{'\n'})+1)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			lines = append(lines, b)
			break
		}
		lines = append(lines, b[:i+1:i+1])
		b = b[i+1:]
	}
	return lines
}

// lineInterner gives every distinct line a small integer id, so that the
// algorithms compare ints instead of bytes.
type lineInterner struct {
	ids map[string]int32
}

func (in *lineInterner) lines(lines [][]byte) []int32 {
	if in.ids == nil {
		in.ids = make(map[string]int32)
	}
	out := make([]int32, len(lines))
	for i, l := range lines {
		id, ok := in.ids[string(l)]
		if !ok {
			id = int32(len(in.ids))
			in.ids[string(l)] = id
		}
		out[i] = id
	}
	return out
}

func (in *lineInterner) count() int { return len(in.ids) }

// diffIDs diffs two sequences of line ids (ids below nids) the way xdiff
// does: histogram diff, compaction of both sides, edit script.
func diffIDs(a, b []int32, nids int) []lineChange {
	ca, cb := newChangeMap(len(a)), newChangeMap(len(b))
	h := histogram{a: a, b: b, ca: ca, cb: cb}
	h.diff(0, len(a), 0, len(b), nids)
	compactGroups(a, ca, cb)
	compactGroups(b, cb, ca)
	return editScript(ca, cb)
}

// changeMap flags the changed lines of one file. It has an unchanged
// sentinel before line 0 and after the last line, so group scans need no
// bounds checks.
type changeMap []bool

func newChangeMap(n int) changeMap { return make(changeMap, n+2) }

func (c changeMap) len() int          { return len(c) - 2 }
func (c changeMap) at(i int) bool     { return c[i+1] }
func (c changeMap) set(i int, v bool) { c[i+1] = v }
func (c changeMap) mark(from, to int) {
	for i := from; i < to; i++ {
		c[i+1] = true
	}
}

// ---------------------------------------------------------------------------
// Histogram diff

// histMaxOccurrences is the occurrence limit of the histogram diff: when all
// lines common to both ranges occur more often than this in the A range, the
// range is handed to the classic diff.
const histMaxOccurrences = 64

type histogram struct {
	a, b   []int32
	ca, cb changeMap

	// Occurrence index of the A range being searched, keyed by line id and
	// valid where stamp[id] == epoch (so it need not be cleared per range).
	epoch uint32
	stamp []uint32
	first []int32 // lowest A position of the id in the range
	occur []int32 // number of occurrences of the id in the range
	next  []int32 // by A position: next A position with the same id, or -1
}

// lcsRegion is the common region the histogram search picks: A lines
// [a0, a1] match B lines [b0, b1] (inclusive ends).
type lcsRegion struct {
	a0, a1, b0, b1 int
}

type lcsOutcome int

const (
	lcsFound    lcsOutcome = iota
	lcsNone                // no line in common: everything in the ranges changes
	lcsFallBack            // common lines exist but all are too frequent
)

// diff marks the changed lines of A [a0, a1) and B [b0, b1).
func (h *histogram) diff(a0, a1, b0, b1, nids int) {
	for {
		switch {
		case a0 == a1:
			h.cb.mark(b0, b1)
			return
		case b0 == b1:
			h.ca.mark(a0, a1)
			return
		}
		r, outcome := h.findLCS(a0, a1, b0, b1, nids)
		switch outcome {
		case lcsNone:
			h.ca.mark(a0, a1)
			h.cb.mark(b0, b1)
			return
		case lcsFallBack:
			classicDiffInto(h.a[a0:a1], h.b[b0:b1], h.ca[a0+1:a1+1], h.cb[b0+1:b1+1])
			return
		}
		// Left of the region recursively, right of it iteratively.
		h.diff(a0, r.a0, b0, r.b0, nids)
		a0, b0 = r.a1+1, r.b1+1
	}
}

// index builds the occurrence index of A [a0, a1).
func (h *histogram) index(a0, a1, nids int) {
	if h.stamp == nil {
		h.stamp = make([]uint32, nids)
		h.first = make([]int32, nids)
		h.occur = make([]int32, nids)
		h.next = make([]int32, len(h.a))
	}
	h.epoch++
	for p := a1 - 1; p >= a0; p-- {
		id := h.a[p]
		if h.stamp[id] != h.epoch {
			h.stamp[id] = h.epoch
			h.occur[id] = 1
			h.next[p] = -1
		} else {
			h.occur[id]++
			h.next[p] = h.first[id]
		}
		h.first[id] = int32(p)
	}
}

// findLCS picks the common region the histogram algorithm splits on.
//
// B is scanned left to right; for every B line that occurs in the A range no
// more often than the best region's occurrence count so far, each of its A
// occurrences is extended backwards and forwards into a common region whose
// count is the lowest occurrence count (in A) of the lines it covers. A
// region replaces the best one when it is longer or has a lower count. The
// scan of B resumes after the end of the longest extension made from the
// current B line.
func (h *histogram) findLCS(a0, a1, b0, b1, nids int) (lcsRegion, lcsOutcome) {
	h.index(a0, a1, nids)
	a, b := h.a, h.b
	var best lcsRegion
	found, common := false, false
	bestCount := int32(histMaxOccurrences + 1)

	for bp := b0; bp < b1; {
		nextB := bp + 1
		id := b[bp]
		if h.stamp[id] != h.epoch { // not in the A range
			bp = nextB
			continue
		}
		common = true
		count := h.occur[id]
		if count > bestCount {
			bp = nextB
			continue
		}
		for ap := int(h.first[id]); ; {
			following := int(h.next[ap])
			s1, s2, e1, e2 := ap, bp, ap, bp
			rc := count
			for s1 > a0 && s2 > b0 && a[s1-1] == b[s2-1] {
				s1--
				s2--
				if rc > 1 {
					rc = min(rc, h.occur[a[s1]])
				}
			}
			for e1 < a1-1 && e2 < b1-1 && a[e1+1] == b[e2+1] {
				e1++
				e2++
				if rc > 1 {
					rc = min(rc, h.occur[a[e1]])
				}
			}
			if nextB <= e2 {
				nextB = e2 + 1
			}
			if best.a1-best.a0 < e1-s1 || rc < bestCount {
				best = lcsRegion{a0: s1, a1: e1, b0: s2, b1: e2}
				bestCount = rc
				found = true
			}
			// Next occurrence that is not inside the region just found.
			for following >= 0 && following <= e1 {
				following = int(h.next[following])
			}
			if following < 0 {
				break
			}
			ap = following
		}
		bp = nextB
	}

	switch {
	case common && bestCount > histMaxOccurrences:
		return best, lcsFallBack
	case !found:
		return best, lcsNone
	}
	return best, lcsFound
}

// ---------------------------------------------------------------------------
// Classic (Myers) diff, used only as the histogram diff's fallback.
//
// It behaves like xdiff's classic algorithm run on the two ranges as if they
// were whole files: common first and last lines are set aside, lines with no
// match on the other side (and frequent lines amid runs of such lines) are
// marked changed up front and left out, and the bidirectional O(ND) search
// with xdiff's cost limits and "good snake" heuristics splits the rest.
//
// Where it may differ from git: git re-reads the range as a new file, so its
// line classes (and the hash buckets derived from them) are computed afresh;
// only equality of lines matters to the result, so this is not observable.
// The constants below are git's; the heuristics only act on large ranges
// (the cost limit from 256 steps on, the snake heuristics only when the
// ranges have more than about 32k lines together), and the differential
// tests exercise them less densely than the common paths.

const (
	myersMinMaxCost  = 256 // lower bound of the cost after which the search gives up
	myersHeurMinCost = 256 // cost from which the snake heuristics are tried
	myersSnakeLen    = 20  // a snake at least this long is "good"
	myersHeurFactor  = 4
	discardMaxEqual  = 1024 // cap of the "line is frequent" threshold
	discardScanRun   = 100  // how far the frequent-line scan looks each way
	discardRunFactor = 4
)

// isqrtApprox is the power-of-two approximation of a square root xdiff uses.
func isqrtApprox(n int) int {
	r := 1
	for ; n > 0; n >>= 2 {
		r <<= 1
	}
	return r
}

// classicDiffInto diffs a and b and stores the changed flags in ca and cb,
// which are windows (len(a), len(b)) into larger change maps.
func classicDiffInto(a, b []int32, ca, cb []bool) {
	n1, n2 := len(a), len(b)

	// Set aside common leading and trailing lines.
	pre := 0
	for pre < n1 && pre < n2 && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < n1-pre && suf < n2-pre && a[n1-1-suf] == b[n2-1-suf] {
		suf++
	}
	end1, end2 := n1-suf, n2-suf // exclusive

	// Occurrence counts over the whole of each side.
	inA := make(map[int32]int, n1)
	for _, id := range a {
		inA[id]++
	}
	inB := make(map[int32]int, n2)
	for _, id := range b {
		inB[id]++
	}
	keep1, keepIdx1 := discardLines(a, pre, end1, inB, ca)
	keep2, keepIdx2 := discardLines(b, pre, end2, inA, cb)

	m := myers{a: keep1, b: keep2, idxA: keepIdx1, idxB: keepIdx2, ca: ca, cb: cb}
	nd := len(keep1) + len(keep2) + 3
	m.fwd = make([]int, nd)
	m.bwd = make([]int, nd)
	m.koff = len(keep2) + 1
	m.maxCost = max(isqrtApprox(nd), myersMinMaxCost)
	m.compare(0, len(keep1), 0, len(keep2), false)
}

// discardLines classifies lines [from, to) of x by how often they occur on
// the other side (counts in other): lines with no match are marked changed
// right away, frequent lines too when they sit amid a run of unmatched
// lines. It returns the ids of the kept lines and their positions in x.
func discardLines(x []int32, from, to int, other map[int32]int, chg []bool) ([]int32, []int) {
	const (
		noMatch  = 0
		match    = 1
		frequent = 2
	)
	limit := min(isqrtApprox(len(x)), discardMaxEqual)
	kind := make([]byte, len(x))
	for i := from; i < to; i++ {
		switch n := other[x[i]]; {
		case n == 0:
			kind[i] = noMatch
		case n >= limit:
			kind[i] = frequent
		default:
			kind[i] = match
		}
	}
	// amidUnmatched reports whether the frequent line i lies in a run of
	// unmatched and frequent lines with enough unmatched ones around it.
	amidUnmatched := func(i int) bool {
		lo, hi := max(from, i-discardScanRun), min(to-1, i+discardScanRun)
		unmatchedBefore, frequentBefore := 0, 1
		for j := i - 1; j >= lo; j-- {
			if kind[j] == noMatch {
				unmatchedBefore++
			} else if kind[j] == frequent {
				frequentBefore++
			} else {
				break
			}
		}
		if unmatchedBefore == 0 {
			return false
		}
		unmatchedAfter, frequentAfter := 0, 1
		for j := i + 1; j <= hi; j++ {
			if kind[j] == noMatch {
				unmatchedAfter++
			} else if kind[j] == frequent {
				frequentAfter++
			} else {
				break
			}
		}
		if unmatchedAfter == 0 {
			return false
		}
		unmatched := unmatchedBefore + unmatchedAfter
		freq := frequentBefore + frequentAfter
		return freq*discardRunFactor < freq+unmatched
	}
	var keep []int32
	var idx []int
	for i := from; i < to; i++ {
		if kind[i] == match || (kind[i] == frequent && !amidUnmatched(i)) {
			keep = append(keep, x[i])
			idx = append(idx, i)
		} else {
			chg[i] = true
		}
	}
	return keep, idx
}

type myers struct {
	a, b       []int32 // kept lines
	idxA, idxB []int   // their positions in the ranges
	ca, cb     []bool
	fwd, bwd   []int // furthest reaching paths per diagonal, offset by koff
	koff       int
	maxCost    int
}

// compare marks the changes between kept lines a[off1:lim1] and b[off2:lim2].
func (m *myers) compare(off1, lim1, off2, lim2 int, needMin bool) {
	a, b := m.a, m.b
	for off1 < lim1 && off2 < lim2 && a[off1] == b[off2] {
		off1++
		off2++
	}
	for off1 < lim1 && off2 < lim2 && a[lim1-1] == b[lim2-1] {
		lim1--
		lim2--
	}
	switch {
	case off1 == lim1:
		for i := off2; i < lim2; i++ {
			m.cb[m.idxB[i]] = true
		}
	case off2 == lim2:
		for i := off1; i < lim1; i++ {
			m.ca[m.idxA[i]] = true
		}
	default:
		s1, s2, minLo, minHi := m.split(off1, lim1, off2, lim2, needMin)
		m.compare(off1, s1, off2, s2, minLo)
		m.compare(s1, lim1, s2, lim2, minHi)
	}
}

// split finds where to cut the box (off1, lim1) x (off2, lim2): the middle
// snake of the forward and backward searches, or, when the search is
// expensive, a point reached by a long snake or the furthest reaching one.
// The booleans say whether the two halves must be diffed minimally.
func (m *myers) split(off1, lim1, off2, lim2 int, needMin bool) (int, int, bool, bool) {
	a, b := m.a, m.b
	k := m.koff
	fwd := func(d int) *int { return &m.fwd[d+k] }
	bwd := func(d int) *int { return &m.bwd[d+k] }
	const farAway = int(^uint(0) >> 1)

	dmin, dmax := off1-lim2, lim1-off2
	fmid, bmid := off1-off2, lim1-lim2
	odd := (fmid-bmid)&1 != 0
	fmin, fmax := fmid, fmid
	bmin, bmax := bmid, bmid
	*fwd(fmid) = off1
	*bwd(bmid) = lim1

	for cost := 1; ; cost++ {
		goodSnake := false

		// Widen the forward diagonal range by one on each side (or
		// narrow it where it would leave the box).
		if fmin > dmin {
			fmin--
			*fwd(fmin - 1) = -1
		} else {
			fmin++
		}
		if fmax < dmax {
			fmax++
			*fwd(fmax + 1) = -1
		} else {
			fmax--
		}
		for d := fmax; d >= fmin; d -= 2 {
			var i1 int
			if *fwd(d - 1) >= *fwd(d + 1) {
				i1 = *fwd(d - 1) + 1
			} else {
				i1 = *fwd(d + 1)
			}
			start := i1
			i2 := i1 - d
			for i1 < lim1 && i2 < lim2 && a[i1] == b[i2] {
				i1++
				i2++
			}
			if i1-start > myersSnakeLen {
				goodSnake = true
			}
			*fwd(d) = i1
			if odd && bmin <= d && d <= bmax && *bwd(d) <= i1 {
				return i1, i2, true, true
			}
		}

		if bmin > dmin {
			bmin--
			*bwd(bmin - 1) = farAway
		} else {
			bmin++
		}
		if bmax < dmax {
			bmax++
			*bwd(bmax + 1) = farAway
		} else {
			bmax--
		}
		for d := bmax; d >= bmin; d -= 2 {
			var i1 int
			if *bwd(d - 1) < *bwd(d + 1) {
				i1 = *bwd(d - 1)
			} else {
				i1 = *bwd(d + 1) - 1
			}
			start := i1
			i2 := i1 - d
			for i1 > off1 && i2 > off2 && a[i1-1] == b[i2-1] {
				i1--
				i2--
			}
			if start-i1 > myersSnakeLen {
				goodSnake = true
			}
			*bwd(d) = i1
			if !odd && fmin <= d && d <= fmax && i1 <= *fwd(d) {
				return i1, i2, true, true
			}
		}

		if needMin {
			continue
		}

		// Expensive: accept a point reached by a long enough snake that
		// got far along the diagonal.
		if goodSnake && cost > myersHeurMinCost {
			best, bs1, bs2 := 0, 0, 0
			for d := fmax; d >= fmin; d -= 2 {
				dd := intAbs(d - fmid)
				i1 := *fwd(d)
				i2 := i1 - d
				v := (i1 - off1) + (i2 - off2) - dd
				if v > myersHeurFactor*cost && v > best &&
					off1+myersSnakeLen <= i1 && i1 < lim1 &&
					off2+myersSnakeLen <= i2 && i2 < lim2 &&
					snakeBefore(a, b, i1, i2) {
					best, bs1, bs2 = v, i1, i2
				}
			}
			if best > 0 {
				return bs1, bs2, true, false
			}
			for d := bmax; d >= bmin; d -= 2 {
				dd := intAbs(d - bmid)
				i1 := *bwd(d)
				i2 := i1 - d
				v := (lim1 - i1) + (lim2 - i2) - dd
				if v > myersHeurFactor*cost && v > best &&
					off1 < i1 && i1 <= lim1-myersSnakeLen &&
					off2 < i2 && i2 <= lim2-myersSnakeLen &&
					snakeAfter(a, b, i1, i2) {
					best, bs1, bs2 = v, i1, i2
				}
			}
			if best > 0 {
				return bs1, bs2, false, true
			}
		}

		// Too expensive: take the furthest reaching path.
		if cost >= m.maxCost {
			fbest, fbest1 := -1, -1
			for d := fmax; d >= fmin; d -= 2 {
				i1 := min(*fwd(d), lim1)
				i2 := i1 - d
				if lim2 < i2 {
					i1, i2 = lim2+d, lim2
				}
				if fbest < i1+i2 {
					fbest, fbest1 = i1+i2, i1
				}
			}
			bbest, bbest1 := farAway, farAway
			for d := bmax; d >= bmin; d -= 2 {
				i1 := max(off1, *bwd(d))
				i2 := i1 - d
				if i2 < off2 {
					i1, i2 = off2+d, off2
				}
				if i1+i2 < bbest {
					bbest, bbest1 = i1+i2, i1
				}
			}
			if (lim1+lim2)-bbest < fbest-(off1+off2) {
				return fbest1, fbest - fbest1, true, false
			}
			return bbest1, bbest - bbest1, false, true
		}
	}
}

// snakeBefore reports whether the myersSnakeLen lines before (i1, i2) match.
func snakeBefore(a, b []int32, i1, i2 int) bool {
	for k := 1; k <= myersSnakeLen; k++ {
		if a[i1-k] != b[i2-k] {
			return false
		}
	}
	return true
}

// snakeAfter reports whether the myersSnakeLen lines from (i1, i2) match.
func snakeAfter(a, b []int32, i1, i2 int) bool {
	for k := 0; k < myersSnakeLen; k++ {
		if a[i1+k] != b[i2+k] {
			return false
		}
	}
	return true
}

func intAbs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// ---------------------------------------------------------------------------
// Compaction

// lineGroup is a run of changed lines [start, end) of one file; an empty
// group (start == end) sits just before line start. Every file has a group
// before its first line, after its last one and between any two unchanged
// lines, most of them empty; groups of the two files correspond one to one.
type lineGroup struct{ start, end int }

func firstGroup(c changeMap) lineGroup {
	g := lineGroup{}
	for c.at(g.end) {
		g.end++
	}
	return g
}

// nextGroup moves g to the following group; false at the end of the file.
func nextGroup(c changeMap, g *lineGroup) bool {
	if g.end == c.len() {
		return false
	}
	g.start = g.end + 1
	g.end = g.start
	for c.at(g.end) {
		g.end++
	}
	return true
}

// prevGroup moves g to the preceding group; false at the start of the file.
func prevGroup(c changeMap, g *lineGroup) bool {
	if g.start == 0 {
		return false
	}
	g.end = g.start - 1
	g.start = g.end
	for c.at(g.start - 1) {
		g.start--
	}
	return true
}

// slideDown moves g one line towards the end of the file when its first line
// equals the line after it, absorbing a group it runs into.
func slideDown(lines []int32, c changeMap, g *lineGroup) bool {
	if g.end >= len(lines) || lines[g.start] != lines[g.end] {
		return false
	}
	c.set(g.start, false)
	c.set(g.end, true)
	g.start++
	g.end++
	for c.at(g.end) {
		g.end++
	}
	return true
}

// slideUp moves g one line towards the start of the file when its last line
// equals the line before it, absorbing a group it runs into.
func slideUp(lines []int32, c changeMap, g *lineGroup) bool {
	if g.start == 0 || lines[g.start-1] != lines[g.end-1] {
		return false
	}
	g.start--
	g.end--
	c.set(g.start, true)
	c.set(g.end, false)
	for c.at(g.start - 1) {
		g.start--
	}
	return true
}

// compactGroups normalises the position of each change group of one file
// (lines, flags c) against the other file's flags: every group is slid up as
// far as it goes and then down as far as it goes, merging with groups it
// meets, until its size is stable; it then stays at the lowest position
// unless some position lined it up with a non-empty group of the other
// file, in which case it goes back up to the lowest such position.
func compactGroups(lines []int32, c, other changeMap) {
	g, og := firstGroup(c), firstGroup(other)
	for {
		if g.end != g.start {
			var earliestEnd int
			for {
				size := g.end - g.start
				alignedEnd := -1
				for slideUp(lines, c, &g) {
					prevGroup(other, &og)
				}
				earliestEnd = g.end
				if og.end > og.start {
					alignedEnd = g.end
				}
				for slideDown(lines, c, &g) {
					nextGroup(other, &og)
					if og.end > og.start {
						alignedEnd = g.end
					}
				}
				if size == g.end-g.start {
					if g.end != earliestEnd && alignedEnd != -1 {
						for og.end == og.start {
							slideUp(lines, c, &g)
							prevGroup(other, &og)
						}
					}
					break
				}
			}
		}
		if !nextGroup(c, &g) {
			return
		}
		nextGroup(other, &og)
	}
}

// editScript pairs the change groups of the two files: unchanged lines
// correspond in order, and each stretch between two corresponding unchanged
// lines (or the file ends) with a change on either side is one entry.
func editScript(ca, cb changeMap) []lineChange {
	var out []lineChange
	n1, n2 := ca.len(), cb.len()
	for i, j := 0, 0; i < n1 || j < n2; {
		if !ca.at(i) && !cb.at(j) {
			i++
			j++
			continue
		}
		c := lineChange{AStart: i, BStart: j}
		for ca.at(i) {
			i++
		}
		for cb.at(j) {
			j++
		}
		c.ACount, c.BCount = i-c.AStart, j-c.BStart
		out = append(out, c)
	}
	return out
}
