package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/code-releaser/code-releaser/deploy/cfntest"
	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
	"github.com/code-releaser/code-releaser/store/redistest"
)

// marker starts every secret value of the bot in the secrets test, so
// that the hostile step can look for them as a real attacker greps for
// xoxb- or AKIA.
const marker = "SEKRIT"

// attackStep is a command step written by someone who can push a ticket
// branch: it tries every way it knows to read the bot's secrets and
// writes all it finds, unredacted, to the file args[0]: the environment
// and memory of its parent (the bot), every /proc/*/environ, the files
// args[1:] (the config, the cache dir). It prints its own environment,
// as a careless playbook would. (The shell that starts it lists the
// descriptors the step inherited.)
func attackStep(args []string) {
	exfil, err := os.OpenFile(args[0], os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o666)
	if err != nil {
		fmt.Println("attack: cannot open the exfil file:", err)
		return
	}
	defer exfil.Close()
	loot := func(what string, data []byte, err error) {
		if err != nil {
			fmt.Fprintf(exfil, "== %s: %v\n", what, err)
			return
		}
		fmt.Fprintf(exfil, "== %s: %d bytes\n", what, len(data))
		exfil.Write(data)
		exfil.Write([]byte("\n"))
	}
	ppid := os.Getppid()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", ppid))
	loot("parent environ", data, err)
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err == nil {
			loot(p, data, nil)
		}
	}
	data, err = readMemory(ppid)
	loot("parent memory", data, err)
	for _, root := range args[1:] {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				loot(p, nil, err)
				return nil
			}
			if d.Type().IsRegular() {
				data, err := os.ReadFile(p)
				loot(p, data, err)
			}
			return nil
		})
	}
	for _, kv := range os.Environ() {
		fmt.Println("attack: env", kv)
	}
	fmt.Println("attack: done")
}

// readMemory returns the runs of the process's readable memory that hold
// the marker, with what follows it.
func readMemory(pid int) ([]byte, error) {
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return nil, err
	}
	defer mem.Close()
	maps, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, err
	}
	defer maps.Close()
	var found bytes.Buffer
	var readable int
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[1][0] != 'r' {
			continue
		}
		lo, hi, _ := strings.Cut(f[0], "-")
		start, _ := strconv.ParseUint(lo, 16, 64)
		end, _ := strconv.ParseUint(hi, 16, 64)
		if end-start > 1<<30 {
			continue
		}
		buf := make([]byte, end-start)
		n, _ := mem.ReadAt(buf, int64(start))
		readable += n
		for b := buf[:n]; ; {
			i := bytes.Index(b, []byte(marker))
			if i < 0 {
				break
			}
			found.Write(b[i:min(len(b), i+64)])
			found.WriteByte('\n')
			b = b[i+len(marker):]
		}
	}
	if readable == 0 {
		return nil, fmt.Errorf("no memory readable")
	}
	return found.Bytes(), nil
}

// TestStepCannotReadTheBotsSecrets is the release boundary: a bot holding
// distinctive secrets (Slack, git, Jira, Redis, base AWS keys) releases a
// ticket whose command step tries to read them every way it can, as the
// same user as the bot. The step gets nothing: not from /proc of the bot,
// not from other processes' environments, not from the config or the
// cache dir, not from inherited descriptors. And no secret, the step's
// own assumed-role keys included, is in what the bot printed, logged or
// journaled.
func TestStepCannotReadTheBotsSecrets(t *testing.T) {
	t.Run("step of the bot's user", func(t *testing.T) { stealTest(t, false) })
	// A bot run as root runs its steps as nobody: they cannot read its
	// 0600 files either (its AWS credentials file here), nor its memory,
	// which root could.
	t.Run("bot as root", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("skipped: the tests do not run as root, so the bot cannot run as root")
		}
		stealTest(t, true)
	})
}

// stealTest is TestStepCannotReadTheBotsSecrets with the bot as root or
// as an ordinary user (the test's, or nobody when the test is root).
func stealTest(t *testing.T, asRoot bool) {
	gittest.RequireGit(t)
	// Not t.TempDir: its parent is private to the test's user.
	root, err := os.MkdirTemp("", "code-releaser-secrets-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	os.Chmod(root, 0o777) // the step writes its loot here
	secrets := map[string]string{
		"SLACK_BOT_TOKEN":       "xoxb-" + marker + "-slack-bot-5c1d2e",
		"SLACK_APP_TOKEN":       "xapp-" + marker + "-slack-app-77ab01",
		"GIT_TOKEN":             marker + "-git-token-41f0c9",
		"JIRA_API_TOKEN":        marker + "-jira-token-0d9e3b",
		"REDIS_PASSWORD":        marker + "-redis-pass-a8c4f2",
		"AWS_ACCESS_KEY_ID":     "AKIA" + marker + "BASEKEY1",
		"AWS_SECRET_ACCESS_KEY": marker + "/base+secret/9a7e5d3c1b",
	}

	// The shared parts, all real: git over HTTP with the token, Redis with
	// the password, CloudFormation and STS.
	gitRoot := filepath.Join(root, "git")
	remote := gittest.NewRemote(t, gitRoot, "infra")
	url := gittest.HTTPServer(t, gitRoot, "x-access-token", secrets["GIT_TOKEN"]) + "/infra.git"
	srv := redistest.Dedicated(t, redistest.Options{})
	rc := srv.Client(t)
	if err := rc.ConfigSet(t.Context(), "requirepass", secrets["REDIS_PASSWORD"]).Err(); err != nil {
		t.Fatal(err)
	}
	cfn := cfntest.New(cfntest.Options{Account: "111111111111", Region: "eu-west-1", ResourceDelay: time.Millisecond})
	t.Cleanup(cfn.Close)

	// The test binary plays both the bot and the step; whoever runs the
	// step must be able to run it.
	bin := filepath.Join(root, "bin")
	os.Mkdir(bin, 0o755)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(bin, "code-releaser.test")
	copyFile(t, self, exe, 0o755)
	cache := filepath.Join(root, "cache")
	cfgPath := filepath.Join(root, "code-releaser.yml")
	exfil := filepath.Join(root, "exfil")

	home := filepath.Join(root, "home")
	os.Mkdir(home, 0o777)
	// A secret only in a file of the bot's, as ~/.aws/credentials holds one.
	awsFile := filepath.Join(home, "aws-credentials")
	secrets["the bot's credentials file"] = marker + "-file-secret-3e8d"
	if err := os.WriteFile(awsFile, []byte("[default]\naws_secret_access_key = "+secrets["the bot's credentials file"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	w := remote.Clone(t)
	w.Git(t, "checkout", "-q", "-b", "master")
	w.Commit(t, "infra", map[string]string{
		"code-releaser.yml": "stacks:\n  net: {name: \"{env}-net\", template: net.yml}\n",
		"net.yml":           "Resources: {Vpc: {Type: AWS::EC2::VPC}}\n",
	})
	w.Push(t, "master")
	w.Branch(t, "JIRA-1", "master")
	w.Commit(t, "JIRA-1: a step of my own", map[string]string{
		"code-releaser.yml": fmt.Sprintf("stacks:\n  net: {name: \"{env}-net\", template: net.yml}\ncommands:\n  - {name: steal, argv: [sh, -c, %q, %q, attack-step, %q, %q, %q, %q], timeout: 2m}\n",
			listFDs, exe, exfil, cfgPath, cache, home),
	})
	w.Push(t, "JIRA-1")
	cfg := "repo: {url: \"" + url + "\", cache_dir: " + cache + "}\n" +
		"redis: {url: \"redis://" + srv.Addr + "/0\"}\n" +
		"environments:\n  - {name: dev, aws: {region: eu-west-1, account_id: \"111111111111\", role_arn: \"arn:aws:iam::111111111111:role/deployer\"}}\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "code-releaser-main", "release", "JIRA-1", "dev", "--as", "alice", "--config", cfgPath)
	cmd.Dir = root
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + root,
		"AWS_ENDPOINT_URL=" + cfn.URL, "AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull, "AWS_MAX_ATTEMPTS=1",
	}
	for k, v := range secrets {
		if isSecretEnv(k) {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	switch {
	case asRoot:
		// The file is the bot's alone; the step may not read it.
	case os.Geteuid() != 0:
		// A step of the bot's own user can read the bot's files: only
		// another user (step_run_as, step_runner) keeps them from it.
		delete(secrets, "the bot's credentials file")
	default:
		// Root may read any process's memory (CAP_SYS_PTRACE): run the bot
		// as an ordinary user, so that the step is of the same user and
		// nothing more.
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		delete(secrets, "the bot's credentials file")              // see above
		for _, p := range []string{root, home, cfgPath, awsFile} { // the bot's own; the remote stays the server's
			if err := os.Chown(p, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("release: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "attack: done") {
		t.Fatalf("the step did not run to its end:\n%s\n%s", stdout.String(), stderr.String())
	}
	loot, err := os.ReadFile(exfil)
	if err != nil {
		t.Fatal(err)
	}
	// The step did try: it read the config and the mirror in the cache dir.
	for _, want := range []string{"== " + cfgPath + ":", "== " + cache, "== " + awsFile + ":"} {
		if !bytes.Contains(loot, []byte(want)) {
			t.Errorf("the step did not get to read %q; what it got:\n%s", want, head(loot))
		}
	}
	journal := redisDump(t, srv.Addr, secrets["REDIS_PASSWORD"])
	for name, value := range secrets {
		for what, text := range map[string]string{"what the step read": string(loot), "stdout": stdout.String(), "stderr": stderr.String(), "the Redis journal": journal} {
			if strings.Contains(text, value) {
				i := strings.Index(text, value)
				t.Errorf("%s holds %s: ...%s...", what, name, text[max(0, i-200):min(len(text), i+len(value)+40)])
			}
		}
	}
	// The step's own short-lived keys are in its environment, and in no
	// output.
	if !strings.Contains(stdout.String(), "attack: env AWS_SECRET_ACCESS_KEY=") {
		t.Errorf("the step got no assumed-role credentials:\n%s", stdout.String())
	}
	for what, text := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String(), "the Redis journal": journal} {
		if strings.Contains(text, "cfntest-secret-") || strings.Contains(text, "cfntest-session-") {
			t.Errorf("%s holds the step's assumed-role secret", what)
		}
	}
	// Nothing but stdin, stdout and stderr reached the step.
	fds := 0
	for _, line := range strings.Split(stdout.String(), "\n") {
		if before, _, ok := strings.Cut(line, " -> "); ok && strings.Contains(line, "steal") { // ls -l of /proc/PID/fd
			fds++
			f := strings.Fields(before)
			if n, _ := strconv.Atoi(f[len(f)-1]); n > 2 {
				t.Errorf("the step inherited a descriptor of the bot: %s", line)
			}
		}
	}
	if fds < 3 {
		t.Errorf("the step listed %d descriptors, want at least stdin, stdout and stderr:\n%s", fds, stdout.String())
	}
}

// listFDs is the shell that lists the descriptors it was started with,
// then runs the attack.
const listFDs = `ls -l /proc/$$/fd; exec "$0" "$@"`

func head(b []byte) string { return string(b[:min(len(b), 4000)]) }

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, mode); err != nil {
		t.Fatal(err)
	}
}

// redisDump is every value of every key in the server, as text.
func redisDump(t *testing.T, addr, password string) string {
	t.Helper()
	ctx := t.Context()
	rc := redis.NewClient(&redis.Options{Addr: addr, Password: password})
	defer rc.Close()
	keys, err := rc.Keys(ctx, "*").Result() // a test may scan; the store never does
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("the bot left nothing in Redis: the journal was not written there")
	}
	var b strings.Builder
	for _, k := range keys {
		var v any
		switch typ := rc.Type(ctx, k).Val(); typ {
		case "string":
			v, err = rc.Get(ctx, k).Result()
		case "hash":
			v, err = rc.HGetAll(ctx, k).Result()
		case "list":
			v, err = rc.LRange(ctx, k, 0, -1).Result()
		case "set":
			v, err = rc.SMembers(ctx, k).Result()
		case "zset":
			v, err = rc.ZRange(ctx, k, 0, -1).Result()
		case "stream":
			v, err = rc.XRange(ctx, k, "-", "+").Result()
		default:
			t.Fatalf("key %s of type %q", k, typ)
		}
		if err != nil {
			t.Fatalf("read %s: %v", k, err)
		}
		fmt.Fprintf(&b, "%s: %v\n", k, v)
	}
	return b.String()
}
