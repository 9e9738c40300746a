package main

import (
	"fmt"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
)

// check returns what is wrong with an env's approvals section.
func (a approvalsConfig) check() []string {
	var errs []string
	if a.Required < 0 {
		errs = append(errs, "required must not be negative")
	}
	if a.Required > 0 && len(a.Approvers) == 0 {
		errs = append(errs, "approvers (Slack user or user-group IDs) are required when required > 0")
	}
	if a.Required > len(a.Approvers) && len(a.Approvers) > 0 && allUsers(a.Approvers) {
		errs = append(errs, fmt.Sprintf("required is %d but only %d approvers are listed", a.Required, len(a.Approvers)))
	}
	if a.ExpireAfter != "" {
		if d, err := time.ParseDuration(a.ExpireAfter); err != nil || d <= 0 {
			errs = append(errs, fmt.Sprintf("expire_after %q is not a positive duration like 4h", a.ExpireAfter))
		}
	}
	return errs
}

// allUsers reports whether every ID is a user's (no user group, which
// may hold any number of people).
func allUsers(ids []string) bool {
	for _, id := range ids {
		if len(id) > 0 && id[0] == 'S' {
			return false
		}
	}
	return true
}

// policy is the workflow's approval policy of a checked section.
func (a approvalsConfig) policy() workflow.ApprovalPolicy {
	d, _ := time.ParseDuration(a.ExpireAfter)
	return workflow.ApprovalPolicy{Required: a.Required, Approvers: a.Approvers, AllowSelf: a.AllowSelf, ExpireAfter: d}
}
