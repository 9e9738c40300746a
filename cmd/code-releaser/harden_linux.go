//go:build linux

package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// protectProcess wipes the values of the named variables from the
// environment block at the top of the process's stack (what
// /proc/PID/environ shows: unsetting a variable does not change it), then
// marks every inherited descriptor close-on-exec, and makes the process
// non-dumpable: /proc/PID/environ, /proc/PID/mem and
// ptrace of the bot are then refused to every process without
// CAP_SYS_PTRACE, even of the same user. The wipe comes first: a
// non-dumpable process's /proc/self/mem belongs to root.
func protectProcess(names []string) []error {
	var problems []error
	if err := wipeEnvironBlock(names); err != nil {
		problems = append(problems, fmt.Errorf("wipe the secrets from /proc/self/environ: %w", err))
	}
	// A descriptor the process inherited without close-on-exec would pass
	// on to every command step: none does.
	if err := unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC); err != nil {
		problems = append(problems, fmt.Errorf("close_range(3, ~0, CLOSE_RANGE_CLOEXEC): %w", err))
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		problems = append(problems, fmt.Errorf("prctl(PR_SET_DUMPABLE, 0): %w", err))
	}
	return problems
}

// wipeEnvironBlock overwrites with NULs the values of the named variables
// in the process's initial environment block, found through the
// env_start and env_end fields of /proc/self/stat and written through
// /proc/self/mem. Go copied the environment at start, so nothing reads
// the block afterwards.
func wipeEnvironBlock(names []string) error {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: field 3 (state) is the first. env_start and env_end are
	// fields 50 and 51.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return fmt.Errorf("unexpected /proc/self/stat")
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 49 {
		return fmt.Errorf("/proc/self/stat has no env_start and env_end (Linux before 3.5)")
	}
	start, err1 := strconv.ParseInt(fields[47], 10, 64)
	end, err2 := strconv.ParseInt(fields[48], 10, 64)
	if err1 != nil || err2 != nil || end <= start || end-start > 16<<20 {
		return fmt.Errorf("unexpected env_start/env_end %q %q", fields[47], fields[48])
	}
	mem, err := os.OpenFile("/proc/self/mem", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer mem.Close()
	block := make([]byte, end-start)
	if _, err := mem.ReadAt(block, start); err != nil {
		return err
	}
	changed := false
	for off := 0; off < len(block); {
		n := bytes.IndexByte(block[off:], 0)
		if n < 0 {
			n = len(block) - off
		}
		entry := block[off : off+n]
		if eq := bytes.IndexByte(entry, '='); eq > 0 {
			for _, name := range names {
				if string(entry[:eq]) == name {
					clear(entry[eq+1:])
					changed = true
				}
			}
		}
		off += n + 1
	}
	if !changed {
		return nil
	}
	_, err = mem.WriteAt(block, start)
	return err
}
