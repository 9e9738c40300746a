package store_test

import (
	"os"
	"testing"

	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/store/redistest"
	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// newRedis returns a store on the shared server under a key prefix of t's
// own.
func newRedis(t testing.TB) *store.Redis {
	t.Helper()
	srv := redistest.Shared(t)
	s, err := store.NewRedis(srv.Client(t), store.RedisOptions{Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRedis(t *testing.T) {
	redistest.Shared(t)
	workflowtest.TestStore(t, func(t *testing.T) workflow.Store { return newRedis(t) })
}
