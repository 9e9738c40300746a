package bot_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/code-releaser/code-releaser/bot"
	"github.com/code-releaser/code-releaser/workflow"
)

var envs = []string{"dev", "stg", "prod"}

func nop(context.Context, *bot.Request) (bot.Reply, error) { return bot.Reply{}, nil }

// grammar is DESIGN §7's table with handlers that do nothing.
func grammar() *bot.Table {
	return bot.NewTable("release",
		bot.Command{Name: "release", Args: []bot.Arg{bot.ArgTicket, bot.ArgEnv, bot.ArgSoakOpt}, Run: nop},
		bot.Command{Name: "status", Args: []bot.Arg{bot.ArgEnvOpt}, Run: nop},
		bot.Command{Name: "history", Args: []bot.Arg{bot.ArgEnv, bot.ArgCountOpt}, Run: nop},
		bot.Command{Name: "reset", Args: []bot.Arg{bot.ArgEnv}, Run: nop},
		bot.Command{Name: "remove", Args: []bot.Arg{bot.ArgTicket, bot.ArgEnv}, Run: nop},
		bot.Command{Name: "hold", Args: []bot.Arg{bot.ArgEnv, bot.ArgReason}, Run: nop},
		bot.Command{Name: "unhold", Args: []bot.Arg{bot.ArgEnv}, Run: nop},
		bot.Command{Name: "cancel", Args: []bot.Arg{bot.ArgTicket, bot.ArgEnv}, Run: nop},
		bot.Command{Name: "help", Run: nop},
	)
}

func TestParse(t *testing.T) {
	tab := grammar()
	for _, tc := range []struct {
		text string
		cmd  string
		args bot.Args
	}{
		{"JIRA-123 dev", "release", bot.Args{Ticket: "JIRA-123", Env: "dev"}},
		{"jira-123 to Dev", "release", bot.Args{Ticket: "JIRA-123", Env: "dev"}},
		{"  JIRA-123   on   STG ", "release", bot.Args{Ticket: "JIRA-123", Env: "stg"}},
		{"dev JIRA-123", "release", bot.Args{Ticket: "JIRA-123", Env: "dev"}},
		{"JIRA\u2011123 dev", "release", bot.Args{Ticket: "JIRA-123", Env: "dev"}}, // non-breaking hyphen
		{"`JIRA-123` dev", "release", bot.Args{Ticket: "JIRA-123", Env: "dev"}},
		{"<https://acme.atlassian.net/browse/JIRA-123|JIRA-123> dev", "release", bot.Args{Ticket: "JIRA-123", Env: "dev"}},
		{"https://acme.atlassian.net/browse/JIRA-123 dev", "release", bot.Args{Ticket: "JIRA-123", Env: "dev"}},
		{"release JIRA-1 prod", "release", bot.Args{Ticket: "JIRA-1", Env: "prod"}},
		{`JIRA-1 prod --override-soak "payments are down"`, "release", bot.Args{Ticket: "JIRA-1", Env: "prod", OverrideSoak: "payments are down"}},
		{"JIRA-1 prod —override-soak outage", "release", bot.Args{Ticket: "JIRA-1", Env: "prod", OverrideSoak: "outage"}}, // Slack's em dash
		{"status", "status", bot.Args{}},
		{"Status Dev", "status", bot.Args{Env: "dev"}},
		{"history dev", "history", bot.Args{Env: "dev"}},
		{"history dev 20", "history", bot.Args{Env: "dev", N: 20}},
		{"hold dev testing payments until 3pm", "hold", bot.Args{Env: "dev", Reason: "testing payments until 3pm"}},
		{"hold dev", "hold", bot.Args{Env: "dev"}},
		{"unhold dev", "unhold", bot.Args{Env: "dev"}},
		{"reset dev", "reset", bot.Args{Env: "dev"}},
		{"remove OPS-7 from dev", "remove", bot.Args{Ticket: "OPS-7", Env: "dev"}},
		{"cancel ops-7 dev", "cancel", bot.Args{Ticket: "OPS-7", Env: "dev"}},
		{"help", "help", bot.Args{}},
		{"", "help", bot.Args{}},
		{"--help", "help", bot.Args{}},
	} {
		p := bot.Parse(tab, tc.text, envs)
		if p.Err != nil {
			t.Errorf("Parse(%q): %v", tc.text, p.Err)
			continue
		}
		if p.Command != tc.cmd || p.Args != tc.args {
			t.Errorf("Parse(%q) = %s %+v, want %s %+v", tc.text, p.Command, p.Args, tc.cmd, tc.args)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tab := grammar()
	for _, tc := range []struct{ text, want string }{
		{"JIRA-123", "an env is missing (known: dev, stg, prod)"},
		{"JIRA-123 qa", `there is no env "qa" (known: dev, stg, prod)`},
		{"JIRA-123 dve", "did you mean dev?"},
		{"JIRA-123 prdo", "did you mean prod?"},
		{"stauts", "did you mean `/release status [ENV]`?"},
		{"histroy dev", "did you mean `/release history ENV [N]`?"},
		{"JIRA-0123 dev", "not a ticket key"},
		{"JIRA-123 dev now", `too many words: "now"`},
		{"history dev 1000", "give a number from 1 to 100"},
		{"JIRA-1 prod --override-soak", "--override-soak needs a reason"},
		{"JIRA-1 prod override-soak now", `too many words: "override-soak now"`},
		{"JІRA-123 dev", "U+0406"},
		{"JIRA-123 dеv", "U+0435"},
		{"<@U0BEN> dev", "mentions"},
		{"@ben dev", "mentions"},
		{"<!here> JIRA-1 dev", "mentions"},
		{"https://example.com/x dev", "links are not arguments"},
		{"--force dev", "neither a ticket key nor a command"},
		{strings.Repeat("x", 10*1024), "10240 characters"},
		{"JIRA-1 ../dev", "not an env name"},
	} {
		p := bot.Parse(tab, tc.text, envs)
		if p.Err == nil {
			t.Errorf("Parse(%q) = %s %+v, want an error with %q", truncate(tc.text), p.Command, p.Args, tc.want)
			continue
		}
		if workflow.KindOf(p.Err) != workflow.Invalid {
			t.Errorf("Parse(%q): kind %v, want invalid", truncate(tc.text), workflow.KindOf(p.Err))
		}
		if msg := workflow.UserMessage(p.Err); !strings.Contains(msg, tc.want) {
			t.Errorf("Parse(%q): %q, want it to contain %q", truncate(tc.text), msg, tc.want)
		}
	}
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func TestTableDuplicatePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("registering status twice did not panic")
		}
	}()
	bot.NewTable("status",
		bot.Command{Name: "status", Run: nop},
		bot.Command{Name: "status", Run: nop},
	)
}

func TestHelpComesFromTheTable(t *testing.T) {
	tab := grammar()
	help := tab.Help()
	for _, c := range tab.Commands() {
		if !strings.Contains(help, c.Usage(c.Name == "release")) {
			t.Errorf("help lacks %q:\n%s", c.Usage(c.Name == "release"), help)
		}
	}
	if diff := cmp.Diff("/release TICKET ENV [--override-soak reason]", tab.UsageOf("release")); diff != "" {
		t.Error(diff)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"JIRA-1 dev", "jira-123 to Dev", "status", "history dev 5", "hold dev x y z", "<@U1> dev",
		"<https://a/browse/X-1|X-1> dev", "JІRA-1 dev", "", "stauts", "\u2014\u200b", "remove A-1 from prod"} {
		f.Add(s)
	}
	tab := grammar()
	f.Fuzz(func(t *testing.T, text string) {
		p := bot.Parse(tab, text, envs)
		if (p.Err == nil) == (p.Command == "") {
			t.Fatalf("Parse(%q) = %+v: want exactly one of a command and an error", text, p)
		}
		if p.Err != nil {
			if msg := workflow.UserMessage(p.Err); msg == "" || !utf8.ValidString(msg) && utf8.ValidString(text) {
				t.Fatalf("Parse(%q): unhelpful error %v", text, p.Err)
			}
			return
		}
		if p.Args.Ticket != "" && !workflow.TicketKey(p.Args.Ticket).Valid() {
			t.Fatalf("Parse(%q): invalid ticket %q", text, p.Args.Ticket)
		}
		if p.Args.Env != "" && workflow.ValidateEnvName(p.Args.Env) != nil {
			t.Fatalf("Parse(%q): invalid env %q", text, p.Args.Env)
		}
		c, _ := tab.Lookup(p.Command)
		for _, a := range c.Args {
			if a == bot.ArgTicket && p.Args.Ticket == "" || a == bot.ArgEnv && p.Args.Env == "" {
				t.Fatalf("Parse(%q) = %+v: a required argument is missing", text, p)
			}
		}
	})
}
