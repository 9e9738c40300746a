package gitrepo

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/code-releaser/code-releaser/workflow"
)

// checkBranchName applies git's check-ref-format rules to a short branch
// name (as `git check-ref-format --branch` does), and refuses what would be
// read as an option, a refspec, a revision expression or a full ref name.
func checkBranchName(name string) error {
	switch {
	case name == "":
		return errors.New("the branch name is empty")
	case len(name) > 255:
		return errors.New("the branch name is longer than 255 bytes")
	case !utf8.ValidString(name):
		return errors.New("the branch name is not valid UTF-8")
	case strings.HasPrefix(name, "-"):
		return errors.New("the branch name starts with '-'")
	case name == "HEAD" || name == "@":
		return fmt.Errorf("%q is not a branch name", name)
	case strings.HasPrefix(name, "refs/"):
		return errors.New("give the branch's short name, not refs/...")
	case strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/"):
		return errors.New("the branch name starts or ends with '/'")
	case strings.HasSuffix(name, "."):
		return errors.New("the branch name ends with '.'")
	case strings.Contains(name, ".."):
		return errors.New("the branch name contains '..'")
	case strings.Contains(name, "//"):
		return errors.New("the branch name contains '//'")
	case strings.Contains(name, "@{"):
		return errors.New("the branch name contains '@{'")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return errors.New("the branch name contains a control character")
		}
		if strings.ContainsRune(" ~^:?*[\\", r) {
			return fmt.Errorf("the branch name contains %q", r)
		}
	}
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			return errors.New("a component of the branch name starts with '.'")
		}
		if strings.HasSuffix(part, ".lock") {
			return errors.New("a component of the branch name ends with '.lock'")
		}
	}
	return nil
}

// validBranch returns an Invalid workflow error when name is not a branch
// name that may be given to git.
func validBranch(op, name string) error {
	if err := checkBranchName(name); err != nil {
		return workflow.Wrap(op, workflow.Invalid, fmt.Sprintf("%s is not a valid branch name", printable(name)), err)
	}
	return nil
}

// parseSHA parses a full lowercase hex object name.
func parseSHA(op, what, sha string) (plumbing.Hash, error) {
	if len(sha) != 40 {
		return plumbing.ZeroHash, workflow.Errorf(op, workflow.Invalid, "%s %s is not a full commit SHA", what, printable(sha))
	}
	for i := 0; i < len(sha); i++ {
		c := sha[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return plumbing.ZeroHash, workflow.Errorf(op, workflow.Invalid, "%s %s is not a full lowercase hex commit SHA", what, printable(sha))
		}
	}
	return plumbing.NewHash(sha), nil
}

// printable quotes a name to show it: control characters are escaped and
// long names cut.
func printable(s string) string {
	const max = 80
	if len(s) > max {
		s = s[:max] + "..."
	}
	return fmt.Sprintf("%+q", s)
}
