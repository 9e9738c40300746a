//go:build unix

package deploy

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// isolate makes the step the leader of a process group of its own, so that
// the step and everything it forks can be signalled together.
func isolate(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// signalGroup sends sig to every process of the group led by pid.
func signalGroup(pid int, sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return errors.New("not a unix signal")
	}
	err := syscall.Kill(-pid, s)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// groupAlive reports whether a process of pid's group still exists.
func groupAlive(pid int) bool {
	return syscall.Kill(-pid, 0) == nil
}

var (
	sigTerm os.Signal = syscall.SIGTERM
	sigKill os.Signal = syscall.SIGKILL
)

// closeInheritedFDs marks every descriptor of the process above 2 close-on-
// exec: Go opens its own files that way, but a descriptor the bot
// inherited from its parent (or one opened by C code) would otherwise
// reach every step.
func closeInheritedFDs() {
	d, err := os.Open("/dev/fd")
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		if fd, err := strconv.Atoi(n); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}

func runAsSupported() bool { return true }

// runAs makes cmd run as as, with no supplementary groups.
func runAs(cmd *exec.Cmd, as *RunAs) {
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: as.UID, Gid: as.GID, Groups: []uint32{}}
}
