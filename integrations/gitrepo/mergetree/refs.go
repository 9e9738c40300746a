package mergetree

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
)

// maxSymrefDepth is how many symbolic refs are followed before giving up,
// as git's limit.
const maxSymrefDepth = 5

// refs reads a repository's refs as git's files backend stores them: a
// file under the git directory ("ref: NAME" or an id), else a line of
// packed-refs. HEAD and the per-worktree refs are in the worktree's own
// git directory, the others in the common one.
type refs struct {
	gitDir, commonDir string

	packed    map[string]plumbing.Hash // read on first use
	packedErr error                    // why it could not be read, then and every time after
}

// resolve returns the commit, tag or other object the ref name points at,
// following symbolic refs. A name that is not a well-formed ref, or names
// no ref, is plumbing.ErrReferenceNotFound.
func (r *refs) resolve(name string) (plumbing.Hash, error) {
	for range maxSymrefDepth + 1 {
		if !safeRefName(name) {
			return plumbing.ZeroHash, plumbing.ErrReferenceNotFound
		}
		target, h, err := r.read(name)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if target == "" {
			return h, nil
		}
		name = target
	}
	return plumbing.ZeroHash, fmt.Errorf("ref %s: symbolic refs nested too deep", name)
}

// read reads one ref: the target of a symbolic ref, or its id.
func (r *refs) read(name string) (target string, h plumbing.Hash, err error) {
	dir := r.commonDir
	if perWorktreeRef(name) {
		dir = r.gitDir
	}
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	switch {
	case err == nil:
		line := strings.TrimSpace(string(b))
		if t, ok := strings.CutPrefix(line, "ref:"); ok {
			return strings.TrimSpace(t), plumbing.ZeroHash, nil
		}
		if plumbing.IsHash(line) {
			return "", plumbing.NewHash(line), nil
		}
		// not a ref (git's config, say, when the name is "config")
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.EISDIR):
	default:
		return "", plumbing.ZeroHash, fmt.Errorf("read ref %s: %w", name, err)
	}
	packed, err := r.packedRefs()
	if err != nil {
		return "", plumbing.ZeroHash, err
	}
	if h, ok := packed[name]; ok {
		return "", h, nil
	}
	return "", plumbing.ZeroHash, plumbing.ErrReferenceNotFound
}

// packedRefs reads the common directory's packed-refs once. A file that
// does not parse is an error for every ref looked up in it, as git dies
// on it: never the refs read before the bad line.
func (r *refs) packedRefs() (map[string]plumbing.Hash, error) {
	if r.packed == nil && r.packedErr == nil {
		r.packed, r.packedErr = readPackedRefs(filepath.Join(r.commonDir, "packed-refs"))
	}
	return r.packed, r.packedErr
}

func readPackedRefs(path string) (map[string]plumbing.Hash, error) {
	packed := map[string]plumbing.Hash{}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return packed, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read packed-refs: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || line[0] == '^' { // the header, a peeled tag's target
			continue
		}
		id, name, ok := strings.Cut(line, " ")
		if !ok || !plumbing.IsHash(id) {
			return nil, fmt.Errorf("%s: unexpected line %q", path, line)
		}
		packed[name] = plumbing.NewHash(id)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read packed-refs: %w", err)
	}
	return packed, nil
}

// perWorktreeRef tells whether a ref lives in each worktree's own git
// directory (HEAD, the other one-level names, refs/bisect/…,
// refs/worktree/…, refs/rewritten/…) rather than in the common one.
func perWorktreeRef(name string) bool {
	if !strings.Contains(name, "/") {
		return true
	}
	for _, p := range []string{"refs/bisect/", "refs/worktree/", "refs/rewritten/"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// safeRefName refuses names that could read outside the refs (git's
// check_refname_format rules that matter for a path): empty components,
// "." or ".." components, a leading or trailing slash, a backslash, a
// control character, and the characters git never allows in a ref.
func safeRefName(name string) bool {
	if name == "" || strings.HasSuffix(name, ".lock") || strings.Contains(name, "..") {
		return false
	}
	for _, c := range strings.Split(name, "/") {
		if c == "" || c == "." || c == ".." || c[0] == '.' {
			return false
		}
	}
	return !strings.ContainsAny(name, "\\ ~^:?*[\x7f") && !strings.Contains(name, "@{") &&
		strings.IndexFunc(name, func(r rune) bool { return r < 0x20 }) < 0
}
