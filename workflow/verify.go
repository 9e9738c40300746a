package workflow

import "context"

// The journal's steps of a deploy's verification (the deployer reports
// them as progress once the stacks and command steps succeeded).
const (
	StepVerifying    = "verifying"           // the checks start (Detail: which)
	StepVerified     = "verified"            // every check passed
	StepVerifyFailed = "verification failed" // Detail: which checks failed and why
)

type releaseIDKey struct{}

// WithReleaseID returns ctx carrying the id of the release (or of the
// reset, remove or deploy) a deploy is made for, so that the deployer can
// record it where it deploys (a stack tag).
func WithReleaseID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, releaseIDKey{}, id)
}

// ReleaseIDOf returns the id WithReleaseID put in ctx, "" when none.
func ReleaseIDOf(ctx context.Context) string {
	id, _ := ctx.Value(releaseIDKey{}).(string)
	return id
}
