package merge

// Three-way merge of text contents with the results of git's xdiff merge as
// merge-ort runs it: histogram diff, "zealous" conflict refinement, conflict
// style "merge", no favouring of a side.

import (
	"bytes"
	"strings"
)

// defaultMarkerSize is the width of conflict markers when none is set.
const defaultMarkerSize = 7

// binarySniffLen is how much of a blob git looks at to call it binary.
const binarySniffLen = 8000

// nearConflictLines is the largest number of unchanged lines between two
// conflicts that still makes them one conflict.
const nearConflictLines = 3

// fileMergeOptions are the settings of one content merge.
type fileMergeOptions struct {
	OursLabel, TheirsLabel string // marker labels, e.g. "HEAD" / "feature" or "HEAD:path" with renames
	MarkerSize             int    // 0 means 7; the tree merge passes 7 + extra for inner (virtual-ancestor) merges
}

// fileMergeResult is the outcome of a content merge.
type fileMergeResult struct {
	Content   []byte // merged content, with conflict markers where needed
	Conflicts []Hunk // one per conflict block, in order; empty means clean
}

// isBinary reports what git's buffer_is_binary does: a NUL byte in the first
// 8000 bytes. git merges such contents as binary (keeping ours, conflicted)
// when any of the three versions is binary; mergeFile does not check this.
func isBinary(b []byte) bool {
	if len(b) > binarySniffLen {
		b = b[:binarySniffLen]
	}
	return bytes.IndexByte(b, 0) >= 0
}

// chunkKind says how a region of the merge is resolved.
type chunkKind int

const (
	chunkConflict  chunkKind = iota
	chunkOurs                // only ours changed the region: take ours
	chunkTheirs              // only theirs changed the region: take theirs
	chunkIdentical           // a conflict whose two sides turned out equal
)

// mergeChunk is one region of the merge where at least one side changed the
// base. Each side's range is in that side's lines (0-based); base, the base
// range, is only meaningful until conflicts are refined.
type mergeChunk struct {
	kind             chunkKind
	base0, baseN     int
	ours0, oursN     int
	theirs0, theirsN int
}

// mergeFile merges text contents like git's xdl_merge as called by merge-ort
// (git 2.39): both sides are diffed against base with the histogram diff;
// when one side has no change the result is the other side verbatim;
// otherwise changes of one side that neither overlap nor touch a change of
// the other are applied, identical changes are applied once, and everything
// else conflicts. Conflicts are then refined ("zealous" level): the two
// sides of each are diffed against each other and only the differing parts
// stay conflicts. Conflicts with three or fewer unchanged lines between them
// are joined. Conflict blocks use the "merge" style (no base section):
//
//	<<<<<<< OursLabel
//	ours lines
//	=======
//	theirs lines
//	>>>>>>> TheirsLabel
//
// Markers end in CRLF when the surrounding lines do (see markersNeedCR); a
// side whose last line has no newline gets one inside a conflict block.
//
// Inputs must be text: the caller checks isBinary first, as git does. Known
// differences from git, none of which arise in practice: git gives up with
// an error when more than 64 distinct lines of a range fall into one bucket
// of its hash table, and it merges files over 1 GiB as binary.
func mergeFile(base, ours, theirs []byte, opt fileMergeOptions) fileMergeResult {
	var in lineInterner
	bl, ol, tl := splitLines(base), splitLines(ours), splitLines(theirs)
	bi, oi, ti := in.lines(bl), in.lines(ol), in.lines(tl)
	oursDiff := diffIDs(bi, oi, in.count())
	theirsDiff := diffIDs(bi, ti, in.count())
	switch {
	case len(oursDiff) == 0:
		return fileMergeResult{Content: bytes.Clone(theirs)}
	case len(theirsDiff) == 0:
		return fileMergeResult{Content: bytes.Clone(ours)}
	}

	chunks := combineChanges(oursDiff, theirsDiff, oi, ti, len(bi), len(oi), len(ti))
	chunks = refineConflicts(chunks, oi, ti, in.count())
	chunks = joinNearConflicts(chunks)

	w := mergeWriter{
		base: bl, ours: ol, theirs: tl,
		oursDiff: oursDiff, theirsDiff: theirsDiff,
		opt: opt,
	}
	return w.write(chunks)
}

// combineChanges walks the two edit scripts (base->ours, base->theirs) in
// base order. A change that ends strictly before the other side's next
// change starts is taken from its side; overlapping or touching changes
// conflict unless they replace the same base lines with the same lines.
// Entries that overlap or touch the previous one in ours or theirs are
// folded into it, becoming a conflict when their kinds differ.
func combineChanges(d1, d2 []lineChange, oi, ti []int32, nBase, nOurs, nTheirs int) []mergeChunk {
	var out []mergeChunk
	add := func(c mergeChunk) {
		if n := len(out); n > 0 {
			last := &out[n-1]
			if c.ours0 <= last.ours0+last.oursN || c.theirs0 <= last.theirs0+last.theirsN {
				if c.kind != last.kind {
					last.kind = chunkConflict
				}
				last.baseN = c.base0 + c.baseN - last.base0
				last.oursN = c.ours0 + c.oursN - last.ours0
				last.theirsN = c.theirs0 + c.theirsN - last.theirs0
				return
			}
		}
		out = append(out, c)
	}
	// onlyOurs and onlyTheirs build the entry for a change made by one side;
	// the other side's range is the same base lines, found through the
	// offset of that side's next pending change (or its end of file).
	onlyOurs := func(x lineChange, theirsShift int) mergeChunk {
		return mergeChunk{kind: chunkOurs,
			base0: x.AStart, baseN: x.ACount,
			ours0: x.BStart, oursN: x.BCount,
			theirs0: x.AStart + theirsShift, theirsN: x.ACount}
	}
	onlyTheirs := func(y lineChange, oursShift int) mergeChunk {
		return mergeChunk{kind: chunkTheirs,
			base0: y.AStart, baseN: y.ACount,
			ours0: y.AStart + oursShift, oursN: y.ACount,
			theirs0: y.BStart, theirsN: y.BCount}
	}

	i, j := 0, 0
	for i < len(d1) && j < len(d2) {
		x, y := d1[i], d2[j]
		if x.AEnd() < y.AStart {
			add(onlyOurs(x, y.BStart-y.AStart))
			i++
			continue
		}
		if y.AEnd() < x.AStart {
			add(onlyTheirs(y, x.BStart-x.AStart))
			j++
			continue
		}
		same := x.AStart == y.AStart && x.ACount == y.ACount && x.BCount == y.BCount &&
			equalIDs(oi[x.BStart:x.BEnd()], ti[y.BStart:y.BEnd()])
		if !same {
			// The conflict spans both changes; each side's range grows by
			// the base lines the other change covers beyond its own.
			c := mergeChunk{kind: chunkConflict, base0: x.AStart, ours0: x.BStart, theirs0: y.BStart}
			if lead := x.AStart - y.AStart; lead > 0 {
				c.base0 -= lead
				c.ours0 -= lead
			} else {
				c.theirs0 += lead
			}
			c.baseN = x.AEnd() - c.base0
			c.oursN = x.BEnd() - c.ours0
			c.theirsN = y.BEnd() - c.theirs0
			if tail := x.AEnd() - y.AEnd(); tail < 0 {
				c.baseN -= tail
				c.oursN -= tail
			} else {
				c.theirsN += tail
			}
			add(c)
		}
		e1, e2 := x.AEnd(), y.AEnd()
		if e1 >= e2 {
			j++
		}
		if e2 >= e1 {
			i++
		}
	}
	for ; i < len(d1); i++ {
		add(onlyOurs(d1[i], nTheirs-nBase))
	}
	for ; j < len(d2); j++ {
		add(onlyTheirs(d2[j], nOurs-nBase))
	}
	return out
}

func equalIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// refineConflicts diffs the two sides of every conflict where both sides
// have lines, and keeps as conflicts only the parts that differ; a conflict
// whose sides are equal becomes chunkIdentical.
func refineConflicts(chunks []mergeChunk, oi, ti []int32, nids int) []mergeChunk {
	out := make([]mergeChunk, 0, len(chunks))
	for _, c := range chunks {
		if c.kind != chunkConflict || c.oursN == 0 || c.theirsN == 0 {
			out = append(out, c)
			continue
		}
		d := diffIDs(oi[c.ours0:c.ours0+c.oursN], ti[c.theirs0:c.theirs0+c.theirsN], nids)
		if len(d) == 0 {
			c.kind = chunkIdentical
			out = append(out, c)
			continue
		}
		for _, x := range d {
			out = append(out, mergeChunk{kind: chunkConflict,
				base0: -1, // unknown after refinement
				ours0: c.ours0 + x.AStart, oursN: x.ACount,
				theirs0: c.theirs0 + x.BStart, theirsN: x.BCount})
		}
	}
	return out
}

// joinNearConflicts makes one conflict of two consecutive conflicts with
// nearConflictLines or fewer lines (of ours) between them.
func joinNearConflicts(chunks []mergeChunk) []mergeChunk {
	if len(chunks) == 0 {
		return chunks
	}
	out := chunks[:1]
	for _, next := range chunks[1:] {
		m := &out[len(out)-1]
		if m.kind == chunkConflict && next.kind == chunkConflict &&
			next.ours0-(m.ours0+m.oursN) <= nearConflictLines {
			m.oursN = next.ours0 + next.oursN - m.ours0
			m.theirsN = next.theirs0 + next.theirsN - m.theirs0
			m.base0 = -1
			continue
		}
		out = append(out, next)
	}
	return out
}

// mergeWriter renders the merge: ours' lines outside the chunks, each chunk
// resolved or as a conflict-marker block.
type mergeWriter struct {
	base, ours, theirs   [][]byte
	oursDiff, theirsDiff []lineChange
	opt                  fileMergeOptions

	buf   bytes.Buffer
	lines int // complete lines written so far
}

func (w *mergeWriter) write(chunks []mergeChunk) fileMergeResult {
	var conflicts []Hunk
	next := 0 // next ours line to copy
	for _, c := range chunks {
		switch c.kind {
		case chunkIdentical:
			// Nothing to do: the region is copied from ours with the
			// unchanged lines that follow it.
			continue
		case chunkOurs:
			w.copyLines(lineSpan(w.ours, next, c.ours0+c.oursN), false, false)
		case chunkTheirs:
			w.copyLines(lineSpan(w.ours, next, c.ours0), false, false)
			w.copyLines(lineSpan(w.theirs, c.theirs0, c.theirs0+c.theirsN), false, false)
		case chunkConflict:
			w.copyLines(lineSpan(w.ours, next, c.ours0), false, false)
			conflicts = append(conflicts, w.conflict(c))
		}
		next = c.ours0 + c.oursN
	}
	w.copyLines(lineSpan(w.ours, next, len(w.ours)), false, false)
	return fileMergeResult{Content: w.buf.Bytes(), Conflicts: conflicts}
}

// lineSpan is lines[from:to], empty when to <= from.
func lineSpan(lines [][]byte, from, to int) [][]byte {
	if to <= from {
		return nil
	}
	return lines[from:to]
}

// copyLines appends lines; with addEOL a last line without '\n' gets one
// (CRLF when crlf).
func (w *mergeWriter) copyLines(lines [][]byte, addEOL, crlf bool) {
	for _, l := range lines {
		w.buf.Write(l)
		if l[len(l)-1] == '\n' {
			w.lines++
		}
	}
	if addEOL && len(lines) > 0 {
		if last := lines[len(lines)-1]; last[len(last)-1] != '\n' {
			if crlf {
				w.buf.WriteByte('\r')
			}
			w.buf.WriteByte('\n')
			w.lines++
		}
	}
}

func (w *mergeWriter) marker(ch byte, label string, withLabel, crlf bool) {
	size := w.opt.MarkerSize
	if size <= 0 {
		size = defaultMarkerSize
	}
	w.buf.WriteString(strings.Repeat(string(ch), size))
	if withLabel {
		w.buf.WriteByte(' ')
		w.buf.WriteString(label)
	}
	if crlf {
		w.buf.WriteByte('\r')
	}
	w.buf.WriteByte('\n')
	w.lines++
}

func (w *mergeWriter) conflict(c mergeChunk) Hunk {
	crlf := w.markersNeedCR(c)
	h := Hunk{
		Ours:   LineRange{Start: c.ours0 + 1, Count: c.oursN},
		Theirs: LineRange{Start: c.theirs0 + 1, Count: c.theirsN},
		Result: LineRange{Start: w.lines + 1, Count: c.oursN + c.theirsN + 3},
	}
	h.Base = w.baseRange(c)
	w.marker('<', w.opt.OursLabel, true, crlf)
	w.copyLines(lineSpan(w.ours, c.ours0, c.ours0+c.oursN), true, crlf)
	w.marker('=', "", false, crlf)
	w.copyLines(lineSpan(w.theirs, c.theirs0, c.theirs0+c.theirsN), true, crlf)
	w.marker('>', w.opt.TheirsLabel, true, crlf)
	return h
}

// eolStyle tells the line ending of line i of a file: CRLF (1), LF (0), or
// unknown (-1, for an empty file or a lone line without a newline). The last
// line, when it has no newline, takes the style of the line before it.
func eolStyle(lines [][]byte, i int) int {
	crlf := func(l []byte) int {
		if len(l) > 1 && l[len(l)-2] == '\r' && l[len(l)-1] == '\n' {
			return 1
		}
		return 0
	}
	switch {
	case len(lines) == 0:
		return -1
	case i < len(lines)-1:
		return crlf(lines[i])
	case bytes.HasSuffix(lines[i], []byte{'\n'}):
		return crlf(lines[i])
	case i == 0:
		return -1
	}
	return crlf(lines[i-1])
}

// markersNeedCR decides the line ending of the markers (and of newlines
// added to sides that lack one): CRLF when the line before the conflict in
// ours (its first line when there is none) ends in CRLF, and so does that of
// theirs and base's first line; a definite LF anywhere in that order
// decides LF, and LF when nothing is known.
func (w *mergeWriter) markersNeedCR(c mergeChunk) bool {
	before := func(p int) int {
		if p > 0 {
			return p - 1
		}
		return 0
	}
	style := eolStyle(w.ours, before(c.ours0))
	if style != 0 {
		style = eolStyle(w.theirs, before(c.theirs0))
	}
	if style != 0 {
		style = eolStyle(w.base, 0)
	}
	return style == 1
}

// baseRange finds the base lines a conflict stands for. git does not keep
// them once conflicts are refined, so they are derived from the two edit
// scripts: the smallest base range whose lines map onto each side's
// conflicting lines (pure deletions next to the range included); the union
// over the sides with lines, or where the ours range maps when neither side
// has lines.
func (w *mergeWriter) baseRange(c mergeChunk) LineRange {
	if c.base0 >= 0 {
		return LineRange{Start: c.base0 + 1, Count: c.baseN}
	}
	s1, e1 := sideToBase(w.oursDiff, c.ours0, c.ours0+c.oursN)
	s2, e2 := sideToBase(w.theirsDiff, c.theirs0, c.theirs0+c.theirsN)
	var s, e int
	switch {
	case c.oursN > 0 && c.theirsN > 0:
		s, e = min(s1, s2), max(e1, e2)
	case c.theirsN > 0:
		s, e = s2, e2
	default:
		s, e = s1, e1
	}
	return LineRange{Start: s + 1, Count: e - s}
}

// sideToBase maps side lines [s, e) to base lines through the edit script
// base->side d.
func sideToBase(d []lineChange, s, e int) (int, int) {
	// Start: a side line inside a change maps to the change's start; else
	// shift by the changes wholly before it (a pure deletion right at s is
	// not before it, so it is included).
	bs := -1
	shift := 0
	for _, c := range d {
		if c.BStart <= s && s < c.BEnd() {
			bs = c.AStart
			break
		}
		if c.BEnd() < s || (c.BEnd() == s && c.BCount > 0) {
			shift = c.AEnd() - c.BEnd()
			continue
		}
		break
	}
	if bs < 0 {
		bs = s + shift
	}
	// End (exclusive): the same, with pure deletions right at e included.
	be := -1
	shift = 0
	for _, c := range d {
		if c.BCount > 0 && c.BStart <= e-1 && e-1 < c.BEnd() {
			be = c.AEnd()
			break
		}
		if c.BEnd() <= e {
			shift = c.AEnd() - c.BEnd()
			continue
		}
		break
	}
	if be < 0 {
		be = e + shift
	}
	return bs, max(bs, be)
}
