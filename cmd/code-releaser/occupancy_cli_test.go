package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The terminal: status gives each ticket's expiry (from its release in
// git when the CLI has no shared store), and remove --reason says why.
func TestCLIOccupancyStatusAndRemoveReason(t *testing.T) {
	_, dir := sharedDevFixture(t, "")
	cfgPath := filepath.Join(dir, "code-releaser.yml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	withPolicy := strings.Replace(string(cfg), "[{name: dev},", "[{name: dev, occupancy: {remind_after: 3d, expire_after: 7d}},", 1)
	if err := os.WriteFile(cfgPath, []byte(withPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	before := time.Now().UTC()
	releaseAs(t, dir, "JIRA-1", "alice")
	releaseAs(t, dir, "JIRA-2", "bob")
	code, out, errs := runCLI(t, dir, nil, "status", "dev", "--config", "code-releaser.yml")
	if code != 0 {
		t.Fatalf("status: exit %d\n%s\n%s", code, out, errs)
	}
	day := before.Add(7 * 24 * time.Hour).Format("2006-01-02")
	for _, want := range []string{"JIRA-1     released by @alice", "JIRA-2     released by @bob", ", expires " + day} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	code, out, errs = runCLI(t, dir, nil, "remove", "JIRA-2", "dev", "--reason", "breaks the payments tests", "--as", "carol", "--config", "code-releaser.yml")
	if code != 0 || !strings.Contains(out, "removed JIRA-2 from dev (breaks the payments tests): release/dev at") {
		t.Errorf("remove --reason: exit %d\n%s\n%s", code, out, errs)
	}
}
