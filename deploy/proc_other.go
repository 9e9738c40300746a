//go:build !unix

package deploy

import (
	"errors"
	"os"
	"os/exec"
)

// Without process groups only the step's own process is killed; run the
// bot on a unix system to have its grandchildren ended too.
func isolate(cmd *exec.Cmd) {}

var (
	sigTerm = os.Kill
	sigKill = os.Kill
)

func signalGroup(pid int, sig os.Signal) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	if err := p.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

func groupAlive(pid int) bool { return false }

func closeInheritedFDs() {}

func runAsSupported() bool { return false }

func runAs(cmd *exec.Cmd, as *RunAs) {}
