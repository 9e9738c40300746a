package workflow_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
)

// recorder is a fake TicketRecorder.
type recorder struct {
	mu    sync.Mutex
	notes []workflow.TicketNote
	done  string
	err   error
}

func (r *recorder) Record(_ context.Context, n workflow.TicketNote) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, n)
	return r.done, r.err
}

func ticketSteps(n *workflowtest.Notifier) []string {
	var out []string
	for _, note := range n.Notes("progress") {
		if note.Step.Name == workflow.StepTicket {
			out = append(out, note.Step.Detail)
		}
	}
	return out
}

func TestRecordTickets(t *testing.T) {
	rec := &recorder{done: "commented"}
	w := newWorld(t, func(_ *workflow.Config, d *workflow.Deps) {
		d.Notifier = workflow.RecordTickets(nil, d.Notifier, rec, 0)
	})
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"a.yml": "one\n"})
	w.repo.Commit("OPS-2", "OPS-2", map[string]string{"a.yml": "two\n"})
	r := w.mustRelease(t, "OPS-1", "dev", ana)
	if len(rec.notes) != 1 || rec.notes[0].SHA != r.DeployedSHA || rec.notes[0].Failure != "" || rec.notes[0].Env.Branch != "release/dev" ||
		rec.notes[0].Ticket.Summary != "Change 1" || rec.notes[0].Deploy.Status != workflow.DeploySucceeded {
		t.Errorf("notes = %+v", rec.notes)
	}
	// A conflict pushed nothing: nothing to write back.
	if _, err := w.release(t, "OPS-2", "dev", ana); workflow.KindOf(err) != workflow.Conflict {
		t.Fatalf("err = %v", err)
	}
	if len(rec.notes) != 1 {
		t.Errorf("a conflict was written back: %+v", rec.notes[1:])
	}
	// A failed deploy after the push is written back, and a write-back
	// failure is reported without changing the outcome.
	rec.done, rec.err = "linked dev", workflow.Errorf("jira.comment", workflow.Unavailable, "Jira is down")
	w.repo.Commit("OPS-3", "OPS-3", map[string]string{"b.yml": "three\n"})
	w.deployer.FailWith(workflow.DeployFailed, nil)
	r3, err := w.release(t, "OPS-3", "dev", ana)
	if err == nil || r3.State != workflow.StateFailed {
		t.Fatalf("release = %+v, %v", r3, err)
	}
	if len(rec.notes) != 2 || rec.notes[1].Failure == "" || rec.notes[1].SHA != r3.PushedSHA {
		t.Errorf("notes = %+v", rec.notes)
	}
	want := []string{"commented", "linked dev; not written to OPS-3: Jira is down"}
	if got := ticketSteps(w.notes); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("ticket steps = %q, want %q", got, want)
	}
}

func TestRecordTicketsUnclassifiedError(t *testing.T) {
	rec := &recorder{err: errors.New("boom")}
	w := newWorld(t, func(_ *workflow.Config, d *workflow.Deps) {
		d.Notifier = workflow.RecordTickets(nil, d.Notifier, rec, 0)
	})
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"a.yml": "one\n"})
	w.mustRelease(t, "OPS-1", "dev", ana)
	if got := ticketSteps(w.notes); len(got) != 1 || got[0] != "not written to OPS-1: internal error" {
		t.Errorf("ticket steps = %q", got)
	}
}

func TestTicketPolicyRules(t *testing.T) {
	p := workflow.TicketPolicy{Projects: []string{"OPS"}, DenyStatusCategories: []string{"done"}, IssueTypes: []string{"Story", "Bug"}}
	tests := []struct {
		t    workflow.Ticket
		want string // "" allowed
	}{
		{workflow.Ticket{Key: "OPS-1", Type: "story", StatusCategory: "indeterminate"}, ""},
		{workflow.Ticket{Key: "OPS-1", Type: "Epic", StatusCategory: "new"}, "OPS-1 is of type Epic, and only these issue types are released: Story, Bug"},
		{workflow.Ticket{Key: "OPS-1", Type: "Bug", Status: "Won't Do", StatusCategory: "done"}, "OPS-1 is Won't Do (status category done)"},
		{workflow.Ticket{Key: "HR-1", Type: "Bug"}, "HR-1 is in project HR"},
		// Unverified (Jira down): only the key's rule applies.
		{workflow.Ticket{Key: "OPS-1", Unverified: "Jira is down"}, ""},
		{workflow.Ticket{Key: "HR-1", Unverified: "Jira is down"}, "HR-1 is in project HR"},
	}
	for _, tt := range tests {
		err := p.Check(tt.t)
		if tt.want == "" && err != nil || tt.want != "" && (workflow.KindOf(err) != workflow.Forbidden || !strings.Contains(workflow.UserMessage(err), tt.want)) {
			t.Errorf("Check(%+v) = %v, want %q", tt.t, err, tt.want)
		}
	}
}

// linkedLifeNotes is lifeNotes with a link to each release's thread.
type linkedLifeNotes struct{ *lifeNotes }

func (linkedLifeNotes) ReleaseLink(_ context.Context, r workflow.Release) string {
	return "https://chat.example/" + r.ID
}

// RecordTickets' decorator passes on every notice it does not handle
// itself: an env change reaches the notifier it wraps, and the wrapped
// notifier's link reaches the ticket.
func TestRecordTicketsPassesOtherNotices(t *testing.T) {
	rec := &recorder{done: "commented"}
	n := &lifeNotes{Notifier: &workflowtest.Notifier{}}
	w := newWorld(t, func(_ *workflow.Config, d *workflow.Deps) {
		d.Notifier = workflow.RecordTickets(nil, linkedLifeNotes{n}, rec, 0)
	})
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"a.yml": "one\n"})
	r := w.mustRelease(t, "OPS-1", "dev", ana)
	if len(rec.notes) != 1 || rec.notes[0].Link != "https://chat.example/"+r.ID {
		t.Errorf("notes = %+v, want one linking to release %s's thread", rec.notes, r.ID)
	}
	if _, err := w.svc.Hold(t.Context(), workflow.HoldRequest{Env: "dev", By: ana, Reason: "testing"}); err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.changes) != 1 || n.changes[0].Action != workflow.ActionHeld || n.changes[0].Env.Name != "dev" {
		t.Errorf("env changes told = %+v, want dev held", n.changes)
	}
}
