// Package workflow is Code-Releaser's core: the vocabulary (envs, tickets,
// releases, occupants, holds, approvals), the error kinds, the ports it needs
// from the outside world (Repo, Tickets, Deployer, Store, Notifier, ...: all
// in ports.go) and the use cases (release, status, history, ...). It imports
// only the standard library; adapters in integrations/, store/, deploy/ and
// bot/ implement the ports, and cmd/code-releaser wires them together.
package workflow
