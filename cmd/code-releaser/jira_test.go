package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/gittest"
	"github.com/code-releaser/code-releaser/integrations/jira/jiratest"
)

// jiraFixture is releaseFixture with a jira section pointing at a local
// Jira (Server/Data Center flavour: a personal access token).
func jiraFixture(t *testing.T, extra string) (*gittest.Remote, string, *jiratest.Server) {
	t.Helper()
	remote, dir := releaseFixture(t)
	srv := jiratest.New(jiratest.DataCenter)
	t.Cleanup(srv.Close)
	cfg := "repo: {url: " + remote.URL() + ", cache_dir: " + filepath.Join(dir, "cache") + "}\n" +
		"environments: [{name: dev}, {name: prod, production: true}]\n" +
		"jira: {url: " + srv.URL + ", projects: [JIRA]" + extra + "}\n"
	if err := os.WriteFile(filepath.Join(dir, "code-releaser.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return remote, dir, srv
}

func jiraEnv(k string) string {
	if k == "JIRA_API_TOKEN" {
		return jiratest.PAT
	}
	return ""
}

func TestReleaseChecksJira(t *testing.T) {
	remote, dir, srv := jiraFixture(t, ", transitions: {dev: In QA}")
	before := remote.Branches(t)

	// Done: refused, nothing pushed, nothing written.
	srv.Put(jiratest.Issue{Key: "JIRA-1", Summary: "Change b", Status: "Done", StatusCategory: "done"})
	code, out, errs := runCLI(t, dir, jiraEnv, "release", "JIRA-1", "dev", "--as", "alice", "--config", "code-releaser.yml")
	if code != 2 || !strings.Contains(errs, "JIRA-1 is Done (status category done)") {
		t.Errorf("release of a done ticket: exit %d\n%s\n%s", code, out, errs)
	}
	if after := remote.Branches(t); !sameMap(before, after) {
		t.Errorf("the remote changed: before %v, after %v", before, after)
	}
	if b := srv.Bodies("POST", ""); len(b) != 0 {
		t.Errorf("wrote to Jira: %q", b)
	}

	// No token: the error names the variable.
	code, _, errs = runCLI(t, dir, nil, "release", "JIRA-1", "dev", "--as", "alice", "--config", "code-releaser.yml")
	if code == 0 || !strings.Contains(errs, "JIRA_API_TOKEN") {
		t.Errorf("release without a token: exit %d, %s", code, errs)
	}

	// In progress: released, commented, linked, moved.
	srv.Put(jiratest.Issue{Key: "JIRA-1", Summary: "Change b", Status: "In Progress", StatusCategory: "indeterminate",
		Transitions: []jiratest.Transition{{ID: "5", Name: "QA", To: "In QA", ToCategory: "indeterminate"}}})
	code, out, errs = runCLI(t, dir, jiraEnv, "release", "JIRA-1", "dev", "--as", "alice", "--config", "code-releaser.yml")
	if code != 0 {
		t.Fatalf("release: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "ticket    commented on JIRA-1, moved JIRA-1 to In QA") {
		t.Errorf("release output lacks the write-back:\n%s", out)
	}
	if c := srv.Comments("JIRA-1"); len(c) != 1 || !strings.HasPrefix(c[0], "Code-Releaser released JIRA-1 to *dev*") {
		t.Errorf("comments = %q", c)
	}
	// A file:// repo has no web page and there is no thread: no link.
	if l := srv.Links("JIRA-1"); len(l) != 0 {
		t.Errorf("links = %+v", l)
	}
}

func TestReleaseJiraDownAllowed(t *testing.T) {
	_, dir, srv := jiraFixture(t, ", allow_unvalidated: true")
	srv.Put(jiratest.Issue{Key: "JIRA-1", Summary: "Change b", StatusCategory: "indeterminate"})
	srv.Inject(jiratest.Fault{Status: 502})
	code, out, errs := runCLI(t, dir, jiraEnv, "release", "JIRA-1", "dev", "--as", "alice", "--config", "code-releaser.yml")
	if code != 0 || !strings.Contains(out, ":warning: JIRA-1 was not checked in Jira") {
		t.Errorf("release with Jira down: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "not written to JIRA-1") {
		t.Errorf("the failed write-back is not reported:\n%s", out)
	}
}

func TestJiraConfig(t *testing.T) {
	c, err := parseConfig([]byte(goodConfig), jiraEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.JiraToken != jiratest.PAT || strings.Contains(c.String(), jiratest.PAT) {
		t.Errorf("token: %q, String %s", c.JiraToken, c)
	}
	if p := c.ticketPolicy(); strings.Join(p.DenyStatusCategories, ",") != "done" || strings.Join(p.Projects, ",") != "OPS,JIRA" {
		t.Errorf("policy = %+v", p)
	}
	for yaml, want := range map[string]string{
		"jira: {url: https://acme.atlassian.net}\n":                             "done",
		"jira: {url: https://acme.atlassian.net, deny_status_categories: []}\n": "",
	} {
		base := "repo: {url: https://git.example.com/acme/infra.git, cache_dir: /tmp/c}\nenvironments: [{name: dev}]\n"
		c, err := parseConfig([]byte(base+yaml), noEnv)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(c.ticketPolicy().DenyStatusCategories, ","); got != want {
			t.Errorf("%s: deny = %q, want %q", yaml, got, want)
		}
		if got := c.jiraConfig().LinkURL; got != "https://git.example.com/acme/infra" {
			t.Errorf("link URL = %q", got)
		}
	}
	_, err = parseConfig([]byte("repo: {url: file:///r, cache_dir: /tmp/c}\nenvironments: [{name: dev}]\njira: {url: https://x.atlassian.net, transitions: {qa: Done}}\n"), noEnv)
	if err == nil || !strings.Contains(err.Error(), "jira.transitions.qa") {
		t.Errorf("unknown env in transitions: %v", err)
	}
}
