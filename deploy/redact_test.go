package deploy

import (
	"strings"
	"testing"

	"github.com/code-releaser/code-releaser/workflow"
)

const botSecret = "xoxb-0123456789-bot-token-never-shown"

var redactBot = strings.NewReplacer(botSecret, "[bot-secret]").Replace

// written feeds a lineWriter with data in pieces of size bytes and
// returns what it emitted, flushed.
func written(data string, size int) []string {
	var out []string
	w := &lineWriter{emit: func(s string) { out = append(out, s) }, redact: redactBot}
	for i := 0; i < len(data); i += size {
		w.Write([]byte(data[i:min(i+size, len(data))]))
	}
	w.flush()
	return out
}

func TestLineWriterRedactsSplitSecrets(t *testing.T) {
	// The 1 KiB write that takes the line past 64 KiB ends in the middle
	// of the secret.
	long := strings.Repeat("x", 66560-20) + botSecret + strings.Repeat("y", 5000) + "\n"
	for _, tc := range []struct {
		name string
		data string
		size int
	}{
		{"one byte per write", "token: " + botSecret + " ok\n", 1},
		{"straddling the long-line cut", long, 1024},
		{"long line, one byte per write", long, 1},
		{"long line, one write", long, len(long)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := written(tc.data, tc.size)
			text := strings.Join(out, "")
			for _, piece := range []string{botSecret, botSecret[:20], botSecret[20:]} {
				if strings.Contains(text, piece) {
					t.Fatalf("%q of the secret reached the output (%d lines)", piece, len(out))
				}
			}
			if n := strings.Count(text, "[bot-secret]"); n != 1 {
				t.Errorf("%d redactions, want 1", n)
			}
			if got, want := len(text), len(redactBot(strings.TrimSuffix(tc.data, "\n"))); got != want {
				t.Errorf("%d bytes of output, want %d: something was lost", got, want)
			}
		})
	}
}

func TestStepOutputRedactsCallerSecrets(t *testing.T) {
	f := newFixture(t)
	// The step writes the secret a byte at a time, fails, and names it in
	// its last words: the progress, the failure tail and the summary are
	// redacted alike.
	f.src["c1"] = commandRepo(`  - name: leak
    argv: [sh, -c, 'i=1; n=$(printf %s "$TOKEN" | wc -c); while [ $i -le $n ]; do printf %s "$(echo "$TOKEN" | cut -c$i)"; i=$((i+1)); done; echo; echo "dying with $TOKEN" >&2; exit 3']
    env: {TOKEN: ` + botSecret + `}
`)
	res, err := f.deploy(t, f.deployer(t, func(c *Config) { c.Redact = redactBot }), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != workflow.DeployFailed {
		t.Fatalf("status %s: %s", res.Status, res.Summary)
	}
	text := strings.Join(f.stepLines("leak"), "\n") + "\n" + res.Summary + "\n" + res.Stacks[0].Reason
	if strings.Contains(text, botSecret) {
		t.Errorf("the caller's secret reached the output:\n%s", text)
	}
	if n := strings.Count(text, "[bot-secret]"); n < 4 {
		t.Errorf("%d redactions, want the argv line, the output, its tail and the summary:\n%s", n, text)
	}
}
