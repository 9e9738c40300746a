// Package gitrepo implements workflow.Repo on go-git: a cached bare mirror of
// the infra repository's remote, kept up to date by incremental fetches of
// its branches, on which tickets are resolved to branches, merges are made in
// memory (by package merge) and written as commits, and release branches are
// pushed back as a compare-and-swap of the remote ref.
//
// One concern per file:
//   - config.go:  Config, Auth and their defaults and validation;
//   - auth.go:    go-git's auth methods from Auth (HTTPS basic auth, SSH key
//     with known_hosts);
//   - mirror.go:  Mirror, Open, Close and Fetch;
//   - lock.go:    the per-mirror lock that serializes processes on a cache dir;
//   - refname.go: validation of branch names and object names before any git call;
//   - resolve.go: Tip and ResolveTicket;
//   - merge.go:   Merge and the conflict report;
//   - push.go:    Push, the compare-and-swap of a remote branch;
//   - log.go:     Log and IsAncestor;
//   - errors.go:  redaction of secrets and the translation of go-git errors
//     into workflow errors (the one place that matches messages).
package gitrepo
