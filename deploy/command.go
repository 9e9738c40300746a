package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// maxStreamedLines bounds the output lines of a command sent as progress;
// the rest is counted, and the tail kept for the failure reason.
const (
	maxStreamedLines = 200
	tailLines        = 15
)

// commandRunner runs command steps in one checkout of the commit.
type commandRunner struct {
	files    fs.FS
	base     string // temp dir holding the checkout and the outputs file
	env      string
	sha      string
	region   string
	creds    aws.Credentials
	credNote string // said once in each step's progress when set
	policy   StepPolicy
	environ  []string // the operator's environment passed on (PATH, LANG)
	progress func(name, format string, args ...any)
	redact   func(string) string // every secret the bot knows and the step's credentials

	once     sync.Once
	checkout string
	err      error
}

// prepare copies the commit's files into a fresh directory, once.
func (c *commandRunner) prepare() (string, error) {
	c.once.Do(func() {
		dir := filepath.Join(c.base, "repo")
		if err := os.CopyFS(dir, c.files); err != nil {
			c.err = fmt.Errorf("checkout of %s: %w", shortSHA(c.sha), err)
			return
		}
		if err := c.give(c.base); err != nil {
			c.err = err
			return
		}
		c.checkout = dir
	})
	return c.checkout, c.err
}

// give hands the tree at dir to the user steps run as, if not the bot's.
func (c *commandRunner) give(dir string) error {
	as := c.policy.RunAs
	if as == nil {
		return nil
	}
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(as.UID), int(as.GID))
	})
	if err != nil {
		return fmt.Errorf("giving the step's files to uid %d: %w", as.UID, err)
	}
	return nil
}

// runnerArgv is the operator's runner with "{dir}" replaced by the step's
// working directory.
func runnerArgv(runner []string, dir string) []string {
	out := make([]string, len(runner))
	for i, a := range runner {
		out[i] = strings.ReplaceAll(a, "{dir}", dir)
	}
	return out
}

// outputsPlaceholder in a step's argv is replaced by its outputs file's
// path.
const outputsPlaceholder = "{outputs}"

// stackOutputs is the outputs file's entry of a stack.
type stackOutputs struct {
	StackName string            `json:"stack_name"`
	Outputs   map[string]string `json:"outputs"`
}

// envName turns a stack id and output key into an environment variable
// name: STACK_<ID>_<KEY>, upper case, other characters as _.
func envName(parts ...string) string {
	s := strings.ToUpper(strings.Join(parts, "_"))
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// run runs one command step; outputs maps stack ids to their outputs.
func (c *commandRunner) run(ctx context.Context, cp *CommandPlan, outputs map[string]stackOutputs) (status, reason string) {
	dir, err := c.prepare()
	if err != nil {
		return "failed", err.Error()
	}
	// The step's own dir: its outputs file, HOME and TMPDIR.
	own := filepath.Join(c.base, "step-"+cp.Name)
	home, tmp := filepath.Join(own, "home"), filepath.Join(own, "tmp")
	for _, d := range []string{home, tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "failed", err.Error()
		}
	}
	outFile := filepath.Join(own, "outputs.json")
	data, _ := json.MarshalIndent(outputs, "", "  ")
	if err := os.WriteFile(outFile, data, 0o600); err != nil {
		return "failed", err.Error()
	}
	if err := c.give(own); err != nil {
		return "failed", err.Error()
	}
	// Later entries win: the bot's own variables come last.
	env := append([]string(nil), c.environ...)
	for _, k := range sortedKeys(cp.Env) {
		env = append(env, k+"="+cp.Env[k])
	}
	ids := make([]string, 0, len(outputs))
	for id := range outputs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		for _, k := range sortedKeys(outputs[id].Outputs) {
			env = append(env, envName("STACK", id, k)+"="+outputs[id].Outputs[k])
		}
	}
	env = append(env, "HOME="+home, "TMPDIR="+tmp,
		"CODE_RELEASER_ENV="+c.env, "CODE_RELEASER_SHA="+c.sha, "CODE_RELEASER_OUTPUTS="+outFile,
		"AWS_REGION="+c.region, "AWS_DEFAULT_REGION="+c.region, "AWS_EC2_METADATA_DISABLED=true",
	)
	if c.creds.AccessKeyID != "" {
		env = append(env, "AWS_ACCESS_KEY_ID="+c.creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+c.creds.SecretAccessKey)
		if c.creds.SessionToken != "" {
			env = append(env, "AWS_SESSION_TOKEN="+c.creds.SessionToken)
		}
	}
	if c.credNote != "" {
		c.progress(cp.Name, "%s", c.credNote)
	}
	ctx, cancel := context.WithTimeout(ctx, cp.Timeout)
	defer cancel()
	workDir := filepath.Join(dir, filepath.FromSlash(cp.Dir))
	argv := runnerArgv(c.policy.Runner, workDir)
	for _, a := range cp.Argv {
		argv = append(argv, strings.ReplaceAll(a, outputsPlaceholder, outFile))
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = workDir
	cmd.Env = env
	w := &lineWriter{emit: func(line string) { c.progress(cp.Name, "%s", line) }, redact: c.redact}
	start := time.Now()
	c.progress(cp.Name, "$ %s", c.redact(strings.Join(cp.Argv, " ")))
	err = runProcess(ctx, cmd, c.policy.RunAs, w, stepGrace)
	w.flush()
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "failed", fmt.Sprintf("timed out after %s (limit %s); its processes were ended%s", took, cp.Timeout, w.tailText())
	case ctx.Err() != nil:
		return "failed", fmt.Sprintf("cancelled after %s; its processes were ended%s", took, w.tailText())
	case err != nil:
		return "failed", fmt.Sprintf("%s after %s%s", w.redact(err.Error()), took, w.tailText())
	}
	c.progress(cp.Name, "done in %s", took)
	return "succeeded", ""
}

// redactors applies each of rs (nil ones skipped) in turn.
func redactors(rs ...func(string) string) func(string) string {
	return func(s string) string {
		for _, r := range rs {
			if r != nil {
				s = r(s)
			}
		}
		return s
	}
}

// newRedactor replaces the credentials' secrets in text.
func newRedactor(creds aws.Credentials) func(string) string {
	var secrets []string
	for _, s := range []string{creds.SecretAccessKey, creds.SessionToken, creds.AccessKeyID} {
		if len(s) >= 8 {
			secrets = append(secrets, s)
		}
	}
	return func(s string) string {
		for _, x := range secrets {
			s = strings.ReplaceAll(s, x, "[redacted]")
		}
		return s
	}
}

// Long lines are cut into pieces of about maxLine bytes. The cut keeps
// back maxSecret bytes and is moved until no secret crosses it, so that a
// secret of up to maxSecret bytes is redacted wherever it falls.
const (
	maxLine   = 64 << 10
	maxSecret = 4 << 10
)

// lineWriter splits a command's output into redacted lines.
type lineWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	emit   func(string)
	redact func(string) string
	n      int
	tail   []string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		i := bytes.IndexByte(w.buf.Bytes(), '\n')
		if i < 0 {
			if w.buf.Len() > maxLine {
				w.cutLong()
			}
			return len(p), nil
		}
		line := string(w.buf.Next(i + 1))
		w.line(w.redact(strings.TrimRight(line, "\r\n")))
	}
}

// cutLong emits the head of a line too long to keep whole, at a cut no
// secret crosses: one where redacting the two sides apart gives what
// redacting the whole does. The last maxSecret bytes at least stay
// buffered, since a secret may be only partly written yet.
func (w *lineWriter) cutLong() {
	b := w.buf.Bytes()
	whole := w.redact(string(b))
	for cut := len(b) - maxSecret; cut > 0; cut -= maxSecret {
		head, rest := w.redact(string(b[:cut])), w.redact(string(b[cut:]))
		if head+rest == whole {
			w.line(head)
			w.buf.Next(cut)
			return
		}
	}
	// Secrets everywhere: give up cutting, emit the whole.
	w.line(whole)
	w.buf.Reset()
}

// line records an already redacted line.
func (w *lineWriter) line(s string) {
	w.n++
	if w.n <= maxStreamedLines {
		w.emit(s)
	} else if w.n == maxStreamedLines+1 {
		w.emit(fmt.Sprintf("(output beyond %d lines is not streamed)", maxStreamedLines))
	}
	w.tail = append(w.tail, s)
	if len(w.tail) > tailLines {
		w.tail = w.tail[1:]
	}
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() > 0 {
		w.line(w.redact(w.buf.String()))
		w.buf.Reset()
	}
}

func (w *lineWriter) tailText() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.tail) == 0 {
		return ""
	}
	return "; last output:\n" + strings.Join(w.tail, "\n")
}
