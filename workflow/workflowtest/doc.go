// Package workflowtest holds what tests of the workflow and of its adapters
// share: conformance suites that every implementation of a port runs
// (TestStore), and in-memory fakes of the ports (Repo, Tickets, Deployer,
// Notifier, Clock) for tests of the use cases.
package workflowtest
