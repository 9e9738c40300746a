package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/bot/slacktest"
	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/workflow"
)

// -update rewrites the golden files of testdata/golden from what the bot
// sends now; review the diff like code.
var update = flag.Bool("update", false, "rewrite bot/testdata/golden from the messages the bot sends now")

// t0 is the golden world's time.
var t0 = time.Date(2026, 11, 26, 11, 30, 0, 0, time.UTC)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// goldenCall is one Web API call (or response_url reply) as the golden
// files keep it: what the user sees, as Slack received it.
type goldenCall struct {
	Method   string          `json:"method"`
	Channel  string          `json:"channel,omitempty"`
	User     string          `json:"user,omitempty"` // an ephemeral's
	InThread bool            `json:"in_thread,omitempty"`
	Text     string          `json:"text"`
	Blocks   json.RawMessage `json:"blocks,omitempty"`
}

// rank orders calls so that async edits and sync thread replies compare
// the same whichever reached Slack first: top-level posts, edits, thread
// replies, ephemerals; each in the order sent.
func (c goldenCall) rank() int {
	switch {
	case c.Method == "chat.postMessage" && !c.InThread:
		return 0
	case c.Method == "chat.update":
		return 1
	case c.Method == "chat.postMessage":
		return 2
	}
	return 3
}

func calls(s *slacktest.Server) []goldenCall {
	var out []goldenCall
	for _, c := range s.Calls("") {
		switch c.Method {
		case "chat.postMessage", "chat.update", "chat.postEphemeral":
		default:
			continue
		}
		g := goldenCall{Method: c.Method, Channel: c.Param("channel"), User: c.Param("user"), InThread: c.Param("thread_ts") != "", Text: c.Param("text")}
		if b := c.Param("blocks"); b != "" {
			g.Blocks = json.RawMessage(b)
		}
		out = append(out, g)
	}
	slices.SortStableFunc(out, func(a, b goldenCall) int { return a.rank() - b.rank() })
	return out
}

// checkGolden compares got with testdata/golden/NAME.json, or writes it
// with -update.
func checkGolden(t *testing.T, name string, got []goldenCall) {
	t.Helper()
	// Blocks as Slack received them, with <, > and & unescaped for
	// reading (slack-go escapes them; JSON means the same either way).
	for i, c := range got {
		if len(c.Blocks) == 0 {
			continue
		}
		var v any
		if err := json.Unmarshal(c.Blocks, &v); err != nil {
			t.Fatalf("%s: blocks of call %d: %v", name, i, err)
		}
		var b bytes.Buffer
		e := json.NewEncoder(&b)
		e.SetEscapeHTML(false)
		if err := e.Encode(v); err != nil {
			t.Fatal(err)
		}
		got[i].Blocks = bytes.TrimSpace(b.Bytes())
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(got); err != nil {
		t.Fatal(err)
	}
	// Indent the blocks too, so that a wording change is a one-line diff.
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, buf.Bytes(), "", "  "); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./bot -run TestGolden -update to write it)", err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("%s differs from what the bot sends now (review, then -update):\n--- got\n%s\n--- want\n%s", path, pretty.Bytes(), want)
	}
}

// goldenNotifier is a Notifier on a fresh local Slack, with an edit
// interval short enough that Flush writes every edit.
func goldenNotifier(t *testing.T, cfg NotifierConfig) (*Notifier, *slacktest.Server) {
	t.Helper()
	s := slacktest.NewServer()
	t.Cleanup(s.Close)
	c, err := NewClient(slog.New(slog.DiscardHandler), ClientConfig{BotToken: "xoxb-golden", AppToken: "xapp-golden", APIURL: s.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AnnounceChannel == "" {
		cfg.AnnounceChannel = slacktest.Channel
	}
	cfg.EditInterval = time.Millisecond
	return NewNotifier(slog.New(slog.DiscardHandler), c, cfg, store.NewMemory(nil)), s
}

func flushed(t *testing.T, n *Notifier) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := n.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

const (
	gAna   = "U09ANA0001"
	gBen   = "U09BEN0002"
	gCy    = "U09CY00003"
	gGroup = "S09PRODAPP"
	gSHA   = "3fa9c2e81b7d4c0a9e5f1d2c3b4a59687f6e5d4c"
	gBase  = "0badf00d1234567890abcdef1234567890abcdef"
)

func steps(names ...string) []workflow.Step {
	var out []workflow.Step
	for i, n := range names {
		name, detail, _ := strings.Cut(n, "=")
		out = append(out, workflow.Step{Name: name, Detail: detail, At: t0.Add(time.Duration(i) * time.Second)})
	}
	return out
}

func goldenRelease(env string, state workflow.ReleaseState, st []workflow.Step) workflow.Release {
	return workflow.Release{ID: "sl-1a2b3c4d5e6f70819203", Ticket: "OPS-7", Env: env, By: gAna, RequestedAt: t0, State: state, Steps: st,
		PushedSHA: gSHA, DeployedSHA: gSHA, Branch: "feature/OPS-7-vpc"}
}

var nonProdSteps = []string{"validated=OPS-7 Widen the VPC", "leased=fence 3, attempt 1, worker bot-1", "fetched", "resolved=feature/OPS-7-vpc@3fa9c2e",
	"checked=no release merges in the 2 commits not in master", "synced=master into release/dev", "merged=feature/OPS-7-vpc into release/dev",
	"pushed=release/dev at 3fa9c2e", "occupied=OPS-7, OPS-2", "deploying=3fa9c2e to dev", "stack dev-network=UPDATE_COMPLETE",
	"deployed=succeeded: 1 stack updated"}

// TestGolden renders every kind of message the bot sends and compares
// each with its golden file (Block Kit JSON and fallback text).
func TestGolden(t *testing.T) {
	ctx := context.Background()
	dev := workflow.Env{Name: "dev", Branch: "release/dev"}
	others := []workflow.Occupant{{Ticket: "OPS-2", By: gBen, At: t0.Add(-3 * time.Hour)}, {Ticket: "OPS-4", By: gCy, At: t0.Add(-26 * time.Hour)}}
	conflict := workflow.ConflictReport{Stage: workflow.ConflictTicket, Ticket: "OPS-7", Env: "dev", Ours: "release/dev", Theirs: "feature/OPS-7-vpc",
		Files: []workflow.FileConflict{{Path: "stacks/network.yml", Kind: "content", Hunks: []workflow.ConflictHunk{
			{OursStart: 12, OursLines: 1, TheirsStart: 12, TheirsLines: 2, Ours: []string{"CidrBlock: 10.0.0.0/16"}, Theirs: []string{"CidrBlock: 10.0.0.0/15", "# wider"}},
			{OursStart: 30, OursLines: 0, TheirsStart: 31, TheirsLines: 1, Theirs: []string{"Tags: []"}}}},
			{Path: "params/dev.json", Kind: "modify/delete"}},
		Culprits: []workflow.Culprit{{Occupant: workflow.Occupant{Ticket: "OPS-2", By: gAna, At: t0.Add(-3 * time.Hour)}, Files: []string{"stacks/network.yml"},
			Commits: []workflow.Commit{{SHA: gBase, Subject: "OPS-2: narrow the VPC"}}}},
		Hint: "ask " + gAna + " whether OPS-2 can leave dev, or rebase OPS-7 on it"}
	cases := []struct {
		name string
		cfg  NotifierConfig
		run  func(n *Notifier) error
	}{
		{"queued_behind_release", NotifierConfig{}, func(n *Notifier) error {
			return n.Queued(ctx, goldenRelease("dev", workflow.StateQueued, steps("validated=OPS-7 Widen the VPC", "queued=position 2")),
				workflow.Waiting{Position: 2, Holder: &workflow.Lease{ReleaseID: "sl-other", Ticket: "OPS-2", By: gBen}})
		}},
		{"queued_held", NotifierConfig{}, func(n *Notifier) error {
			return n.Queued(ctx, goldenRelease("dev", workflow.StateQueued, steps("validated=OPS-7 Widen the VPC", "queued=position 1, dev held by "+gBen)),
				workflow.Waiting{Position: 1, Hold: &workflow.Hold{Env: "dev", By: gBen, Reason: "testing payments <until 3pm>"}})
		}},
		{"started", NotifierConfig{}, func(n *Notifier) error {
			return n.Started(ctx, goldenRelease("dev", workflow.StateRunning, steps(nonProdSteps[:2]...)))
		}},
		{"progress", NotifierConfig{}, func(n *Notifier) error {
			r := goldenRelease("dev", workflow.StateRunning, steps(nonProdSteps[:2]...))
			if err := n.Started(ctx, r); err != nil {
				return err
			}
			r.Steps = steps(nonProdSteps[:10]...)
			return n.Progress(ctx, r, r.Steps[9])
		}},
		{"progress_awaiting_approval", NotifierConfig{}, func(n *Notifier) error {
			r := goldenRelease("prod", workflow.StateRunning, steps("validated=OPS-7 Widen the VPC", "leased=fence 9"))
			if err := n.Started(ctx, r); err != nil {
				return err
			}
			r.Steps = steps("validated=OPS-7 Widen the VPC", "leased=fence 9", "resolved=feature/OPS-7-vpc@3fa9c2e", "checked=OPS-7 is in master",
				"approval=asked "+gGroup+" for 1 approval, request r1, expires 2026-11-26 15:30:00")
			return n.Progress(ctx, r, r.Steps[4])
		}},
		{"released", NotifierConfig{}, func(n *Notifier) error {
			r := goldenRelease("dev", workflow.StateReleased, steps(nonProdSteps...))
			if err := n.Started(ctx, r); err != nil {
				return err
			}
			return n.Released(ctx, workflow.Announcement{Release: r, Env: dev, Ticket: workflow.Ticket{Key: "OPS-7", Summary: "Widen the VPC"},
				Others: others, Graduated: []workflow.Occupant{{Ticket: "OPS-1", By: gCy}},
				Deploy: workflow.DeployResult{SHA: gSHA, Status: workflow.DeploySucceeded, Summary: "1 stack updated",
					Stacks: []workflow.StackResult{{Name: "dev-network", Status: "UPDATE_COMPLETE"}}}})
		}},
		{"released_alone_deploy_skipped", NotifierConfig{}, func(n *Notifier) error {
			r := goldenRelease("dev", workflow.StateReleased, steps(nonProdSteps[:9]...))
			d, _ := workflow.SkipDeployer{}.Deploy(ctx, dev, gSHA, nil)
			return n.Released(ctx, workflow.Announcement{Release: r, Env: dev, Ticket: workflow.Ticket{Key: "OPS-7", Unverified: "Jira did not answer"}, Deploy: d})
		}},
		{"released_prod", NotifierConfig{}, func(n *Notifier) error {
			r := goldenRelease("prod", workflow.StateReleased, steps("validated=OPS-7 Widen the VPC", "leased=fence 9", "resolved=feature/OPS-7-vpc@3fa9c2e",
				"checked=OPS-7 is in master", "approval=asked "+gGroup+", "+gBen+" for 1 approval, request r1, expires 2026-11-26 15:30:00",
				"approval=approved by "+gBen, "deploying=3fa9c2e to prod", "deployed=succeeded: 2 stacks updated"))
			return n.Released(ctx, workflow.Announcement{Release: r, Env: workflow.Env{Name: "prod", Branch: "master", Production: true},
				Ticket: workflow.Ticket{Key: "OPS-7", Summary: "Widen the VPC"}, Deploy: workflow.DeployResult{SHA: gSHA, Status: workflow.DeploySucceeded, Summary: "2 stacks updated"}})
		}},
		{"failed_prod_offers_rollback", NotifierConfig{}, func(n *Notifier) error {
			r := goldenRelease("prod", workflow.StateFailed, steps("validated=OPS-7 Widen the VPC", "leased=fence 9", "resolved=feature/OPS-7-vpc@3fa9c2e",
				"checked=OPS-7 is in master", "approval=approved by "+gBen, "deploying=3fa9c2e to prod", "verification failed=health: 502"))
			r.PushedSHA, r.DeployedSHA, r.MergedSHA = "", "", gSHA
			return n.Failed(ctx, r, workflow.Errorf("deploy", workflow.Invalid, "the deploy of 3fa9c2e to prod failed: verification health failed"))
		}},
		{"released_prod_rollback", NotifierConfig{}, func(n *Notifier) error {
			r := goldenRelease("prod", workflow.StateReleased, steps("validated=OPS-7 rollback of release sl-0f", "rollback of=sl-0f "+gBase, "leased=fence 10",
				"checked=0badf00 is in master and was deployed to prod before release sl-0f", "approval=approved by "+gBen, "deploying=0badf00 to prod", "deployed=succeeded: 2 stacks updated"))
			r.PushedSHA, r.DeployedSHA, r.MergedSHA = "", gBase, gBase
			return n.Released(ctx, workflow.Announcement{Release: r, Env: workflow.Env{Name: "prod", Branch: "master", Production: true}, RollbackOf: "sl-0f",
				Ticket: workflow.Ticket{Key: "OPS-7", Summary: "rollback of release sl-0f"}, Deploy: workflow.DeployResult{SHA: gBase, Status: workflow.DeploySucceeded, Summary: "2 stacks updated"}})
		}},
		{"progress_after_outcome", NotifierConfig{}, func(n *Notifier) error {
			r := goldenRelease("dev", workflow.StateReleased, steps(nonProdSteps...))
			if err := n.Started(ctx, r); err != nil {
				return err
			}
			return n.Progress(ctx, r, workflow.Step{Name: workflow.StepTicket, Detail: "commented on OPS-7 and linked release/dev", At: t0})
		}},
		{"conflict", NotifierConfig{}, func(n *Notifier) error {
			r := goldenRelease("dev", workflow.StateConflict, steps(nonProdSteps[:6]...))
			r.By = gBen
			if err := n.Started(ctx, r); err != nil {
				return err
			}
			return n.Conflict(ctx, r, conflict)
		}},
		{"conflict_requester_not_in_channel", NotifierConfig{}, func(n *Notifier) error {
			r := goldenRelease("dev", workflow.StateConflict, steps(nonProdSteps[:6]...))
			r.By = gBen
			if err := n.Started(ctx, r); err != nil {
				return err
			}
			return n.Conflict(ctx, r, conflict)
		}},
		{"failed", NotifierConfig{}, func(n *Notifier) error {
			r := goldenRelease("dev", workflow.StateFailed, steps(nonProdSteps[:10]...))
			if err := n.Started(ctx, r); err != nil {
				return err
			}
			return n.Failed(ctx, r, workflow.Errorf("deploy", workflow.Invalid, "the deploy of 3fa9c2e to dev failed: dev-network UPDATE_ROLLBACK_COMPLETE"))
		}},
		{"failed_internal", NotifierConfig{}, func(n *Notifier) error {
			r := goldenRelease("dev", workflow.StateFailed, steps(nonProdSteps[:3]...))
			r.PushedSHA, r.DeployedSHA = "", ""
			return n.Failed(ctx, r, errors.New("boom: token xoxb-secret leaked into an error"))
		}},
		{"your_turn", NotifierConfig{}, func(n *Notifier) error {
			r := goldenRelease("dev", workflow.StateRunning, steps(nonProdSteps[:2]...))
			if err := n.Started(ctx, r); err != nil {
				return err
			}
			return n.YourTurn(ctx, r)
		}},
		{"env_changed_reset", NotifierConfig{}, func(n *Notifier) error {
			return n.EnvChanged(ctx, workflow.EnvChange{Action: workflow.ActionReset, Env: dev, By: workflow.User{ID: gBen}, SHA: gBase,
				Left: []workflow.Occupant{{Ticket: "OPS-2", By: gAna}, {Ticket: "OPS-4", By: gCy}, {Ticket: "OPS-5", By: gAna}}})
		}},
		{"env_changed_removed", NotifierConfig{}, func(n *Notifier) error {
			return n.EnvChanged(ctx, workflow.EnvChange{Action: workflow.ActionRemoved, Env: dev, By: workflow.User{ID: gBen}, Ticket: "OPS-2", SHA: gBase,
				Left: []workflow.Occupant{{Ticket: "OPS-2", By: gAna}}, Stayed: []workflow.Occupant{{Ticket: "OPS-4", By: gCy}},
				Deploy: workflow.DeployResult{Status: workflow.DeploySucceeded, Summary: "2 stacks updated"}})
		}},
		{"env_changed_expired", NotifierConfig{}, func(n *Notifier) error {
			return n.EnvChanged(ctx, workflow.EnvChange{Action: workflow.ActionRemoved, Env: dev, By: workflow.User{ID: "code-releaser"}, Ticket: "OPS-2", SHA: gBase,
				Left: []workflow.Occupant{{Ticket: "OPS-2", By: gAna}}, Stayed: []workflow.Occupant{{Ticket: "OPS-4", By: gCy}},
				Reason: "expired: in dev for 7d (expire_after 7d)", Deploy: workflow.DeployResult{Status: workflow.DeploySucceeded, Summary: "2 stacks updated"}})
		}},
		{"env_changed_rolled_back", NotifierConfig{}, func(n *Notifier) error {
			return n.EnvChanged(ctx, workflow.EnvChange{Action: workflow.ActionRolledBack, Env: dev, By: workflow.User{ID: gAna}, Ticket: "OPS-7", SHA: gSHA, To: gBase,
				Undone: "sl-1a2b3c4d5e6f70819203", Left: []workflow.Occupant{{Ticket: "OPS-7", By: gAna}}, Stayed: []workflow.Occupant{{Ticket: "OPS-2", By: gBen}},
				Reason: "verification health failed: GET https://dev.example.com/health: want 200, answered 502 Bad Gateway after 3 tries",
				Deploy: workflow.DeployResult{Status: workflow.DeploySucceeded, Summary: "1 stack updated"}})
		}},
		{"env_changed_handoff", NotifierConfig{}, func(n *Notifier) error {
			return n.EnvChanged(ctx, workflow.EnvChange{Action: workflow.ActionRemoved, Env: dev, By: workflow.User{ID: gAna}, Ticket: "OPS-2", SHA: gBase,
				Left: []workflow.Occupant{{Ticket: "OPS-2", By: gAna}}, AskedBy: gBen, Deploy: workflow.DeployResult{Status: workflow.DeploySucceeded, Summary: "2 stacks updated"}})
		}},
		{"reminder", NotifierConfig{}, func(n *Notifier) error {
			return n.Remind(ctx, workflow.Reminder{Env: dev, Occupant: workflow.Occupant{Ticket: "OPS-2", By: gAna, At: t0.Add(-72 * time.Hour), ReleaseID: "sl-r2"},
				Tenancy: workflow.Tenancy{Expires: t0.Add(96 * time.Hour), Extensions: 1, Max: 2}, Age: 72 * time.Hour, ExtendBy: 72 * time.Hour})
		}},
		{"reminder_no_keeps_left", NotifierConfig{}, func(n *Notifier) error {
			return n.Remind(ctx, workflow.Reminder{Env: dev, Occupant: workflow.Occupant{Ticket: "OPS-2", By: gAna, At: t0.Add(-10 * 24 * time.Hour), ReleaseID: "sl-r2"},
				Tenancy: workflow.Tenancy{Expires: t0.Add(24 * time.Hour), Extensions: 2, Max: 2}, Age: 10 * 24 * time.Hour, ExtendBy: 72 * time.Hour})
		}},
		{"occupancy_expiry_failed", NotifierConfig{}, func(n *Notifier) error {
			return n.OccupancyNotice(ctx, workflow.OccupancyNotice{Kind: workflow.NoticeExpiryFailed, Env: dev, Occupant: workflow.Occupant{Ticket: "OPS-2", By: gAna},
				Others: []workflow.Occupant{{Ticket: "OPS-4", By: gCy}}, Error: "OPS-4 no longer merges with master: stacks/network.yml"})
		}},
		{"occupancy_expiry_held", NotifierConfig{}, func(n *Notifier) error {
			return n.OccupancyNotice(ctx, workflow.OccupancyNotice{Kind: workflow.NoticeExpiryHeld, Env: dev, Occupant: workflow.Occupant{Ticket: "OPS-2", By: gAna},
				Hold: &workflow.Hold{Env: "dev", By: gBen, Reason: "testing payments"}})
		}},
		{"occupancy_extend_refused", NotifierConfig{}, func(n *Notifier) error {
			return n.OccupancyNotice(ctx, workflow.OccupancyNotice{Kind: workflow.NoticeExtendRefused, Env: dev, Occupant: workflow.Occupant{Ticket: "OPS-2", By: gAna},
				Tenancy: workflow.Tenancy{Expires: t0.Add(24 * time.Hour), Extensions: 2, Max: 2}, By: workflow.User{ID: gBen}})
		}},
		{"approval_requested_soak_overridden", NotifierConfig{ApprovalsChannel: "C0APPROVE"}, func(n *Notifier) error {
			return n.ApprovalRequested(ctx, goldenApproval(workflow.ApprovalPending), workflow.Preview{Env: "prod", SHA: gSHA, Base: gBase,
				Commits: []workflow.Commit{{SHA: gSHA, Subject: "Merge OPS-7: widen the VPC"}, {SHA: gBase, Subject: "Merge OPS-2: narrow the VPC"}},
				Tickets: []workflow.TicketKey{"OPS-7", "OPS-2"},
				Soak: &workflow.SoakReport{Env: "stg", Need: 2 * time.Hour, At: t0, Tickets: []workflow.TicketSoak{
					{Ticket: "OPS-7", Since: t0.Add(-40 * time.Minute)}, {Ticket: "OPS-2", Since: t0.Add(-50 * time.Hour), AtLeast: true}},
					Override: "overridden by " + gBen + ": hotfix for the outage", OverrideBy: gBen, OverrideReason: "hotfix for the outage <INC-42>"}})
		}},
		{"approval_requested_rollback", NotifierConfig{ApprovalsChannel: "C0APPROVE"}, func(n *Notifier) error {
			a := goldenApproval(workflow.ApprovalPending)
			a.SHA = gBase
			return n.ApprovalRequested(ctx, a, workflow.Preview{Env: "prod", SHA: gBase, Base: gSHA, RollbackOf: "sl-0f",
				Leaving: []workflow.Commit{{SHA: gSHA, Subject: "Merge OPS-7: widen the VPC"}}, LeavingTickets: []workflow.TicketKey{"OPS-7"}})
		}},
		{"approval_requested_first_prod_deploy", NotifierConfig{ApprovalsChannel: "C0APPROVE"}, func(n *Notifier) error {
			return n.ApprovalRequested(ctx, goldenApproval(workflow.ApprovalPending), workflow.Preview{Env: "prod", SHA: gSHA,
				Commits: []workflow.Commit{{SHA: gSHA, Subject: "Merge OPS-7: widen the VPC"}, {SHA: gBase, Subject: "OPS-2: narrow <the> VPC"}, {SHA: gBase, Subject: "initial"}},
				Tickets: []workflow.TicketKey{"OPS-7", "OPS-2"}})
		}},
		{"approval_requested_with_plan", NotifierConfig{ApprovalsChannel: "C0APPROVE"}, func(n *Notifier) error {
			a := goldenApproval(workflow.ApprovalPending)
			a.Required = 2
			return n.ApprovalRequested(ctx, a, workflow.Preview{Env: "prod", SHA: gSHA, Base: gBase,
				Commits: []workflow.Commit{{SHA: gSHA, Subject: "Merge OPS-7: widen the VPC"}}, Tickets: []workflow.TicketKey{"OPS-7"},
				Plan: &workflow.DeployPlan{Summary: "1 stack to update", Stacks: []workflow.PlannedStack{{Name: "prod-network", Action: workflow.PlanUpdate, Changes: 1}},
					Changes: []workflow.PlannedChange{{Stack: "prod-network", Resource: "Vpc", Type: "AWS::EC2::VPC", Action: "Modify", Replacement: true}}}})
		}},
	}
	for _, state := range []workflow.ApprovalState{workflow.ApprovalPending, workflow.ApprovalApproved, workflow.ApprovalRejected,
		workflow.ApprovalVoided, workflow.ApprovalExpired, workflow.ApprovalLapsed} {
		cases = append(cases, struct {
			name string
			cfg  NotifierConfig
			run  func(n *Notifier) error
		}{"approval_" + string(state), NotifierConfig{ApprovalsChannel: "C0APPROVE"}, func(n *Notifier) error {
			if err := n.ApprovalRequested(ctx, goldenApproval(workflow.ApprovalPending), workflow.Preview{Env: "prod", SHA: gSHA, Base: gBase}); err != nil {
				return err
			}
			return n.ApprovalChanged(ctx, goldenApproval(state))
		}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n, s := goldenNotifier(t, tc.cfg)
			if tc.name == "conflict_requester_not_in_channel" {
				s.Fail("chat.postEphemeral", "user_not_in_channel")
			}
			if err := tc.run(n); err != nil {
				t.Fatal(err)
			}
			flushed(t, n)
			checkGolden(t, tc.name, calls(s))
		})
	}
}

func goldenApproval(state workflow.ApprovalState) workflow.ApprovalRequest {
	a := workflow.ApprovalRequest{ID: "sl-1a2b3c4d5e6f70819203-3fa9c2e-0c0ffee0", ReleaseID: "sl-1a2b3c4d5e6f70819203", Env: "prod", Ticket: "OPS-7", By: gAna,
		SHA: gSHA, Required: 1, Approvers: []string{gGroup, gBen}, State: state, Created: t0, Expires: t0.Add(4 * time.Hour)}
	switch state {
	case workflow.ApprovalPending:
		a.Votes = nil
	case workflow.ApprovalApproved:
		a.Votes = []workflow.Vote{{User: gBen, Approve: true, At: t0}}
		a.Reason = "approved by " + gBen
	case workflow.ApprovalRejected:
		a.Votes = []workflow.Vote{{User: gCy, Approve: false, At: t0}}
		a.Reason = "rejected by " + gCy
	case workflow.ApprovalVoided:
		a.Reason = "master moved from 3fa9c2e to 0badf00 after the request: approvals bind to the exact commit"
	case workflow.ApprovalExpired:
		a.Reason = "it expired after 4h0m0s with 0 of 1 approvals"
	case workflow.ApprovalLapsed:
		a.Reason = "the bot stopped while it waited for the votes, and without shared state no other replica can count them"
	}
	return a
}

// goldenService is the workflow as the golden replies need it: the envs,
// and fixed answers to Submit, History and the lifecycle commands.
type goldenService struct {
	envs   []workflow.Env
	board  []workflow.EnvStatus
	submit func() (workflow.Release, int, error)
}

func (g goldenService) Submit(context.Context, workflow.ReleaseRequest) (workflow.Release, int, error) {
	return g.submit()
}
func (g goldenService) Status(context.Context, ...string) ([]workflow.EnvStatus, error) {
	return g.board, nil
}
func (g goldenService) History(context.Context, string, int) ([]workflow.Event, error) {
	return []workflow.Event{
		{At: t0, Env: "dev", Action: workflow.ActionReleased, Actor: gAna, Ticket: "OPS-7", SHA: gSHA},
		{At: t0.Add(time.Minute), Env: "dev", Action: workflow.ActionHeld, Actor: gBen, Detail: "testing <payments>; replaced the hold of " + gCy + " (db migration)"},
		{At: t0.Add(2 * time.Minute), Env: "dev", Action: workflow.ActionRemoved, Actor: gBen, Ticket: "OPS-2", Detail: gBen + " removed OPS-2 of " + gAna},
	}, nil
}
func (g goldenService) Envs() []workflow.Env { return g.envs }
func (g goldenService) Diff(context.Context, string) (workflow.EnvDiff, error) {
	return workflow.EnvDiff{}, workflow.Errorf("diff", workflow.Unavailable, "not in the golden replies")
}
func (g goldenService) Drift(context.Context, string) ([]workflow.StackDrift, error) {
	return nil, workflow.Errorf("drift", workflow.Unavailable, "not in the golden replies")
}

func (g goldenService) Hold(_ context.Context, req workflow.HoldRequest) (workflow.Hold, error) {
	return workflow.Hold{Env: req.Env, By: req.By.ID, Reason: req.Reason, Until: req.Until}, nil
}
func (g goldenService) Unhold(context.Context, string, workflow.User) error { return nil }
func (g goldenService) Cancel(context.Context, string, string, workflow.User) (int, error) {
	return 2, nil
}
func (g goldenService) Reset(_ context.Context, env string, by workflow.User) (workflow.EnvChange, error) {
	return workflow.EnvChange{Action: workflow.ActionReset, SHA: gBase, Left: []workflow.Occupant{{Ticket: "OPS-2", By: gAna}, {Ticket: "OPS-4", By: gCy}}}, nil
}
func (g goldenService) Remove(_ context.Context, ticket, env string, by workflow.User) (workflow.EnvChange, error) {
	return workflow.EnvChange{Action: workflow.ActionRemoved, SHA: gBase, Stayed: []workflow.Occupant{{Ticket: "OPS-4", By: gCy}}}, nil
}
func (g goldenService) ForceRemove(ctx context.Context, ticket, env string, by workflow.User, _ string) (workflow.EnvChange, error) {
	return g.Remove(ctx, ticket, env, by)
}
func (g goldenService) Rollback(_ context.Context, req workflow.RollbackRequest) (workflow.EnvChange, error) {
	return workflow.EnvChange{Action: workflow.ActionRolledBack, Undone: req.Release, SHA: gSHA, To: gBase, Ticket: "OPS-7",
		Left: []workflow.Occupant{{Ticket: "OPS-7", By: gAna}}, Stayed: []workflow.Occupant{{Ticket: "OPS-2", By: gBen}}}, nil
}
func (g goldenService) Authorize(string, string, workflow.User) error { return nil }

func (g goldenService) Approve(context.Context, string, workflow.User) (workflow.ApprovalRequest, error) {
	a := goldenApproval(workflow.ApprovalPending)
	a.Required, a.Votes = 2, []workflow.Vote{{User: gBen, Approve: true}}
	return a, nil
}
func (g goldenService) Reject(context.Context, string, workflow.User) (workflow.ApprovalRequest, error) {
	return goldenApproval(workflow.ApprovalRejected), nil
}

// TestGoldenReplies renders the board and the refusal sentences the bot
// replies with.
func TestGoldenReplies(t *testing.T) {
	envs := []workflow.Env{{Name: "dev", Branch: "release/dev"}, {Name: "prod", Branch: "master", Production: true,
		Approvals: workflow.ApprovalPolicy{Required: 1, Approvers: []string{gGroup, gAna}}}}
	svc := goldenService{envs: envs}
	b := &Bot{d: Deps{Clock: fixedClock{t0}, Service: svc, Lifecycle: svc, Approvals: svc}}
	b.table = b.commands()
	reply := func(r Reply) []goldenCall {
		g := goldenCall{Method: "response_url", Text: r.Text}
		if r.Public {
			g.Method = "chat.postMessage"
		}
		if len(r.Blocks) > 0 {
			raw, err := json.Marshal(r.Blocks)
			if err != nil {
				t.Fatal(err)
			}
			g.Blocks = raw
		}
		return []goldenCall{g}
	}
	board := []workflow.EnvStatus{
		{Env: envs[0], Occupants: []workflow.Occupant{{Ticket: "OPS-2", By: gBen, At: t0.Add(-20 * time.Second)}, {Ticket: "OPS-4", By: gCy, At: t0.Add(-26 * time.Hour)}},
			Hold:  &workflow.Hold{Env: "dev", By: gBen, Reason: "testing payments", Until: t0.Add(2 * time.Hour)},
			Queue: []workflow.QueueEntry{{ID: "sl-q", Ticket: "OPS-7", By: gAna}}, Lease: &workflow.Lease{Ticket: "OPS-5", By: gCy},
			LastDeploy: &workflow.Deployment{By: gBen, At: t0.Add(-5 * time.Minute), Result: workflow.DeployResult{SHA: gSHA, Status: workflow.DeploySucceeded}}},
		{Env: envs[1]},
	}
	log := slog.New(slog.DiscardHandler)
	forbidden := workflow.Errorf("approval.vote", workflow.Forbidden, "sorry, only prod's approvers may vote on its releases, and you are not one of them; your vote was not recorded")
	voteReply, err := b.voteRefused(workflow.ApprovalRequest{Env: "prod", By: gAna}, forbidden)
	if err != nil {
		t.Fatal(err)
	}
	// handle runs one handler as the command or click would.
	handle := func(h Handler, req *Request) []goldenCall {
		req.User = workflow.User{ID: gAna}
		req.Channel = slacktest.Channel
		r, err := h(context.Background(), req)
		if err != nil {
			r = b.errorReply(log, err)
		}
		return reply(r)
	}
	release := func(rec workflow.Release, pos int) []goldenCall {
		n, _ := goldenNotifier(t, NotifierConfig{})
		bb := &Bot{d: b.d}
		bb.d.Notifier = n
		bb.d.Service = goldenService{envs: envs, submit: func() (workflow.Release, int, error) { return rec, pos, nil }}
		return handle(bb.release, &Request{Trigger: "1.2.3", Team: slacktest.TeamID, Args: Args{Ticket: "OPS-7", Env: "dev"}})
	}
	queued := goldenRelease("dev", workflow.StateQueued, nil)
	// home publishes ana's App Home on a local Slack.
	home := func() []goldenCall {
		s := slacktest.NewServer()
		defer s.Close()
		c, err := NewClient(log, ClientConfig{BotToken: "xoxb-golden", AppToken: "xapp-golden", APIURL: s.URL}, nil)
		if err != nil {
			t.Fatal(err)
		}
		hb := &Bot{client: c, d: b.d}
		hb.d.Service = goldenService{envs: envs, board: board}
		if err := hb.publishHome(context.Background(), gAna); err != nil {
			t.Fatal(err)
		}
		var out []goldenCall
		for _, c := range s.Calls("views.publish") {
			out = append(out, goldenCall{Method: c.Method, User: c.Param("user_id"), Blocks: json.RawMessage(c.Param("view"))})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		got  []goldenCall
	}{
		{"home", home()},
		{"reply_release_next", release(queued, 1)},
		{"reply_release_queued", release(queued, 3)},
		{"reply_release_handled_already", release(goldenRelease("dev", workflow.StateReleased, nil), 0)},
		{"reply_hold", handle(b.hold, &Request{Args: Args{Env: "dev", Reason: "testing <payments> --until 2h"}})},
		{"reply_unhold", handle(b.unhold, &Request{Args: Args{Env: "dev"}})},
		{"reply_cancel", handle(b.cancel, &Request{Args: Args{Ticket: "OPS-7", Env: "dev"}})},
		{"reply_remove", handle(b.remove, &Request{Args: Args{Ticket: "OPS-2", Env: "dev"}})},
		{"reply_reset_asks", handle(b.reset, &Request{Args: Args{Env: "dev"}})},
		{"reply_reset_confirmed", handle(b.confirm, &Request{Action: Action{ID: ActionConfirm, Value: "reset:dev"}})},
		{"reply_reset_dismissed", handle(b.dismiss, &Request{Action: Action{ID: ActionCancel, Value: "reset:dev"}})},
		{"reply_vote_recorded", handle(b.approve, &Request{Action: Action{ID: ActionApprove, Value: "r1"}})},
		{"reply_vote_rejected", handle(b.reject, &Request{Action: Action{ID: ActionReject, Value: "r1"}})},
		{"reply_history", handle(b.history, &Request{Args: Args{Env: "dev"}})},
		{"reply_help", handle(b.help, &Request{})},
		{"reply_board", reply(Reply{Text: boardText(board), Blocks: b.boardBlocks(context.Background(), board, maxHomeBlocks)})},
		{"reply_vote_not_an_approver", reply(voteReply)},
		{"reply_refusals", func() []goldenCall {
			var out []goldenCall
			for _, err := range []error{
				workflow.Errorf("release", workflow.Forbidden, "%s may not release to stg", gCy),
				workflow.Errorf("release.queue", workflow.Busy, "dev is held by %s (testing payments)", gBen),
				workflow.Errorf("release", workflow.NotFound, "there is no ticket OPS-99"),
				workflow.Errorf("jira", workflow.Unavailable, "Jira is not answering"),
				workflow.Errorf("release", workflow.Invalid, "OPS-1 is in done"),
			} {
				out = append(out, reply(Reply{Text: userText(log, err)})...)
			}
			return out
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) { checkGolden(t, tc.name, tc.got) })
	}
}
