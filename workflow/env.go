package workflow

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// maxEnvName bounds an env name; it ends up in branch names and Redis keys.
const maxEnvName = 32

// Env is one deployment environment as the workflow sees it. AWS details
// belong to the deployer.
type Env struct {
	// Name is the env's name: lower-case ASCII letters, digits and dashes.
	Name string
	// Production marks an env that takes the production branch (master)
	// only, and refuses tickets that are not in it yet. Several envs may be
	// production (prod-us, prod-eu): each deploys the production branch
	// with its own lease, approvals, requires_env and last deploy.
	Production bool
	// Branch is the branch deployed to the env. Config validation fills it:
	// the production branch for production envs, release/<name> for the
	// others.
	Branch string
	// RequiresEnv names the env a ticket must have gone through before this
	// one (e.g. stg before prod). Checked by the prod approval flow.
	RequiresEnv string
	// Soak, with RequiresEnv on a production env, is how long every ticket
	// of the production branch's tip must have been deployed and verified
	// in RequiresEnv before this env takes it (see soak.go); 0: no soak.
	Soak time.Duration
	// Allowed lists the user and group IDs that may release to the env;
	// empty allows everyone. It is also the allow list of reset, remove
	// and hold unless AllowedFor names one for them.
	Allowed []string
	// AllowedFor overrides Allowed for one action (ActRelease, ActReset,
	// ActRemove, ActHold).
	AllowedFor map[string][]string
	// Approvals, when Required > 0, makes a release wait for approvals
	// before anything is deployed; see ApprovalPolicy. Only production
	// envs may have them (ValidateApprovals).
	Approvals ApprovalPolicy
	// Occupancy is how long tickets stay in a non-prod env: reminders,
	// expiry, extensions (see OccupancyPolicy). Zero: for ever.
	Occupancy OccupancyPolicy
}

// ValidateApprovals refuses approvals on an env that is not production: a
// non-production env merges and pushes the ticket's branch before any
// deploy, so an approval there would come after the unreviewed code is in
// the env branch. Production envs deploy the production branch only, and
// only once approved.
func (e Env) ValidateApprovals() error {
	if err := e.Approvals.validate(); err != nil {
		return err
	}
	if e.Approvals.Required > 0 && !e.Production {
		return Errorf("config.approvals", Invalid, "%s is not a production env, and approvals apply only to production envs (they deploy the production branch only, and only once approved): mark it production: true, or remove its approvals", e.Name)
	}
	return nil
}

// User is the person asking. Groups are the user groups the caller (Slack)
// resolved for them, used by allow lists.
type User struct {
	ID     string
	Name   string
	Groups []string
	// Via is "" for a person Slack vouches for, or how they came
	// otherwise (ViaTerminal: who they say they are with --as, unverified);
	// the audit trail says so.
	Via string
}

// ViaTerminal marks a User named with the CLI's --as: self-declared.
const ViaTerminal = "terminal"

// via is what the audit trail adds to the detail of u's actions.
func (u User) via() string {
	if u.Via == "" {
		return ""
	}
	return " [via the " + u.Via + ", --as " + u.ID + " not verified]"
}

// String returns the name when known, else the ID.
func (u User) String() string {
	if u.Name != "" {
		return u.Name
	}
	return u.ID
}

// Allows reports whether u may release to e.
func (e Env) Allows(u User) bool {
	if len(e.Allowed) == 0 {
		return true
	}
	for _, a := range e.Allowed {
		if a == u.ID || slices.Contains(u.Groups, a) {
			return true
		}
	}
	return false
}

// ValidateEnvName returns an Invalid error unless name is 1 to 32 of
// [a-z0-9-], not starting or ending with a dash.
func ValidateEnvName(name string) error {
	const op = "env.name"
	if name == "" {
		return Errorf(op, Invalid, "an env name is required")
	}
	if len(name) > maxEnvName {
		return Errorf(op, Invalid, "%q is not an env name: longer than %d characters", truncate(name, 20), maxEnvName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return Errorf(op, Invalid, "%q is not an env name: use lower-case letters, digits and dashes", printable(name))
		}
	}
	if name[0] == '-' || name[len(name)-1] == '-' {
		return Errorf(op, Invalid, "%q is not an env name: it may not start or end with a dash", name)
	}
	return nil
}

// ValidateBranchName returns an Invalid error unless name is a branch name
// git accepts (git check-ref-format --branch) and that cannot be mistaken
// for an option, a refspec or a revision expression.
func ValidateBranchName(name string) error {
	const op = "branch.name"
	bad := func(why string) error {
		return Errorf(op, Invalid, "%q is not a usable branch name: %s", printable(name), why)
	}
	switch {
	case name == "":
		return Errorf(op, Invalid, "a branch name is required")
	case len(name) > 255:
		return bad("longer than 255 characters")
	case !utf8.ValidString(name):
		return bad("not valid UTF-8")
	case name[0] == '-':
		return bad("it starts with a dash")
	case name[0] == '+':
		return bad("it starts with a plus, like a forced refspec")
	case name == "@" || name == "HEAD":
		return bad("it is reserved")
	case strings.HasPrefix(name, "refs/"):
		return bad("give the branch name without refs/")
	case strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.Contains(name, "//"):
		return bad("empty path component")
	case strings.HasSuffix(name, "."):
		return bad("it ends with a dot")
	case strings.Contains(name, ".."):
		return bad(`it contains ".."`)
	case strings.Contains(name, "@{"):
		return bad(`it contains "@{"`)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
			return bad(fmt.Sprintf("it contains %q", r))
		}
	}
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			return bad("a component starts with a dot")
		}
		if strings.HasSuffix(part, ".lock") {
			return bad(`a component ends with ".lock"`)
		}
	}
	return nil
}

// validateEnvs checks envs as a set and fills each Branch. It returns the
// envs in order. Any number of them may be production.
func validateEnvs(envs []Env, production, prefix string) ([]Env, error) {
	const op = "config.environments"
	if len(envs) == 0 {
		return nil, Errorf(op, Invalid, "no environments configured")
	}
	out := make([]Env, len(envs))
	seen := map[string]bool{}
	for i, e := range envs {
		if err := ValidateEnvName(e.Name); err != nil {
			return nil, fmt.Errorf("environments[%d].name: %w", i, err)
		}
		if seen[e.Name] {
			return nil, Errorf(op, Invalid, "environments[%d].name: %s is configured twice", i, e.Name)
		}
		seen[e.Name] = true
		if e.Branch == "" {
			e.Branch = prefix + e.Name
			if e.Production {
				e.Branch = production
			}
		}
		if err := ValidateBranchName(e.Branch); err != nil {
			return nil, fmt.Errorf("environments[%d].branch: %w", i, err)
		}
		if e.Production && e.Branch != production {
			return nil, Errorf(op, Invalid, "environments[%d].branch: a production env deploys %s, not %s", i, production, e.Branch)
		}
		if !e.Production && e.Branch == production {
			return nil, Errorf(op, Invalid, "environments[%d].branch: %s is the production branch; only production envs may use it", i, e.Branch)
		}
		e.Allowed = slices.Clone(e.Allowed)
		e.AllowedFor = cloneAllowed(e.AllowedFor)
		e.Approvals.Approvers = slices.Clone(e.Approvals.Approvers)
		if err := e.ValidateApprovals(); err != nil {
			return nil, fmt.Errorf("environments[%d].approvals: %w", i, err)
		}
		if err := e.Occupancy.Validate(e); err != nil {
			return nil, fmt.Errorf("environments[%d].occupancy: %w", i, err)
		}
		e.Occupancy = e.Occupancy.withDefaults()
		for act := range e.AllowedFor {
			if !slices.Contains(envActions, act) {
				return nil, Errorf(op, Invalid, "environments[%d].allowed_for: %q is not one of %s", i, act, joinComma(envActions))
			}
		}
		out[i] = e
	}
	for i, e := range out {
		if err := e.validateSoak(); err != nil {
			return nil, fmt.Errorf("environments[%d].soak: %w", i, err)
		}
		if e.RequiresEnv == "" {
			continue
		}
		if !seen[e.RequiresEnv] || e.RequiresEnv == e.Name {
			return nil, Errorf(op, Invalid, "environments[%d].requires_env: %q is not another configured env", i, e.RequiresEnv)
		}
	}
	return out, nil
}
