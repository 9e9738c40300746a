package workflow_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/code-releaser/code-releaser/workflow"
)

const awsSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" // AWS's documented example shape: / and +

func TestSecretsRedactEveryForm(t *testing.T) {
	var s workflow.Secrets
	s.Add(awsSecret, "xoxb-1111-2222-abcdef", "short", "")
	jsonForm, _ := json.Marshal(awsSecret)
	for _, text := range []string{
		"key=" + awsSecret + " end",
		"body=" + url.QueryEscape(awsSecret),
		"/path/" + url.PathEscape(awsSecret) + "/x",
		`{"text":` + string(jsonForm) + `}`,
		"Authorization: Bearer xoxb-1111-2222-abcdef",
	} {
		got := s.Redact(text)
		if strings.Contains(got, "EXAMPLEKEY") || strings.Contains(got, "abcdef") {
			t.Errorf("Redact(%q) = %q: the secret is still there", text, got)
		}
		if !strings.Contains(got, workflow.Redacted) {
			t.Errorf("Redact(%q) = %q: want %s in its place", text, got, workflow.Redacted)
		}
		if !s.Contains(text) {
			t.Errorf("Contains(%q) = false", text)
		}
	}
	// Too short to be a secret: ordinary words are left alone.
	if got := s.Redact("a short line"); got != "a short line" {
		t.Errorf("Redact changed text without secrets: %q", got)
	}
	var nilSecrets *workflow.Secrets
	if got := nilSecrets.Redact("x " + awsSecret); !strings.Contains(got, awsSecret) {
		t.Errorf("a nil Secrets redacts: %q", got)
	}
}

func TestRedactingWriterSecretSplitAcrossWrites(t *testing.T) {
	var s workflow.Secrets
	s.Add(awsSecret)
	var out bytes.Buffer
	w := s.Writer(&out)
	line := "AWS_SECRET_ACCESS_KEY=" + awsSecret + "\n"
	for i := 0; i < len(line); i++ { // one byte per write, as a slow process writes
		if _, err := w.Write([]byte{line[i]}); err != nil {
			t.Fatal(err)
		}
	}
	// A line that never ends, with the secret across the 64 KiB cut.
	long := strings.Repeat("x", 64<<10-10) + awsSecret + strings.Repeat("y", 100)
	for i := 0; i < len(long); i += 4096 {
		if _, err := w.Write([]byte(long[i:min(i+4096, len(long))])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if strings.Contains(got, "EXAMPLEKEY") || strings.Contains(got, "wJalrXUtnFEMI") {
		t.Fatalf("the secret went through the writer: %q", got[:min(len(got), 200)])
	}
	if want := strings.Count(got, workflow.Redacted); want != 2 {
		t.Errorf("got %d redactions, want 2", want)
	}
	if !strings.HasPrefix(got, "AWS_SECRET_ACCESS_KEY="+workflow.Redacted+"\n") || !strings.HasSuffix(got, strings.Repeat("y", 100)) {
		t.Errorf("the text around the secrets was not kept: %q...%q", got[:40], got[len(got)-40:])
	}
}
