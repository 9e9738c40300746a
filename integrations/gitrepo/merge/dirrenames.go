package merge

import (
	"sort"
	"strings"
)

// Directory rename detection, as git's merge-ort does it with
// merge.directoryRenames=conflict: when one side moved (most of) a directory
// and the other side added or renamed a file into the old directory, that
// file is moved into the new directory and marked conflicted, with a
// "CONFLICT (file location)" message.

// renameTarget is a path added on one side: a rename destination (from set)
// or a plain addition.
type renameTarget struct {
	from, to string
}

// targets lists a side's additions in traversal order, with the rename
// source of those that are rename destinations.
func (st *mergeState) targets(side int, pairs []renamePair) []renameTarget {
	src := make(map[string]string, len(pairs))
	for _, p := range pairs {
		src[p.To.path] = p.From.path
	}
	out := make([]renameTarget, 0, len(st.adds[side]))
	for _, a := range st.adds[side] {
		out = append(out, renameTarget{from: src[a.path], to: a.path})
	}
	return out
}

func dirname(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// provisionalDirRenames keeps, for every directory a side removed, the
// majority target of its files (counts are git's dir_rename_count, made by
// rename detection).
func (st *mergeState) provisionalDirRenames(side int, counts map[string]map[string]int) map[string]string {
	removed := st.dirsRemoved[side]
	out := map[string]string{}
	dirs := make([]string, 0, len(counts))
	for d := range counts {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		if removed[d] == dirNotRelevant {
			continue
		}
		best, max, tie := "", 0, false
		for target, n := range counts[d] {
			if target == "/" { // git's placeholder for "unknown"
				continue
			}
			switch {
			case n > max:
				best, max, tie = target, n, false
			case n == max:
				tie = true
			}
		}
		if max == 0 {
			continue
		}
		if tie {
			st.unclean = true
			st.msg(d, true, "CONFLICT (directory rename split): Unclear where to rename %s to; it was renamed to multiple other directories, with no destination getting a majority of the files.", d)
			continue
		}
		out[d] = best
	}
	return out
}

// collision gathers the paths a directory rename would put at one place.
type collision struct {
	sources  []string // sorted
	reported bool
}

// renamedDir finds the closest ancestor directory of p that was renamed.
func renamedDir(p string, dirRenames map[string]string) (oldDir, newDir string, ok bool) {
	for d := dirname(p); ; d = dirname(d) {
		if nd, found := dirRenames[d]; found {
			return d, nd, true
		}
		if d == "" {
			return "", "", false
		}
	}
}

// applyDirPath moves p from oldDir to newDir.
func applyDirPath(p, oldDir, newDir string) string {
	rest := p
	if oldDir != "" {
		rest = strings.TrimPrefix(p, oldDir+"/")
	}
	if newDir == "" {
		return rest
	}
	return newDir + "/" + rest
}

func computeCollisions(dirRenames map[string]string, targets []renameTarget) map[string]*collision {
	out := map[string]*collision{}
	if len(dirRenames) == 0 {
		return out
	}
	for _, t := range targets {
		od, nd, ok := renamedDir(t.to, dirRenames)
		if !ok {
			continue
		}
		np := applyDirPath(t.to, od, nd)
		c := out[np]
		if c == nil {
			c = &collision{}
			out[np] = c
		}
		i := sort.SearchStrings(c.sources, t.to)
		if i == len(c.sources) || c.sources[i] != t.to {
			c.sources = append(c.sources[:i], append([]string{t.to}, c.sources[i:]...)...)
		}
	}
	return out
}

// checkForDirRename returns where p (added or renamed on side) should move
// because the other side renamed its directory, or "" to leave it.
func (st *mergeState) checkForDirRename(p string, side int, dirRenames, exclusions map[string]string, collisions [3]map[string]*collision) string {
	if len(dirRenames) == 0 {
		return ""
	}
	if _, ok := collisions[3-side][p]; ok {
		return ""
	}
	od, nd, ok := renamedDir(p, dirRenames)
	if !ok {
		return ""
	}
	if _, ok := exclusions[nd]; ok {
		st.msg(od, false, "WARNING: Avoiding applying %s -> %s rename to %s, because %s itself was renamed.", od, nd, p, nd)
		return ""
	}
	np := applyDirPath(p, od, nd)
	c := collisions[side][np]
	switch {
	case c == nil:
		return np
	case c.reported:
		st.unclean = true
		return ""
	case st.pathInWay(np, uint8(1)<<side):
		c.reported = true
		st.unclean = true
		st.msg(np, true, "CONFLICT (implicit dir rename): Existing file/dir at %s in the way of implicit directory rename(s) putting the following path(s) there: %s.", np, strings.Join(c.sources, ", "))
		return ""
	case len(c.sources) > 1:
		c.reported = true
		st.unclean = true
		st.msg(np, true, "CONFLICT (implicit dir rename): Cannot map more than one path to %s; implicit directory renames tried to put these paths there: %s", np, strings.Join(c.sources, ", "))
		return ""
	}
	return np
}

func (st *mergeState) pathInWay(p string, sideMask uint8) bool {
	pi := st.paths[p]
	if pi == nil {
		return false
	}
	return pi.resolved || pi.clean || sideMask&(pi.filemask|pi.dirmask) != 0
}

// applyDirRename moves the entry of an added or renamed path to newPath
// and marks it conflicted, as git does in "conflict" mode.
func (st *mergeState) applyDirRename(tg renameTarget, side int, newPath string) {
	oldPath := tg.to
	ci := st.paths[oldPath]
	if ci == nil || ci.resolved {
		return
	}
	// create the missing parent directories of newPath
	for d := dirname(newPath); d != ""; d = dirname(d) {
		if _, ok := st.paths[d]; ok {
			break
		}
		st.paths[d] = &pathInfo{dirmask: ci.filemask, isNull: true}
	}
	if ci.dirmask == 0 {
		delete(st.paths, oldPath)
	} else {
		nci := *ci
		nci.dirmask = 0
		nci.stages[1] = version{}
		ci.filemask = 0
		ci.clean = true
		for i := 0; i < 3; i++ {
			if ci.dirmask&(1<<i) == 0 {
				ci.stages[i] = version{}
			}
		}
		ci = &nci
	}
	withNew, withRename := st.branch1, st.branch2
	if ci.filemask != 2 {
		withNew, withRename = st.branch2, st.branch1
	}
	if existing := st.paths[newPath]; existing != nil && !existing.resolved {
		existing.filemask |= ci.filemask
		if existing.dirmask != 0 {
			existing.dfConflict = true
		}
		idx := ci.filemask >> 1
		existing.pathnames[idx] = ci.pathnames[idx]
		existing.stages[idx] = ci.stages[idx]
		ci = existing
	} else {
		st.paths[newPath] = ci
	}
	ci.pathConflict = true
	if ci.kind == "" {
		ci.kind = KindDirectoryRename
	}
	if tg.from == "" {
		st.msg(newPath, true, "CONFLICT (file location): %s added in %s inside a directory that was renamed in %s, suggesting it should perhaps be moved to %s.", oldPath, withNew, withRename, newPath)
	} else {
		st.msg(newPath, true, "CONFLICT (file location): %s renamed to %s in %s, inside a directory that was renamed in %s, suggesting it should perhaps be moved to %s.", tg.from, oldPath, withNew, withRename, newPath)
	}
}
