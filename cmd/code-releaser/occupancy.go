package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
)

// occupancyConfig is an env's occupancy section: how long tickets stay.
// Durations take Go's units and days: 3d, 36h, 1d12h.
type occupancyConfig struct {
	RemindAfter    string `yaml:"remind_after"`
	ExpireAfter    string `yaml:"expire_after"`
	ExtendBy       string `yaml:"extend_by"`
	MaxExtensions  *int   `yaml:"max_extensions"`
	RemoveWhenDone bool   `yaml:"remove_when_done"`
}

// parseDays parses a duration that may start with days ("3d", "1d12h").
func parseDays(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	bad := fmt.Errorf("%q is not a duration like 3d, 36h or 1d12h", s)
	var d time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, bad
		}
		d, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			return d, nil
		}
	}
	rest, err := time.ParseDuration(s)
	if err != nil || rest < 0 {
		return 0, bad
	}
	return d + rest, nil
}

// policy checks the section and returns the workflow's policy; the errors
// name the field.
func (o occupancyConfig) policy(e workflow.Env) (workflow.OccupancyPolicy, []string) {
	var p workflow.OccupancyPolicy
	var probs []string
	for _, f := range []struct {
		name string
		raw  string
		dst  *time.Duration
	}{{"remind_after", o.RemindAfter, &p.RemindAfter}, {"expire_after", o.ExpireAfter, &p.ExpireAfter}, {"extend_by", o.ExtendBy, &p.ExtendBy}} {
		d, err := parseDays(f.raw)
		if err != nil {
			probs = append(probs, f.name+": "+err.Error())
		}
		*f.dst = d
	}
	if o.MaxExtensions != nil {
		p.MaxExtensions = *o.MaxExtensions
		if p.MaxExtensions == 0 {
			p.MaxExtensions = -1 // none; the workflow's default is 2
		}
	}
	p.RemoveWhenDone = o.RemoveWhenDone
	if o.MaxExtensions != nil && *o.MaxExtensions < 0 {
		probs = append(probs, "max_extensions must not be negative")
	}
	if len(probs) == 0 {
		if err := p.Validate(e); err != nil {
			probs = append(probs, workflow.UserMessage(err))
		}
	}
	return p, probs
}

// cliExpiry is an occupant's expiry in the CLI's status.
func cliExpiry(tn workflow.Tenancy) string {
	if tn.Expires.IsZero() {
		return ""
	}
	s := ", expires " + tn.Expires.UTC().Format("2006-01-02 15:04 UTC")
	if tn.Extensions > 0 {
		s += fmt.Sprintf(" (kept %d of %d)", tn.Extensions, tn.Max)
	}
	return s
}
