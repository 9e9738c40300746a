package workflow_test

import (
	"strings"
	"testing"

	"github.com/code-releaser/code-releaser/workflow"
	"github.com/google/go-cmp/cmp"
)

func TestParseTicketKey(t *testing.T) {
	tests := []struct {
		in   string
		want workflow.TicketKey // "" means invalid
	}{
		{"OPS-123", "OPS-123"},
		{"jira-123", "JIRA-123"},
		{"  ops-7\t", "OPS-7"},
		{"A1_B-9", "A1_B-9"},
		{"OPS-0", ""},
		{"OPS-012", ""},
		{"OPS 123", ""},
		{"OPS-12 3", ""},
		{"OPS123", ""},
		{"-OPS-1", ""},
		{"1OPS-1", ""},
		{"_OPS-1", ""},
		{"OPS-", ""},
		{"-1", ""},
		{"OPS--1", ""},
		{"OPS-1-2", ""},
		{"OPS-1a", ""},
		{"ＯＰＳ-1", ""},  // fullwidth letters
		{"OPS-١٢", ""}, // Arabic-Indic digits
		{"OPS-１", ""},  // fullwidth digit
		{"ıps-1", ""},  // dotless i upper-cases to I in Unicode, not here
		{"OPS-1:refs/heads/master", ""},
		{"OPS-1..OPS-2", ""},
		{"../OPS-1", ""},
		{"OPS/1", ""},
		{"OPS-1\n", "OPS-1"}, // surrounding blanks are trimmed
		{"OPS-1\x00", ""},
		{"OPS-\x001", ""},
		{"", ""},
		{"   ", ""},
		{"A-" + strings.Repeat("1", 62), "A-" + workflow.TicketKey(strings.Repeat("1", 62))},
		{"A-" + strings.Repeat("1", 63), ""},
	}
	for _, tt := range tests {
		got, err := workflow.ParseTicketKey(tt.in)
		if tt.want == "" {
			if err == nil || workflow.KindOf(err) != workflow.Invalid {
				t.Errorf("ParseTicketKey(%q) = %q, %v; want an invalid error", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseTicketKey(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if !got.Valid() {
			t.Errorf("ParseTicketKey(%q) = %q, which is not Valid", tt.in, got)
		}
	}
	if got := workflow.TicketKey("OPS-12").Project(); got != "OPS" {
		t.Errorf("Project() = %q, want OPS", got)
	}
}

func TestValidateEnvName(t *testing.T) {
	for _, ok := range []string{"dev", "stg", "prod", "sandbox-2", "a", "0", strings.Repeat("a", 32)} {
		if err := workflow.ValidateEnvName(ok); err != nil {
			t.Errorf("ValidateEnvName(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "Dev", "dev_1", "dev/x", "-dev", "dev-", "dév", "dev ", "..", "a:b", strings.Repeat("a", 33)} {
		if err := workflow.ValidateEnvName(bad); workflow.KindOf(err) != workflow.Invalid {
			t.Errorf("ValidateEnvName(%q) = %v, want an invalid error", bad, err)
		}
	}
}

func TestValidateBranchName(t *testing.T) {
	for _, ok := range []string{"master", "release/dev", "OPS-1", "feature/OPS-1-fix_it", "user/ana/x.y", "ünïcode"} {
		if err := workflow.ValidateBranchName(ok); err != nil {
			t.Errorf("ValidateBranchName(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{
		"", "-x", "--force", "a:b", "+master", "..", "a..b", "a b", "a\tb", "a\x00b", "a\x7fb",
		"a~1", "a^", "a?", "a*", "a[", `a\b`, "/a", "a/", "a//b", "a.", ".a", "a/.b",
		"a.lock", "a/b.lock/c", "@", "a@{1}", "HEAD", "refs/heads/x", "\xff",
	} {
		if err := workflow.ValidateBranchName(bad); workflow.KindOf(err) != workflow.Invalid {
			t.Errorf("ValidateBranchName(%q) = %v, want an invalid error", bad, err)
		}
	}
}

func TestTrailers(t *testing.T) {
	msg := "Release OPS-1 to dev\n\nFix the VPC\n\nReleased-By: code-releaser\nReleased-For: U1\nRelease-Id: r1\n"
	want := map[string][]string{"Released-By": {"code-releaser"}, "Released-For": {"U1"}, "Release-Id": {"r1"}}
	if diff := cmp.Diff(workflow.Trailers(msg), want); diff != "" {
		t.Errorf("Trailers (-got +want):\n%s", diff)
	}
	tests := []struct {
		msg  string
		want bool
	}{
		{msg, true},
		{"Merge branch 'release/dev' into OPS-4\n\nReleased-By: code-releaser", true},
		{"Released-By: code-releaser", false}, // a subject is not a trailer
		{"Fix\n\nReleased-By: code-releaser\nnot a trailer line", false},
		{"Fix\n\nReleased-By: someone-else", false},
		{"Fix\n\nReleased-By: code-releaser\n\nlater paragraph", false},
		{"Fix OPS-1", false},
	}
	for _, tt := range tests {
		if got := workflow.IsReleaseMerge(tt.msg); got != tt.want {
			t.Errorf("IsReleaseMerge(%q) = %v, want %v", tt.msg, got, tt.want)
		}
	}
}

func TestTicketPolicy(t *testing.T) {
	p := workflow.TicketPolicy{Projects: []string{"OPS", "JIRA"}, DenyStatusCategories: []string{"done"}}
	tests := []struct {
		t    workflow.Ticket
		want workflow.Kind // Internal means allowed
	}{
		{workflow.Ticket{Key: "OPS-1", StatusCategory: "indeterminate"}, workflow.Internal},
		{workflow.Ticket{Key: "jira-1"}, workflow.Internal},
		{workflow.Ticket{Key: "HR-1"}, workflow.Forbidden},
		{workflow.Ticket{Key: "OPS-2", Status: "Closed", StatusCategory: "Done"}, workflow.Forbidden},
	}
	for _, tt := range tests {
		err := p.Check(tt.t)
		if got := workflow.KindOf(err); (err == nil) != (tt.want == workflow.Internal) || (err != nil && got != tt.want) {
			t.Errorf("Check(%+v) = %v, want kind %v", tt.t, err, tt.want)
		}
	}
}

func TestEnvAllows(t *testing.T) {
	e := workflow.Env{Name: "stg", Allowed: []string{"U9", "S0DEVOPS"}}
	tests := []struct {
		u    workflow.User
		want bool
	}{
		{workflow.User{ID: "U9"}, true},
		{workflow.User{ID: "U1", Groups: []string{"S0DEVOPS"}}, true},
		{workflow.User{ID: "U1", Groups: []string{"S0OTHER"}}, false},
		{workflow.User{ID: "S0DEVOPS"}, true}, // IDs and group IDs share one list
	}
	for _, tt := range tests {
		if got := e.Allows(tt.u); got != tt.want {
			t.Errorf("Allows(%+v) = %v, want %v", tt.u, got, tt.want)
		}
	}
	if !(workflow.Env{Name: "dev"}).Allows(workflow.User{ID: "anyone"}) {
		t.Error("an env without an allow list refused someone")
	}
}

func TestNewServiceConfig(t *testing.T) {
	deps := workflow.Deps{Repo: nil}
	tests := []struct {
		name string
		envs []workflow.Env
	}{
		{"no envs", nil},
		{"bad name", []workflow.Env{{Name: "Dev"}}},
		{"duplicate", []workflow.Env{{Name: "dev"}, {Name: "dev"}}},
		{"approvals on non-prod", []workflow.Env{{Name: "prod-eu", Approvals: workflow.ApprovalPolicy{Required: 1, Approvers: []string{"U1"}}}}},
		{"unknown requires_env", []workflow.Env{{Name: "prod", Production: true, RequiresEnv: "stg"}}},
		{"self requires_env", []workflow.Env{{Name: "dev", RequiresEnv: "dev"}}},
		{"non-prod on master", []workflow.Env{{Name: "dev", Branch: "master"}}},
		{"option-like branch", []workflow.Env{{Name: "dev", Branch: "-f"}}},
	}
	for _, tt := range tests {
		if _, err := workflow.NewService(nil, workflow.Config{Envs: tt.envs}, deps); err == nil {
			t.Errorf("%s: NewService accepted %+v", tt.name, tt.envs)
		}
	}
}
