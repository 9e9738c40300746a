package workflow

import (
	"strings"
)

// The trailers of the bot's merge commits.
const (
	TrailerReleasedBy  = "Released-By"
	TrailerReleasedFor = "Released-For"
	TrailerReleaseID   = "Release-Id"
	releasedByValue    = "code-releaser"
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

// joinComma joins s with ", ".
func joinComma(s []string) string { return strings.Join(s, ", ") }

// short abbreviates a SHA for people.
func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
