package store_test

import (
	"testing"

	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/store/redistest"
)

// A Redis that lost its data has a new epoch; one that kept it (an
// append-only file across a restart) has the same.
func TestRedisEpochChangesWhenDataIsLost(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		name    string
		persist bool
		lose    func(t *testing.T, srv *redistest.Server)
		changes bool
	}{
		{"flushall", false, func(t *testing.T, srv *redistest.Server) {
			if err := srv.Client(t).FlushAll(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"restart empty", false, func(t *testing.T, srv *redistest.Server) {
			if err := srv.Restart(0); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"restart with its data", true, func(t *testing.T, srv *redistest.Server) {
			if err := srv.Restart(0); err != nil {
				t.Fatal(err)
			}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Dedicated(t, redistest.Options{Persist: tc.persist})
			s, err := store.NewRedis(srv.Client(t), store.RedisOptions{})
			if err != nil {
				t.Fatal(err)
			}
			before, created, err := s.Epoch(ctx)
			if err != nil || !created {
				t.Fatalf("first Epoch = %q, created %v, %v; want created", before, created, err)
			}
			tc.lose(t, srv)
			after, created, err := s.Epoch(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if changed := after != before; changed != tc.changes || created != tc.changes {
				t.Errorf("epoch %q → %q (created %v); want changed and created = %v", before, after, created, tc.changes)
			}
		})
	}
}
