package workflow

import (
	"fmt"
	"strings"
)

// The trailers of the bot's merge commits.
const (
	TrailerReleasedBy  = "Released-By"
	TrailerReleasedFor = "Released-For"
	TrailerReleaseID   = "Release-Id"
	// TrailerRolledBackTo is on a rollback commit: the earlier commit of
	// the env branch whose tree it restores (see RollbackTarget).
	TrailerRolledBackTo = "Rolled-Back-To"
	releasedByValue     = "code-releaser"
)

// releaseMessage is the commit message of a ticket's merge into an env
// branch.
func releaseMessage(key TicketKey, env, summary, user, id string) string {
	var b strings.Builder
	b.WriteString("Release " + string(key) + " to " + env + "\n\n")
	if s := oneLine(summary, 200); s != "" {
		b.WriteString(s + "\n\n")
	}
	b.WriteString(TrailerReleasedBy + ": " + releasedByValue + "\n")
	b.WriteString(TrailerReleasedFor + ": " + oneLine(user, 100) + "\n")
	b.WriteString(TrailerReleaseID + ": " + id + "\n")
	return b.String()
}

// ReleaseMerge is what one of the bot's ticket merges into an env branch
// records about itself: the commit releaseMessage wrote.
type ReleaseMerge struct {
	Ticket    TicketKey
	Env       string // the env named in the subject
	By        string // Released-For: who released it
	ReleaseID string // Release-Id
}

// ParseReleaseMerge reads a commit written with releaseMessage: two
// parents (the env branch, the ticket's tip), the subject "Release KEY to
// ENV" and the trailers Released-By: code-releaser and Released-For. Sync
// merges and every other commit give ok false.
func ParseReleaseMerge(c Commit) (m ReleaseMerge, ok bool) {
	if len(c.Parents) != 2 || !IsReleaseMerge(c.Message) {
		return ReleaseMerge{}, false
	}
	subject, _, _ := strings.Cut(c.Message, "\n")
	f := strings.Fields(subject)
	if len(f) != 4 || f[0] != "Release" || f[2] != "to" {
		return ReleaseMerge{}, false
	}
	key, err := ParseTicketKey(f[1])
	if err != nil || string(key) != f[1] {
		return ReleaseMerge{}, false
	}
	tr := Trailers(c.Message)
	if len(tr[TrailerReleasedFor]) == 0 || tr[TrailerReleasedFor][0] == "" {
		return ReleaseMerge{}, false
	}
	m = ReleaseMerge{Ticket: key, Env: f[3], By: tr[TrailerReleasedFor][0]}
	if ids := tr[TrailerReleaseID]; len(ids) > 0 {
		m.ReleaseID = ids[0]
	}
	return m, true
}

// syncMessage is the commit message of master's merge into an env branch.
func syncMessage(production, envBranch, id string) string {
	return "Sync " + production + " into " + envBranch + "\n\n" +
		TrailerReleasedBy + ": " + releasedByValue + "\n" +
		TrailerReleaseID + ": " + id + "\n"
}

// oneLine folds s onto one line of at most n bytes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	return truncate(s, n)
}

// Trailers returns the trailers of a commit message: the "Key: value"
// lines of its last paragraph, when every line of it is one.
func Trailers(msg string) map[string][]string {
	msg = strings.TrimRight(msg, "\n ")
	i := strings.LastIndex(msg, "\n\n")
	if i < 0 {
		return nil // a subject alone has no trailers
	}
	out := map[string][]string{}
	for _, line := range strings.Split(msg[i+2:], "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil
		}
		out[k] = append(out[k], strings.TrimSpace(v))
	}
	return out
}

// IsReleaseMerge reports whether msg is the message of one of the bot's
// merges into an env branch (trailer Released-By: code-releaser).
func IsReleaseMerge(msg string) bool {
	for _, v := range Trailers(msg)[TrailerReleasedBy] {
		if strings.EqualFold(v, releasedByValue) {
			return true
		}
	}
	return false
}

// rollbackMessage is the commit message of a rollback of envBranch to the
// commit to, undoing the release undone.
func rollbackMessage(envBranch, to string, undone Release, why, user, id string) string {
	var b strings.Builder
	b.WriteString("Roll back " + envBranch + " to " + short(to) + "\n\n")
	b.WriteString(oneLine(fmt.Sprintf("Undoes release %s of %s by %s: %s", undone.ID, undone.Ticket, undone.By, why), 300) + "\n")
	b.WriteString("The tree is " + short(to) + "'s; the bot reads this branch's history as if this commit's parent were " + short(to) + ".\n\n")
	b.WriteString(TrailerReleasedBy + ": " + releasedByValue + "\n")
	b.WriteString(TrailerReleasedFor + ": " + oneLine(user, 100) + "\n")
	b.WriteString(TrailerReleaseID + ": " + id + "\n")
	b.WriteString(TrailerRolledBackTo + ": " + to + "\n")
	b.WriteString(TrailerRollsBack + ": " + undone.ID + "\n")
	return b.String()
}

// RollbackTarget reads a rollback commit's message (see rollbackMessage):
// the full SHA of the earlier env branch commit it restores. The bot reads
// an env branch's history as if a rollback commit's parent were that
// commit, so the releases it undid count as never merged (a later release
// of the ticket, or a sync of master, merges them again in full) — but
// only for the bot's own commits on an env branch's first-parent chain
// whose target is further down that chain: the Repo checks that.
func RollbackTarget(msg string) (string, bool) {
	if !IsReleaseMerge(msg) {
		return "", false
	}
	to := Trailers(msg)[TrailerRolledBackTo]
	if len(to) != 1 || !fullSHA.MatchString(to[0]) {
		return "", false
	}
	return to[0], true
}

// joinComma joins s with ", ".
func joinComma(s []string) string { return strings.Join(s, ", ") }

// count says how many of what there are, for people: "1 commit",
// "3 commits".
func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// ShortSHA abbreviates a commit SHA for people, to its first 7 hex digits
// as git does; shorter strings are returned as they are.
func ShortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// short is ShortSHA, the name the package's messages use.
func short(sha string) string { return ShortSHA(sha) }
