package merge

// git's commit-graph file (Documentation/gitformat-commit-graph): the
// parents, root tree, commit date and generation numbers of every commit it
// lists, so that merge-base walks read no commit objects. This reader keeps
// the file in memory and reads a commit by its position without
// allocating; go-git's reader (plumbing/format/commitgraph/v2) does a
// ReadAt per field and resolves every parent to a hash, which costs more
// than the walk itself. Files are written with go-git's encoder
// (writegraph.go).
//
// What git 2.39 does with the file, and so what this package does:
//   - objects/info/commit-graph is read if it exists, else the chain in
//     objects/info/commit-graphs/commit-graph-chain;
//   - a commit in the file takes its parents and date from it (the date is
//     the file's 34 bits);
//   - its generation is the corrected commit date when every layer has a
//     generation-data chunk (GDA2), else its topological level; a commit
//     not in the file has an infinite generation;
//   - generation numbers are used at all only when the newest layer's first
//     commit has a non-zero topological level.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// genInfinity is the generation of a commit that is not in the commit-graph
// (git's GENERATION_NUMBER_INFINITY): above every real generation.
const genInfinity = math.MaxUint64

const (
	graphParentNone     = 0x70000000
	graphOctopus        = 0x80000000
	graphLastEdge       = 0x80000000
	graphCommitDataSize = 20 + 16
)

// graphLayer is one commit-graph file.
type graphLayer struct {
	fanout []byte // 256 big-endian counts
	oids   []byte // sorted hashes
	cdat   []byte // tree, parent 1, parent 2, generation and date per commit
	edge   []byte // extra parents of octopus merges
	gda2   []byte // corrected commit date offsets
	gdo2   []byte // offsets that do not fit in 31 bits
	base   uint32 // commits in the layers below
	n      uint32
}

// graphFile is a repository's commit-graph: one file or a chain of layers,
// bottom first. Positions count from the bottom layer's first commit.
type graphFile struct {
	layers []*graphLayer
	total  uint32
	// corrected: generations are corrected commit dates (every layer has
	// GDA2); otherwise topological levels.
	corrected bool
	// gens: generation numbers may be used at all.
	gens bool
	// unmap releases the files when they are mapped.
	unmap []func() error
}

// close releases the graph's mapped files; the graph must not be used after.
func (g *graphFile) close() error {
	if len(g.unmap) == 0 {
		return nil // read into memory: nothing to release
	}
	var first error
	for _, u := range g.unmap {
		if err := u(); err != nil && first == nil {
			first = err
		}
	}
	g.unmap, g.layers = nil, nil
	return first
}

// openGraphFile reads the commit-graph of s when s is a repository on a
// filesystem (go-git's filesystem.Storage) that has one and git would use
// it (see useGraphFile). A file that cannot be read is not used (git warns
// and walks without it).
func openGraphFile(s any) *graphFile {
	fsys, ok := s.(interface{ Filesystem() billy.Filesystem })
	if !ok || !useGraphFile(func(name string) ([]byte, error) { return readAll(fsys.Filesystem(), name) }) {
		return nil
	}
	f, err := loadGraphFile(func(rel string) ([]byte, error) { return readAll(fsys.Filesystem(), path.Join("objects", rel)) })
	if err != nil {
		return nil
	}
	return f
}

// openMappedGraphFile is openGraphFile for the repository whose objects
// directory is objectsDir, with its files mapped into memory instead of
// read: only the pages a walk touches are read. Release it with close.
func openMappedGraphFile(objectsDir string) *graphFile {
	gitDir := filepath.Dir(objectsDir)
	if !useGraphFile(func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(gitDir, name)) }) {
		return nil
	}
	var unmaps []func() error
	f, err := loadGraphFile(func(rel string) ([]byte, error) {
		fl, err := os.Open(filepath.Join(objectsDir, filepath.FromSlash(rel)))
		if err != nil {
			return nil, err
		}
		defer fl.Close()
		b, unmap, err := mapReadOnly(fl)
		if err != nil {
			return nil, err
		}
		unmaps = append(unmaps, unmap)
		return b, nil
	})
	if err != nil || f == nil {
		for _, u := range unmaps {
			u()
		}
		return nil
	}
	f.unmap = unmaps
	return f
}

// useGraphFile tells whether git would read the commit-graph of the
// repository whose files (by their name in its git directory) read reads:
// not when its config sets core.commitGraph false, and not when it is
// shallow (a "shallow" file that lists commits, or one that cannot be read).
func useGraphFile(read func(name string) ([]byte, error)) bool {
	if cfg, err := read("config"); err == nil {
		if v, ok := configValue(cfg, "core", "commitGraph"); ok && isGitFalse(v) {
			return false
		}
	}
	sh, err := read("shallow")
	switch {
	case errors.Is(err, os.ErrNotExist):
		return true
	case err != nil:
		return false
	}
	return len(bytes.TrimSpace(sh)) == 0
}

// loadGraphFile reads a repository's commit-graph with read (which reads a
// file by its path in the objects directory). It returns nil and no error
// when the repository has none; a file that cannot be parsed is an error
// (callers then walk without it, as git does after its warning).
func loadGraphFile(read func(rel string) ([]byte, error)) (*graphFile, error) {
	single := "info/commit-graph"
	if b, err := read(single); err == nil {
		l, nbase, err := parseGraphLayer(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", single, err)
		}
		if nbase != 0 {
			return nil, fmt.Errorf("%s: a single file with %d base graphs", single, nbase)
		}
		return newGraphFile([]*graphLayer{l}), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	chainPath := "info/commit-graphs/commit-graph-chain"
	b, err := read(chainPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var layers []*graphLayer
	for _, name := range strings.Fields(string(b)) {
		if !plumbing.IsHash(name) {
			return nil, fmt.Errorf("%s: bad line %q", chainPath, name)
		}
		p := "info/commit-graphs/graph-" + name + ".graph"
		lb, err := read(p)
		if err != nil {
			return nil, err
		}
		l, nbase, err := parseGraphLayer(lb)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if int(nbase) != len(layers) {
			return nil, fmt.Errorf("%s: %d base graphs, the chain has %d below it", p, nbase, len(layers))
		}
		layers = append(layers, l)
	}
	if len(layers) == 0 {
		return nil, nil
	}
	return newGraphFile(layers), nil
}

func readAll(fs billy.Filesystem, name string) ([]byte, error) {
	f, err := fs.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if st, err := fs.Stat(name); err == nil {
		buf.Grow(int(st.Size()) + 1)
	}
	if _, err := io.Copy(&buf, f); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

func newGraphFile(layers []*graphLayer) *graphFile {
	g := &graphFile{layers: layers, corrected: true}
	for _, l := range layers {
		l.base = g.total
		g.total += l.n
		if l.gda2 == nil {
			g.corrected = false
		}
	}
	top := layers[len(layers)-1]
	g.gens = top.n > 0 && binary.BigEndian.Uint32(top.cdat[28:])>>2 != 0
	return g
}

// parseGraphLayer checks one file's header and chunk table and slices its
// chunks. It returns the number of base graphs the file says it has.
func parseGraphLayer(b []byte) (*graphLayer, uint8, error) {
	if len(b) < 8+12 || string(b[:4]) != "CGPH" {
		return nil, 0, errors.New("not a commit-graph file")
	}
	if b[4] != 1 {
		return nil, 0, fmt.Errorf("commit-graph version %d", b[4])
	}
	if b[5] != 1 {
		return nil, 0, fmt.Errorf("commit-graph hash version %d (only SHA-1 is read)", b[5])
	}
	nchunks, nbase := int(b[6]), b[7]
	if len(b) < 8+12*(nchunks+1)+20 {
		return nil, 0, errors.New("truncated chunk table")
	}
	end := uint64(len(b) - 20) // the trailing checksum
	l := &graphLayer{}
	for i := 0; i < nchunks; i++ {
		e := b[8+12*i:]
		start, stop := binary.BigEndian.Uint64(e[4:]), binary.BigEndian.Uint64(e[16:])
		if start > stop || stop > end {
			return nil, 0, fmt.Errorf("chunk %q out of bounds", e[:4])
		}
		c := b[start:stop]
		switch string(e[:4]) {
		case "OIDF":
			l.fanout = c
		case "OIDL":
			l.oids = c
		case "CDAT":
			l.cdat = c
		case "EDGE":
			l.edge = c
		case "GDA2":
			l.gda2 = c
		case "GDO2":
			l.gdo2 = c
		}
	}
	if len(l.fanout) != 256*4 || l.oids == nil || l.cdat == nil {
		return nil, 0, errors.New("missing or malformed OIDF, OIDL or CDAT chunk")
	}
	l.n = binary.BigEndian.Uint32(l.fanout[255*4:])
	if uint64(len(l.oids)) != uint64(l.n)*20 || uint64(len(l.cdat)) != uint64(l.n)*graphCommitDataSize {
		return nil, 0, errors.New("OIDL or CDAT size does not match the fanout")
	}
	if l.gda2 != nil && uint64(len(l.gda2)) != uint64(l.n)*4 {
		return nil, 0, errors.New("GDA2 size does not match the fanout")
	}
	return l, nbase, nil
}

// lookup returns the position of h, newest layer first.
func (g *graphFile) lookup(h plumbing.Hash) (uint32, bool) {
	for i := len(g.layers) - 1; i >= 0; i-- {
		l := g.layers[i]
		lo := uint32(0)
		if h[0] > 0 {
			lo = binary.BigEndian.Uint32(l.fanout[4*(int(h[0])-1):])
		}
		hi := binary.BigEndian.Uint32(l.fanout[4*int(h[0]):])
		for lo < hi {
			mid := lo + (hi-lo)/2
			switch c := bytes.Compare(h[:], l.oids[20*mid:20*mid+20]); {
			case c == 0:
				return l.base + mid, true
			case c < 0:
				hi = mid
			default:
				lo = mid + 1
			}
		}
	}
	return 0, false
}

func (g *graphFile) layerOf(pos uint32) (*graphLayer, uint32, error) {
	for i := len(g.layers) - 1; i >= 0; i-- {
		if l := g.layers[i]; pos >= l.base {
			if pos-l.base >= l.n {
				break
			}
			return l, pos - l.base, nil
		}
	}
	return nil, 0, fmt.Errorf("commit-graph position %d out of range", pos)
}

// hashAt returns the hash at pos.
func (g *graphFile) hashAt(pos uint32) (plumbing.Hash, error) {
	l, i, err := g.layerOf(pos)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	var h plumbing.Hash
	copy(h[:], l.oids[20*i:])
	return h, nil
}

// graphEntry is what the file says of one commit.
type graphEntry struct {
	tree    plumbing.Hash
	parents []uint32 // positions
	date    uint64
	gen     uint64
}

// entry reads the commit at pos; parents is appended to buf.
func (g *graphFile) entry(pos uint32, buf []uint32) (graphEntry, error) {
	l, i, err := g.layerOf(pos)
	if err != nil {
		return graphEntry{}, err
	}
	e := graphEntry{}
	copy(e.tree[:], l.cdat[graphCommitDataSize*i:])
	if e.parents, err = g.layerParents(l, i, buf); err != nil {
		return graphEntry{}, err
	}
	if e.gen, e.date, err = g.layerMeta(l, i); err != nil {
		return graphEntry{}, err
	}
	return e, nil
}

// parentsAt appends the parent positions of the commit at pos to buf[:0].
func (g *graphFile) parentsAt(pos uint32, buf []uint32) ([]uint32, error) {
	l, i, err := g.layerOf(pos)
	if err != nil {
		return nil, err
	}
	return g.layerParents(l, i, buf)
}

// metaAt returns the generation and commit date of the commit at pos.
func (g *graphFile) metaAt(pos uint32) (gen, date uint64, err error) {
	l, i, err := g.layerOf(pos)
	if err != nil {
		return 0, 0, err
	}
	return g.layerMeta(l, i)
}

func (g *graphFile) layerParents(l *graphLayer, i uint32, buf []uint32) ([]uint32, error) {
	d := l.cdat[graphCommitDataSize*i:]
	ps := buf[:0]
	p1, p2 := binary.BigEndian.Uint32(d[20:]), binary.BigEndian.Uint32(d[24:])
	if p1 != graphParentNone {
		ps = append(ps, p1)
	}
	switch {
	case p2 == graphParentNone:
	case p2&graphOctopus != 0:
		for k := uint64(p2 &^ graphOctopus); ; k++ {
			if 4*k+4 > uint64(len(l.edge)) {
				return nil, fmt.Errorf("commit-graph: extra edge %d out of range", k)
			}
			v := binary.BigEndian.Uint32(l.edge[4*k:])
			ps = append(ps, v&^graphLastEdge)
			if v&graphLastEdge != 0 {
				break
			}
		}
	default:
		ps = append(ps, p2)
	}
	for _, p := range ps {
		if p >= g.total {
			return nil, fmt.Errorf("commit-graph: parent position %d out of range", p)
		}
	}
	return ps, nil
}

func (g *graphFile) layerMeta(l *graphLayer, i uint32) (gen, date uint64, err error) {
	d := l.cdat[graphCommitDataSize*i:]
	hi, lo := binary.BigEndian.Uint32(d[28:]), binary.BigEndian.Uint32(d[32:])
	date = uint64(hi&3)<<32 | uint64(lo)
	if !g.corrected {
		return uint64(hi >> 2), date, nil
	}
	off := uint64(binary.BigEndian.Uint32(l.gda2[4*i:]))
	if off&0x80000000 != 0 {
		k := off &^ 0x80000000
		if 8*k+8 > uint64(len(l.gdo2)) {
			return 0, 0, errors.New("commit-graph: generation overflow out of range")
		}
		off = binary.BigEndian.Uint64(l.gdo2[8*k:])
	}
	return date + off, date, nil
}
