package deploy

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
)

// stepGrace is how long a step's processes get between SIGTERM and
// SIGKILL, at its timeout, on cancellation, and when the step ends while
// processes it forked still run.
const stepGrace = 2 * time.Second

// runProcess runs cmd in a process group of its own with stdin from the
// null device and stdout and stderr to out, and returns once the step and
// everything it forked have ended. With as, it runs as that user. When ctx ends (the step's timeout, a
// cancelled deploy, the bot's shutdown) the whole group gets SIGTERM, then
// SIGKILL after grace; when the step's own process exits, what it left
// running in the background is ended the same way. No descriptor of the
// bot other than 0, 1 and 2 reaches the step.
func runProcess(ctx context.Context, cmd *exec.Cmd, as *RunAs, out io.Writer, grace time.Duration) error {
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("output pipe: %w", err)
	}
	defer pr.Close()
	cmd.Stdin = nil // the null device
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.ExtraFiles = nil
	isolate(cmd)
	if as != nil {
		runAs(cmd, as)
	}
	closeInheritedFDs()
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return err
	}
	copied := make(chan struct{})
	go func() {
		io.Copy(out, pr)
		close(copied)
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	pid := cmd.Process.Pid
	select {
	case err = <-waited:
	case <-ctx.Done():
		signalGroup(pid, sigTerm)
		select {
		case err = <-waited:
		case <-time.After(grace):
			signalGroup(pid, sigKill)
			err = <-waited
		}
	}
	endGroup(pid, grace)
	select {
	case <-copied:
	case <-time.After(grace):
		// Something that left the group still holds the pipe.
		pr.Close()
		<-copied
	}
	return err
}

// endGroup ends what is left of the process group led by pid: SIGTERM,
// then SIGKILL after grace.
func endGroup(pid int, grace time.Duration) {
	if !groupAlive(pid) {
		return
	}
	signalGroup(pid, sigTerm)
	deadline := time.Now().Add(grace)
	for groupAlive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	signalGroup(pid, sigKill)
}
