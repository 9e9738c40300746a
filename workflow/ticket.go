package workflow

import (
	"context"
	"strings"
)

// maxTicketKey bounds a ticket key's length; Jira's own limits are lower.
const maxTicketKey = 64

// TicketKey is a validated Jira issue key such as OPS-123: a project key
// (an ASCII capital letter, then capitals, digits or underscores), a dash
// and a positive number without leading zeros. The zero value is invalid.
type TicketKey string

// ParseTicketKey validates s as a ticket key. It is forgiving about case
// and surrounding blanks ("  jira-123" is JIRA-123) and strict about the
// rest: no inner spaces, only ASCII letters and digits, at most 64 bytes, so
// that a key is always safe inside a branch name, a refspec or a path.
func ParseTicketKey(s string) (TicketKey, error) {
	const op = "ticket.parse"
	s = strings.TrimSpace(s)
	if s == "" {
		return "", Errorf(op, Invalid, "a ticket key is required, like OPS-123")
	}
	if len(s) > maxTicketKey {
		return "", Errorf(op, Invalid, "%q is not a ticket key: longer than %d characters", truncate(s, 20), maxTicketKey)
	}
	up := make([]byte, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		up[i] = c
	}
	k := string(up)
	if !validTicketKey(k) {
		return "", Errorf(op, Invalid, "%q is not a ticket key: use the Jira key, like OPS-123", printable(s))
	}
	return TicketKey(k), nil
}

// validTicketKey reports whether k is exactly PROJECT-NUMBER, upper case.
func validTicketKey(k string) bool {
	if len(k) == 0 || len(k) > maxTicketKey {
		return false
	}
	dash := strings.IndexByte(k, '-')
	if dash < 1 || dash == len(k)-1 {
		return false
	}
	project, number := k[:dash], k[dash+1:]
	if c := project[0]; c < 'A' || c > 'Z' {
		return false
	}
	for i := 1; i < len(project); i++ {
		c := project[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	if number[0] == '0' {
		return false
	}
	for i := 0; i < len(number); i++ {
		if c := number[i]; c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Valid reports whether k is a well-formed key.
func (k TicketKey) Valid() bool { return validTicketKey(string(k)) }

// Project returns the project part of the key: OPS for OPS-123.
func (k TicketKey) Project() string {
	p, _, _ := strings.Cut(string(k), "-")
	return p
}

func (k TicketKey) String() string { return string(k) }

// Ticket is what the workflow knows of a Jira issue.
type Ticket struct {
	Key            TicketKey
	Summary        string
	Type           string // Story, Bug, Task, ...
	Status         string // the workflow status name, e.g. "In Review"
	StatusCategory string // Jira's category key: "new", "indeterminate" or "done"
	Assignee       string // display name, "" when unassigned
	URL            string // the browse URL
	// Unverified says why the tracker could not confirm the ticket when
	// the operator allows releasing unvalidated tickets while it is down
	// ("" when it was looked up). Only the key is known then; the
	// announcement must say so.
	Unverified string
}

// UncheckedTickets is a Tickets that asks nothing of any tracker: every
// well-formed key exists, with no summary. It is for local runs and the
// demo, where there is no Jira.
type UncheckedTickets struct{}

// Lookup returns a ticket with only its key.
func (UncheckedTickets) Lookup(_ context.Context, key TicketKey) (Ticket, error) {
	return Ticket{Key: key}, nil
}

// TicketPolicy says which tickets may be released at all. Rules on what
// only the tracker knows (status category, type) pass an Unverified
// ticket, which has only its key.
type TicketPolicy struct {
	// Projects lists the project keys that may be released; empty allows all.
	Projects []string
	// DenyStatusCategories lists status categories (e.g. "done") whose
	// tickets are refused, compared without regard to case.
	DenyStatusCategories []string
	// IssueTypes lists the issue types that may be released (e.g. Story,
	// Bug), compared without regard to case; empty allows all.
	IssueTypes []string
}

// Check returns a Forbidden error when t may not be released, naming the
// rule and the ticket's state.
func (p TicketPolicy) Check(t Ticket) error {
	const op = "ticket.policy"
	if len(p.Projects) > 0 && !containsFold(p.Projects, t.Key.Project()) {
		return Errorf(op, Forbidden, "%s is in project %s, which is not released from here (allowed projects: %s)",
			t.Key, t.Key.Project(), strings.Join(p.Projects, ", "))
	}
	if t.StatusCategory != "" && containsFold(p.DenyStatusCategories, t.StatusCategory) {
		status := t.Status
		if status == "" {
			status = t.StatusCategory
		}
		return Errorf(op, Forbidden, "%s is %s (status category %s), and tickets in status category %s are not released; reopen it or release another ticket",
			t.Key, status, t.StatusCategory, strings.Join(p.DenyStatusCategories, ", "))
	}
	if len(p.IssueTypes) > 0 && t.Type != "" && !containsFold(p.IssueTypes, t.Type) {
		return Errorf(op, Forbidden, "%s is of type %s, and only these issue types are released: %s",
			t.Key, t.Type, strings.Join(p.IssueTypes, ", "))
	}
	return nil
}

// containsFold reports whether list holds s, without regard to case.
func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// truncate shortens s to at most n bytes, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// printable replaces control characters so that s can be quoted in a
// message to a person.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, truncate(s, 64))
}
