package merge

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The tests of this package compare the engine with the git CLI. These
// helpers run git with a pinned environment: no system or global config,
// a fixed identity, the C locale.

func requireGit(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		tb.Skipf("git is not installed (%v): skipping the differential test against git", err)
	}
}

// gitEnv is the environment git runs with; home is its HOME.
func gitEnv(home string) []string {
	env := []string{
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"HOME=" + home,
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		"LC_ALL=C",
	}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	return env
}

// gitCmd runs git in dir and returns its stdout and exit code; an exit
// code above 1 (git's "error", as opposed to merge-tree's "conflicts")
// fails the test.
func gitCmd(tb testing.TB, dir string, stdin io.Reader, args ...string) (string, int) {
	tb.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv(dir)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := 0
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			tb.Fatalf("git %v: %v", args, err)
		}
		code = ee.ExitCode()
		if code > 1 {
			tb.Fatalf("git %v: exit %d: %s", args, code, errb.String())
		}
	}
	return out.String(), code
}
