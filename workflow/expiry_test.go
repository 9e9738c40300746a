package workflow_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
	"github.com/google/go-cmp/cmp"
)

// occNotes records the occupancy notifications on top of lifeNotes.
type occNotes struct {
	*lifeNotes
	mu        sync.Mutex
	reminders []workflow.Reminder
	notices   []workflow.OccupancyNotice
	comments  []string
}

func (n *occNotes) Remind(_ context.Context, r workflow.Reminder) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.reminders = append(n.reminders, r)
	return nil
}

func (n *occNotes) OccupancyNotice(_ context.Context, c workflow.OccupancyNotice) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.notices = append(n.notices, c)
	return nil
}

func (n *occNotes) Comment(_ context.Context, k workflow.TicketKey, text string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.comments = append(n.comments, string(k)+": "+text)
	return nil
}

// reminded lists the reminders as "TICKET to USER (kept N)".
func (n *occNotes) reminded() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, r := range n.reminders {
		out = append(out, string(r.Occupant.Ticket)+" to "+r.Occupant.By+" (kept "+string(rune('0'+r.Tenancy.Extensions))+")")
	}
	return out
}

func (n *occNotes) noticeKinds() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, c := range n.notices {
		out = append(out, c.Kind+" "+string(c.Occupant.Ticket))
	}
	return out
}

var devOccupancy = workflow.OccupancyPolicy{RemindAfter: 3 * 24 * time.Hour, ExpireAfter: 7 * 24 * time.Hour, MaxExtensions: 1}

// occupancyWorld: dev with remind 3d, expire 7d, one Keep of 3d; removing
// tickets from dev is for S0DEVOPS (cy) and the tickets' owners.
func occupancyWorld(t *testing.T) (*world, *occNotes, *workflowtest.Clock) {
	n := &occNotes{lifeNotes: &lifeNotes{Notifier: &workflowtest.Notifier{}}}
	clock := workflowtest.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	w := newWorld(t, func(c *workflow.Config, d *workflow.Deps) {
		c.Envs[0].Occupancy = devOccupancy
		c.Envs[0].AllowedFor = map[string][]string{workflow.ActRemove: {"S0DEVOPS"}}
		d.Notifier, d.Clock, d.Commenter = n, clock, n
		d.Store = store.NewMemory(clock)
	})
	w.store = w.deps.Store.(*store.Memory)
	return w, n, clock
}

func TestOccupancyRemindKeepExpire(t *testing.T) {
	w, n, clock := occupancyWorld(t)
	ctx := t.Context()
	t0 := clock.Now()
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"f1.yml": "1\n"})
	w.repo.Commit("OPS-2", "OPS-2", map[string]string{"f2.yml": "2\n"})
	w.mustRelease(t, "OPS-1", "dev", ana)
	w.mustRelease(t, "OPS-2", "dev", ben)
	sweep := func() {
		t.Helper()
		if err := w.svc.SweepOccupancy(ctx); err != nil {
			t.Fatalf("sweep at %s: %v", clock.Now().Sub(t0), err)
		}
	}

	clock.Advance(3*24*time.Hour - time.Minute)
	sweep()
	if got := n.reminded(); len(got) != 0 {
		t.Fatalf("reminders before remind_after: %v", got)
	}
	clock.Advance(2 * time.Minute)
	sweep()
	sweep() // a second pass (another replica, a restart) repeats nothing
	if diff := cmp.Diff(n.reminded(), []string{"OPS-1 to U1 (kept 0)", "OPS-2 to U2 (kept 0)"}); diff != "" {
		t.Fatalf("reminders at 3d (-got +want):\n%s", diff)
	}
	r := n.reminders[0]
	if !r.Tenancy.Expires.Equal(t0.Add(7*24*time.Hour)) || r.ExtendBy != 3*24*time.Hour || r.Age < 3*24*time.Hour {
		t.Errorf("reminder: %+v; want expiry at 7d, Keep of 3d, age 3d", r)
	}

	// Keep: the owner only (ben may not remove tickets from dev), once per
	// reminder, at most once in all.
	rel1 := r.Occupant.ReleaseID
	if _, err := w.svc.Keep(ctx, "dev", "OPS-1", rel1, 0, ben); workflow.KindOf(err) != workflow.Forbidden {
		t.Errorf("ben keeps ana's ticket: %v; want Forbidden", err)
	}
	tn, err := w.svc.Keep(ctx, "dev", "OPS-1", rel1, 0, ana)
	if err != nil || !tn.Expires.Equal(t0.Add(10*24*time.Hour)) || tn.Extensions != 1 {
		t.Fatalf("ana keeps OPS-1: %+v, %v; want it until 10d, 1 Keep", tn, err)
	}
	if _, err := w.svc.Keep(ctx, "dev", "OPS-1", rel1, 0, ana); err == nil || !strings.Contains(err.Error(), "kept since this message") {
		t.Errorf("the same reminder's Keep again: %v", err)
	}
	if _, err := w.svc.Keep(ctx, "dev", "OPS-1", "r999", 1, ana); err == nil || !strings.Contains(err.Error(), "released to dev again") {
		t.Errorf("a Keep of another release: %v", err)
	}
	if _, err := w.svc.Keep(ctx, "dev", "OPS-1", rel1, 1, ana); err == nil || !strings.Contains(err.Error(), "the most dev allows") {
		t.Errorf("a second Keep with max_extensions 1: %v", err)
	}
	if diff := cmp.Diff(n.noticeKinds(), []string{"extend-refused OPS-1"}); diff != "" {
		t.Errorf("notices (-got +want):\n%s", diff)
	}
	st, err := w.svc.Status(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if got := st[0].Tenancies; !got["OPS-1"].Expires.Equal(t0.Add(10*24*time.Hour)) || !got["OPS-2"].Expires.Equal(t0.Add(7*24*time.Hour)) {
		t.Errorf("the board's expiries: %+v", got)
	}

	// At 7d dev is held: OPS-2 stays, and the channel is told once.
	if _, err := w.svc.Hold(ctx, workflow.HoldRequest{Env: "dev", By: cy, Reason: "load test"}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(4 * 24 * time.Hour)
	sweep()
	sweep()
	if got := w.occupants(t, "dev"); len(got) != 2 {
		t.Errorf("occupants of held dev after 7d: %v", got)
	}
	if diff := cmp.Diff(n.noticeKinds(), []string{"extend-refused OPS-1", "expiry-held OPS-2"}); diff != "" {
		t.Errorf("notices (-got +want):\n%s", diff)
	}
	// OPS-1, kept, is reminded again 4 days before its new expiry.
	if diff := cmp.Diff(n.reminded(), []string{"OPS-1 to U1 (kept 0)", "OPS-2 to U2 (kept 0)", "OPS-1 to U1 (kept 1)"}); diff != "" {
		t.Errorf("reminders at 7d (-got +want):\n%s", diff)
	}

	// Unheld: the next pass takes OPS-2 out by the remove path, once.
	if err := w.svc.Unhold(ctx, "dev", cy); err != nil {
		t.Fatal(err)
	}
	sweep()
	sweep()
	if diff := cmp.Diff(w.occupants(t, "dev"), []workflow.TicketKey{"OPS-1"}); diff != "" {
		t.Errorf("occupants after OPS-2's expiry (-got +want):\n%s", diff)
	}
	files := w.repo.Files("release/dev")
	if _, ok := files["f2.yml"]; ok || files["f1.yml"] == "" {
		t.Errorf("release/dev after OPS-2's expiry: %v", files)
	}
	n.lifeNotes.mu.Lock()
	changes := n.lifeNotes.changes
	n.lifeNotes.mu.Unlock()
	var removed []workflow.EnvChange
	for _, c := range changes {
		if c.Action == workflow.ActionRemoved {
			removed = append(removed, c)
		}
	}
	if len(removed) != 1 || removed[0].Ticket != "OPS-2" || !strings.Contains(removed[0].Reason, "expired: in dev for 7d") || len(removed[0].Left) != 1 || removed[0].Left[0].By != "U2" {
		t.Errorf("announced removals: %+v; want OPS-2 of U2 once, expired", removed)
	}
	if len(n.comments) != 1 || !strings.HasPrefix(n.comments[0], "OPS-2: Code-Releaser took OPS-2 out of dev: expired") {
		t.Errorf("ticket comments: %q", n.comments)
	}
	evs, err := w.svc.History(ctx, "dev", 0)
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, e := range evs {
		if strings.HasPrefix(e.Action, "occupant.") {
			acts = append(acts, e.Action+" "+string(e.Ticket)+" by "+e.Actor)
		}
	}
	for _, want := range []string{"occupant.expired OPS-2 by code-releaser", "occupant.removed OPS-2 by code-releaser", "occupant.extended OPS-1 by U1", "occupant.reminded OPS-2 by code-releaser"} {
		if !contains(acts, want) {
			t.Errorf("history %q lacks %q", acts, want)
		}
	}

	// A ticket in master stops counting: OPS-1 merged by PR is not removed
	// at its expiry, and the board says where it is.
	w.repo.MergeBranch("master", "OPS-1", "Merge pull request #1 from OPS-1")
	clock.Advance(4 * 24 * time.Hour)
	sweep()
	if diff := cmp.Diff(w.occupants(t, "dev"), []workflow.TicketKey{"OPS-1"}); diff != "" {
		t.Errorf("occupants after OPS-1's expiry, in master (-got +want):\n%s", diff)
	}
	if st, err := w.svc.Status(ctx, "dev"); err != nil || !st[0].Tenancies["OPS-1"].InMaster {
		t.Errorf("board: %+v, %v; want OPS-1 in master", st[0].Tenancies, err)
	}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// A ticket whose removal would break another one stays, the branch is
// left as it was, and its owner, the other owners and the channel are
// told once; the ticket gets a comment.
func TestExpiryThatNoLongerMergesLeavesTheBranch(t *testing.T) {
	w, n, clock := occupancyWorld(t)
	ctx := t.Context()
	w.repo.Commit("master", "shared", map[string]string{"shared.yml": "v0\n"})
	w.repo.Branch("OPS-1", "master")
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"shared.yml": "v1\n"})
	w.mustRelease(t, "OPS-1", "dev", ana)
	clock.Advance(24 * time.Hour)
	w.repo.Branch("OPS-3", "OPS-1")
	w.repo.Commit("OPS-3", "OPS-3 on OPS-1", map[string]string{"shared.yml": "v3\n"})
	w.mustRelease(t, "OPS-3", "dev", cy)
	w.repo.Commit("master", "hotfix", map[string]string{"shared.yml": "hot\n"})
	tip := w.repo.Head("release/dev")

	clock.Advance(6*24*time.Hour + time.Minute)
	if err := w.svc.SweepOccupancy(ctx); workflow.KindOf(err) != workflow.Conflict {
		t.Fatalf("sweep: %v; want the conflict", err)
	}
	if err := w.svc.SweepOccupancy(ctx); err != nil {
		t.Errorf("a second sweep within the hour: %v; want no new attempt", err)
	}
	if got := w.repo.Head("release/dev"); got != tip {
		t.Errorf("release/dev moved to %s; want it left at %s", got, tip)
	}
	if diff := cmp.Diff(w.occupants(t, "dev"), []workflow.TicketKey{"OPS-1", "OPS-3"}); diff != "" {
		t.Errorf("occupants (-got +want):\n%s", diff)
	}
	if len(n.notices) != 1 || n.notices[0].Kind != workflow.NoticeExpiryFailed || len(n.notices[0].Others) != 1 ||
		n.notices[0].Others[0].By != "U3" || !strings.Contains(n.notices[0].Error, "OPS-3") {
		t.Errorf("notices: %+v; want one failed expiry naming OPS-3 and its owner", n.notices)
	}
	if len(n.comments) != 1 || !strings.Contains(n.comments[0], "could not take OPS-1 out of dev") {
		t.Errorf("comments: %q", n.comments)
	}
}

// With remove_when_done a ticket whose Jira status reaches the done
// category leaves at the next sweep, before its expiry; without it, it
// stays.
func TestRemoveWhenDone(t *testing.T) {
	for _, removeWhenDone := range []bool{false, true} {
		w, n, clock := occupancyWorld(t)
		ctx := t.Context()
		w.svc, _ = workflow.NewService(nil, workflow.Config{Envs: []workflow.Env{
			{Name: "dev", Occupancy: workflow.OccupancyPolicy{RemoveWhenDone: removeWhenDone}}, {Name: "prod", Production: true}}}, w.deps)
		w.repo.Commit("OPS-1", "OPS-1", map[string]string{"f1.yml": "1\n"})
		w.repo.Commit("OPS-2", "OPS-2", map[string]string{"f2.yml": "2\n"})
		w.mustRelease(t, "OPS-1", "dev", ana)
		w.mustRelease(t, "OPS-2", "dev", ben)
		w.tickets.Add(workflow.Ticket{Key: "OPS-2", Summary: "Change 2", Status: "Closed", StatusCategory: "done"})
		clock.Advance(time.Minute)
		if err := w.svc.SweepOccupancy(ctx); err != nil {
			t.Fatal(err)
		}
		want := []workflow.TicketKey{"OPS-1", "OPS-2"}
		if removeWhenDone {
			want = want[:1]
		}
		if diff := cmp.Diff(w.occupants(t, "dev"), want); diff != "" {
			t.Errorf("remove_when_done %v: occupants (-got +want):\n%s", removeWhenDone, diff)
		}
		if removeWhenDone && (len(n.comments) != 1 || !strings.Contains(n.comments[0], "its ticket is done (remove_when_done)")) {
			t.Errorf("comments: %q", n.comments)
		}
	}
}

// A Keep belongs to the release that brought the ticket in: a remove that
// merges the ticket again, and a later release that reads the occupants
// from git, keep it.
func TestKeepOutlivesARebuild(t *testing.T) {
	w, _, clock := occupancyWorld(t)
	ctx := t.Context()
	for i, k := range []string{"OPS-1", "OPS-2", "OPS-3"} {
		w.repo.Commit(k, k, map[string]string{"f" + k + ".yml": k + "\n"})
		w.mustRelease(t, k, "dev", []workflow.User{ana, ben, cy}[i])
	}
	occ, err := w.store.Occupants(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(3*24*time.Hour + time.Minute)
	if _, err := w.svc.Keep(ctx, "dev", "OPS-1", occ[0].ReleaseID, 0, ana); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Remove(ctx, "OPS-2", "dev", cy); err != nil {
		t.Fatal(err)
	}
	w.repo.Commit("OPS-4", "OPS-4", map[string]string{"fOPS-4.yml": "4\n"})
	w.mustRelease(t, "OPS-4", "dev", ben)
	st, err := w.svc.Status(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if tn := st[0].Tenancies["OPS-1"]; tn.Extensions != 1 || !tn.Expires.Equal(occ[0].At.Add(10*24*time.Hour)) {
		t.Errorf("OPS-1 after a rebuild and a release: %+v; want kept once, until 10d after its release", tn)
	}
}

// fetchHook runs hook once, at the first Fetch after it is armed.
type fetchHook struct {
	*workflowtest.Repo
	mu   sync.Mutex
	hook func()
}

func (r *fetchHook) Fetch(ctx context.Context) error {
	r.mu.Lock()
	h := r.hook
	r.hook = nil
	r.mu.Unlock()
	if h != nil {
		h()
	}
	return r.Repo.Fetch(ctx)
}

// A ticket released again between the sweep's look and its removal is
// not taken out by its old release's expiry.
func TestExpiryLeavesATicketReleasedAgain(t *testing.T) {
	n := &occNotes{lifeNotes: &lifeNotes{Notifier: &workflowtest.Notifier{}}}
	clock := workflowtest.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	var repo *fetchHook
	w := newWorld(t, func(c *workflow.Config, d *workflow.Deps) {
		c.Envs[0].Occupancy = devOccupancy
		repo = &fetchHook{Repo: d.Repo.(*workflowtest.Repo)}
		d.Repo, d.Notifier, d.Clock, d.Commenter = repo, n, clock, n
	})
	ctx := t.Context()
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"f1.yml": "1\n"})
	first := w.mustRelease(t, "OPS-1", "dev", ana)
	clock.Advance(7*24*time.Hour + time.Minute)
	var again workflow.Release
	repo.mu.Lock()
	repo.hook = func() {
		w.repo.Commit("OPS-1", "OPS-1 again", map[string]string{"f1.yml": "2\n"})
		again = w.mustRelease(t, "OPS-1", "dev", ana)
	}
	repo.mu.Unlock()
	if err := w.svc.SweepOccupancy(ctx); err != nil {
		t.Fatal(err)
	}
	occ, err := w.store.Occupants(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(occ) != 1 || occ[0].ReleaseID != again.ID || again.ID == first.ID {
		t.Errorf("dev's occupants: %+v; want OPS-1 of its new release %s", occ, again.ID)
	}
	if len(n.comments) != 0 {
		t.Errorf("comments: %q; want none", n.comments)
	}
}

// A scheduler started after a deadline passed (the replicas were down)
// handles it at once, and gives its lease back when it stops, so that
// another replica's scheduler takes over without waiting for it to expire.
func TestSchedulerHandlesMissedDeadlinesAtStart(t *testing.T) {
	w, n, clock := occupancyWorld(t)
	w.repo.Commit("OPS-1", "OPS-1", map[string]string{"f1.yml": "1\n"})
	w.mustRelease(t, "OPS-1", "dev", ana)
	clock.Advance(30 * 24 * time.Hour) // down for a month
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	sched := w.svc.NewOccupancyScheduler("a", time.Hour)
	go func() { defer close(done); sched.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(w.occupants(t, "dev")) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the missed expiry was not handled at start")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if l, held, err := w.store.CurrentLease(t.Context(), "~occupancy"); err != nil || held {
		t.Errorf("the scheduler's lease after it stopped: %+v, %v, %v; want free", l, held, err)
	}
	if got := n.reminded(); len(got) != 0 {
		t.Errorf("reminders for a ticket already past its expiry: %v; want none", got)
	}
	if ok, err := w.svc.NewOccupancyScheduler("b", time.Hour).Tick(t.Context()); err != nil || !ok {
		t.Errorf("another scheduler's tick: %v, %v; want it to sweep at once", ok, err)
	}
}
