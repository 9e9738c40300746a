//go:build unix

package gittest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ProcessRun is what one run of a command cost, for the benchmarks that
// compare whole processes with git's.
type ProcessRun struct {
	Wall, CPU time.Duration
	RSSKB     int64 // peak resident set: see RunTimed
	Stdout    string
	Code      int // exit status (0 or 1; more fails the benchmark)
}

// Run runs a command to the end and measures it. Its RSSKB is the child's
// rusage, which counts this process's memory too: Go starts a child
// sharing the parent's memory until exec, and Linux counts that in the
// child's peak. RunTimed gives the child's own.
func Run(tb testing.TB, dir string, env []string, name string, args ...string) ProcessRun {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := ProcessRun{Wall: time.Since(start), Stdout: out.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		tb.Fatalf("%s %v: %v", name, args, err)
	}
	if r.Code > 1 {
		tb.Fatalf("%s %v: exit %d\n%s\n%s", name, args, r.Code, out.String(), errb.String())
	}
	r.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.RSSKB = int64(ru.Maxrss)
	}
	return r
}

// RunTimed is Run under GNU time(1), whose small process forks and execs
// the command, so that RSSKB is the command's own peak (its wall time then
// includes that fork). Without time(1) it is Run, and timed is false.
func RunTimed(tb testing.TB, dir string, env []string, name string, args ...string) (r ProcessRun, timed bool) {
	tb.Helper()
	timeBin, err := exec.LookPath("/usr/bin/time")
	if err != nil {
		return Run(tb, dir, env, name, args...), false
	}
	file := filepath.Join(tb.TempDir(), "rss")
	r = Run(tb, dir, env, timeBin, append([]string{"-f", "%M", "-o", file, name}, args...)...)
	b, err := os.ReadFile(file)
	if err != nil {
		tb.Fatalf("time(1) of %s: %v", name, err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n") // "Command exited with non-zero status 1" first
	if r.RSSKB, err = strconv.ParseInt(lines[len(lines)-1], 10, 64); err != nil {
		tb.Fatalf("time(1) of %s printed %q", name, b)
	}
	return r, true
}
