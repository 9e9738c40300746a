// Package store implements workflow.Store: Memory for local runs, tests and
// the demo, and (in its own file) Redis for replicas that share state. Both
// pass workflowtest.TestStore.
package store
