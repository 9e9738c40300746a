package workflowtest_test

import (
	"errors"
	"testing"

	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
	"github.com/google/go-cmp/cmp"
)

func TestRepoModel(t *testing.T) {
	ctx := t.Context()
	r := workflowtest.NewRepo()
	master := r.Head("master")
	a := r.Commit("feature/OPS-1-vpc", "OPS-1", map[string]string{"vpc.yml": "a\n", "README.md": ""})
	b := r.Commit("OPS-2", "OPS-2", map[string]string{"vpc.yml": "b\n"})
	r.Commit("OPS-12", "OPS-12", map[string]string{"x.yml": "x\n"})

	br, err := r.ResolveTicket(ctx, "OPS-1")
	if err != nil || br.Name != "feature/OPS-1-vpc" || br.SHA != a {
		t.Errorf("ResolveTicket(OPS-1) = %+v, %v; want the feature branch (not OPS-12)", br, err)
	}
	if _, err := r.ResolveTicket(ctx, "OPS-9"); workflow.KindOf(err) != workflow.NotFound {
		t.Errorf("ResolveTicket(OPS-9): err = %v, want not found", err)
	}
	r.Branch("bugfix/OPS-1-again", "master")
	if _, err := r.ResolveTicket(ctx, "OPS-1"); workflow.KindOf(err) != workflow.Invalid {
		t.Errorf("ResolveTicket with two branches: err = %v, want invalid", err)
	}

	log, err := r.Log(ctx, master, a)
	if err != nil || len(log) != 1 || !cmp.Equal(log[0].Files, []string{"README.md", "vpc.yml"}) {
		t.Errorf("Log = %+v, %v; want one commit changing README.md and vpc.yml", log, err)
	}
	out, err := r.Merge(ctx, workflow.MergeRequest{Ours: a, Theirs: b, Message: "m"})
	if err != nil || len(out.Conflicts) != 1 || out.Conflicts[0].Path != "vpc.yml" || out.Conflicts[0].Kind != "add/add" {
		t.Errorf("Merge of two vpc.yml = %+v, %v; want an add/add conflict", out, err)
	}
	out, err = r.Merge(ctx, workflow.MergeRequest{Ours: a, Theirs: master})
	if err != nil || !out.UpToDate || out.SHA != a {
		t.Errorf("Merge of an ancestor = %+v, %v; want up to date", out, err)
	}
	if in, _ := r.IsAncestor(ctx, master, a); !in {
		t.Error("master is not an ancestor of its branch")
	}
	if err := r.Push(ctx, "release/dev", "", a); err != nil {
		t.Fatal(err)
	}
	if err := r.Push(ctx, "release/dev", "", b); !errors.Is(err, workflow.ErrRefMoved) || workflow.KindOf(err) != workflow.Busy {
		t.Errorf("Push with a stale old: err = %v, want busy ErrRefMoved", err)
	}
}
