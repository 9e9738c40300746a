//go:build unix

package deploy

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
)

// liveInGroup lists the processes of group pgid that are not zombies.
func liveInGroup(t *testing.T, pgid int) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc to list processes: %v", err)
	}
	var live []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces, so split
		// after its closing parenthesis.
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 2 && fields[2] == strconv.Itoa(pgid) && fields[0] != "Z" {
			live = append(live, e.Name()+" "+s[:strings.LastIndexByte(s, ')')+1])
		}
	}
	return live
}

func TestStepTimeoutEndsItsGrandchildren(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skipf("needs /proc to find the step's processes: %v", err)
	}
	dir := t.TempDir()
	mark, pidFile := filepath.Join(dir, "late"), filepath.Join(dir, "pid")
	f := newFixture(t)
	// The grandchild would write the marker 2 s after the step started,
	// with the env's credentials in its environment.
	f.src["c1"] = commandRepo(`  - name: fork
    argv: [sh, -c, 'echo $$ > "$PIDFILE"; (sleep 2; echo late > "$MARK") & sleep 600']
    timeout: 1s
    env: {MARK: ` + mark + `, PIDFILE: ` + pidFile + `}
`)
	res, err := f.deploy(t, f.deployer(t, nil), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Stacks[0]; r.Status != "failed" || !strings.Contains(r.Reason, "timed out") {
		t.Fatalf("fork: %s %q", r.Status, r.Reason)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pgid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if _, err := os.Stat(mark); err == nil {
		t.Error("the step's grandchild outlived it and wrote its marker")
	}
	if live := liveInGroup(t, pgid); len(live) > 0 {
		t.Errorf("processes of the step's group still alive: %v", live)
	}
}

func TestStepEndingLeavesNothingBehind(t *testing.T) {
	dir := t.TempDir()
	mark := filepath.Join(dir, "late")
	f := newFixture(t)
	// The step succeeds at once but leaves a background process behind.
	f.src["c1"] = commandRepo(`  - name: detach
    argv: [sh, -c, '(sleep 2; echo late > "$MARK") & echo bye']
    env: {MARK: ` + mark + `}
`)
	res, err := f.deploy(t, f.deployer(t, nil), "c1")
	if err != nil || res.Status != workflow.DeploySucceeded {
		t.Fatalf("%v %s", err, res.Summary)
	}
	time.Sleep(3 * time.Second)
	if _, err := os.Stat(mark); err == nil {
		t.Error("the background process of a finished step kept running")
	}
}

func TestStepDescriptors(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skipf("needs /proc/self/fd (Linux): %v", err)
	}
	// A descriptor without close-on-exec, as one inherited from the bot's
	// parent would be.
	fd, err := syscall.Open("/etc/hostname", syscall.O_RDONLY, 0)
	if err != nil {
		t.Skipf("cannot open a descriptor to leak: %v", err)
	}
	defer syscall.Close(fd)
	f := newFixture(t)
	f.src["c1"] = commandRepo(`  - name: fds
    argv: [ls, -l, /proc/self/fd]
`)
	res, err := f.deploy(t, f.deployer(t, nil), "c1")
	if err != nil || res.Status != workflow.DeploySucceeded {
		t.Fatalf("%v %s", err, res.Summary)
	}
	lines := f.stepLines("fds")
	text := strings.Join(lines, "\n")
	fds := map[string]string{}
	for _, l := range lines {
		// "lr-x------ 1 root root 64 ... 3 -> /proc/42/fd"
		if before, target, ok := strings.Cut(l, " -> "); ok {
			fields := strings.Fields(before)
			fds[fields[len(fields)-1]] = target
		}
	}
	if fds["0"] != "/dev/null" {
		t.Errorf("stdin is %q, not the null device:\n%s", fds["0"], text)
	}
	for n, target := range fds {
		// Besides 0, 1 and 2 only the directory ls is listing.
		if n != "0" && n != "1" && n != "2" && !(strings.HasPrefix(target, "/proc/") && strings.HasSuffix(target, "/fd")) {
			t.Errorf("the step has the bot's descriptor %s -> %s", n, target)
		}
	}
	if len(fds) < 3 {
		t.Errorf("no descriptors listed:\n%s", text)
	}
}

func TestStepRunAs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skipf("running a step as another user needs root; the tests run as uid %d", os.Geteuid())
	}
	// A 0600 file of the bot's next to a 0644 one, in directories anyone
	// may traverse: only the file's mode keeps the step out.
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	secret, public := filepath.Join(dir, "secret"), filepath.Join(dir, "public")
	if err := os.WriteFile(secret, []byte("bot secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(public, []byte("public\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	for _, d := range []string{filepath.Dir(work), work} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f := newFixture(t)
	repo := commandRepo(`  - name: nobody
    argv: [sh, -c, 'echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)"; cat hello.txt; cat "$PUBLIC"; cat "$SECRET" || echo "secret: denied"; echo x > "$HOME/h" && echo home ok; echo y > "$TMPDIR/t" && echo tmp ok; cat "$CODE_RELEASER_OUTPUTS" > /dev/null && echo outputs read']
    dir: scripts
    env: {SECRET: ` + secret + `, PUBLIC: ` + public + `}
`)
	repo["scripts/hello.txt"] = &fstest.MapFile{Data: []byte("hello from the checkout\n"), Mode: 0o644}
	f.src["c1"] = repo
	res, err := f.deploy(t, f.deployer(t, func(c *Config) {
		c.WorkDir = work
		c.Envs["dev"] = EnvAWS{Region: "eu-west-1", AccountID: "111111111111", Steps: StepPolicy{RunAs: &RunAs{UID: 65534, GID: 65534}}}
	}), "c1")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(f.stepLines("nobody"), "\n")
	if res.Status != workflow.DeploySucceeded {
		t.Fatalf("%s: %s\n%s", res.Status, res.Summary, text)
	}
	for _, want := range []string{"uid=65534 gid=65534 groups=65534\n", "hello from the checkout", "\npublic\n", "secret: denied", "home ok", "tmp ok", "outputs read"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "bot secret") {
		t.Errorf("the step read the bot's 0600 file:\n%s", text)
	}
}
