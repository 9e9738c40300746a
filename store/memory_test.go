package store_test

import (
	"testing"

	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
)

func TestMemory(t *testing.T) {
	workflowtest.TestStore(t, func(*testing.T) workflow.Store { return store.NewMemory(nil) })
}
