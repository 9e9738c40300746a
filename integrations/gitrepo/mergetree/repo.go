package mergetree

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// localRepo is a repository found the way git finds one from a working
// directory: $GIT_DIR if set, else the first of dir and its parents that
// has a .git (a directory, or a file "gitdir: …" as in a linked worktree
// or a submodule) or is itself a git directory (a bare repository, a
// mirror). Only its object store and refs are opened: no worktree.
type localRepo struct {
	gitDir     string // the repository's own git directory
	objectsDir string // where its objects are (in the common directory of a linked worktree)
	objs       *objectDir
	refs       *refs
}

// openLocalRepo opens the repository that contains dir.
func openLocalRepo(dir string, getenv func(string) string) (*localRepo, error) {
	gitDir, err := findGitDir(dir, getenv)
	if err != nil {
		return nil, err
	}
	commonDir, err := commonGitDir(gitDir)
	if err != nil {
		return nil, err
	}
	objectsDir := filepath.Join(commonDir, "objects")
	return &localRepo{
		gitDir: gitDir, objectsDir: objectsDir,
		objs: newObjectDir(objectsDir),
		refs: &refs{gitDir: gitDir, commonDir: commonDir},
	}, nil
}

// Close releases the repository's open files.
func (r *localRepo) Close() error { return r.objs.Close() }

// findGitDir returns the git directory for dir, as git's discovery does.
func findGitDir(dir string, getenv func(string) string) (string, error) {
	if d := getenv("GIT_DIR"); d != "" {
		if !filepath.IsAbs(d) {
			d = filepath.Join(dir, d)
		}
		if !isGitDir(d) {
			return "", fmt.Errorf("not a git repository: GIT_DIR=%s", d)
		}
		return filepath.Clean(d), nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("find the repository of %s: %w", dir, err)
	}
	for d := abs; ; {
		dotGit := filepath.Join(d, ".git")
		fi, err := os.Stat(dotGit)
		switch {
		case err == nil && fi.IsDir() && isGitDir(dotGit):
			return dotGit, nil
		case err == nil && fi.Mode().IsRegular():
			gd, err := readGitFile(dotGit)
			if err != nil {
				return "", err
			}
			return gd, nil
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("find the repository of %s: %w", dir, err)
		}
		if isGitDir(d) {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("not a git repository (or any of the parent directories): %s", abs)
		}
		d = parent
	}
}

// readGitFile reads a ".git" file ("gitdir: PATH", PATH relative to the
// file's directory) and checks that it names a git directory.
func readGitFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	target, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "gitdir: ")
	if !ok || target == "" {
		return "", fmt.Errorf("invalid gitfile format: %s", path)
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(path), target)
	}
	if !isGitDir(target) {
		return "", fmt.Errorf("not a git repository: %s (named by %s)", target, path)
	}
	return filepath.Clean(target), nil
}

// commonGitDir returns the directory that holds the objects and shared
// refs of gitDir: the one its "commondir" file names (a linked worktree's
// git directory), else gitDir itself.
func commonGitDir(gitDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(gitDir, "commondir"))
	if errors.Is(err, fs.ErrNotExist) {
		return gitDir, nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s/commondir: %w", gitDir, err)
	}
	c := strings.TrimSpace(string(b))
	if !filepath.IsAbs(c) {
		c = filepath.Join(gitDir, c)
	}
	return filepath.Clean(c), nil
}

// isGitDir reports whether d looks like a git directory as git's
// is_git_directory sees it: a HEAD, and objects/ and refs/ (in the common
// directory of a linked worktree).
func isGitDir(d string) bool {
	if fi, err := os.Stat(filepath.Join(d, "HEAD")); err != nil || fi.IsDir() {
		return false
	}
	common, err := commonGitDir(d)
	if err != nil {
		return false
	}
	for _, sub := range []string{"objects", "refs"} {
		if fi, err := os.Stat(filepath.Join(common, sub)); err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}
