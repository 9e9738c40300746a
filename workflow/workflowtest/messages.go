package workflowtest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/code-releaser/code-releaser/workflow"
)

func testMessageRefs(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	if _, ok := must2[workflow.MessageRef](t)(s.GetMessageRef(ctx, "release:none")); ok {
		t.Error("GetMessageRef of a key never put: ok, want none")
	}
	origin := workflow.MessageRef{Channel: "C1"}
	if err := s.PutMessageRef(ctx, "release:r1", origin, time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, ok := must2[workflow.MessageRef](t)(s.GetMessageRef(ctx, "release:r1")); !ok || got != origin {
		t.Errorf("GetMessageRef(release:r1) = %+v, %v; want %+v", got, ok, origin)
	}
	posted := workflow.MessageRef{Channel: "C1", TS: "1700000001.000001", Thread: "1700000001.000001", Text: "a preview <@U1>\nline 2"}
	if err := s.PutMessageRef(ctx, "release:r1", posted, time.Hour); err != nil {
		t.Fatal(err)
	}
	got, ok := must2[workflow.MessageRef](t)(s.GetMessageRef(ctx, "release:r1"))
	if diff := cmp.Diff(got, posted); !ok || diff != "" {
		t.Errorf("GetMessageRef after a second put (ok %v, -got +want):\n%s", ok, diff)
	}
	if got.ThreadTS() != posted.TS {
		t.Errorf("ThreadTS = %q, want %q", got.ThreadTS(), posted.TS)
	}
	if _, ok := must2[workflow.MessageRef](t)(s.GetMessageRef(ctx, "approval:r1")); ok {
		t.Error("another key sees release:r1's ref")
	}
	for _, bad := range []struct {
		key string
		ttl time.Duration
	}{{"", time.Hour}, {"k", 0}} {
		if err := s.PutMessageRef(ctx, bad.key, posted, bad.ttl); workflow.KindOf(err) != workflow.Invalid {
			t.Errorf("PutMessageRef(%q, ttl %v) = %v, want Invalid", bad.key, bad.ttl, err)
		}
	}

	// Refs expire: present right after the put, gone within a bound.
	if err := s.PutMessageRef(ctx, "short", posted, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, ok := must2[workflow.MessageRef](t)(s.GetMessageRef(ctx, "short")); !ok {
		t.Error("a ref is gone right after its put")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, ok := must2[workflow.MessageRef](t)(s.GetMessageRef(ctx, "short"))
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a ref with a 300ms TTL is still there after 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, ok := must2[workflow.MessageRef](t)(s.GetMessageRef(ctx, "release:r1")); !ok {
		t.Error("release:r1 expired with another key")
	}
}
