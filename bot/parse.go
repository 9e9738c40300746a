package bot

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/code-releaser/code-releaser/workflow"
)

// Limits of the parser.
const (
	maxText   = 300 // bytes of command text; a ticket, an env and a reason fit
	maxReason = 200 // bytes of a hold reason
	maxCount  = 100 // history's N
)

// Parsed is what the parser decided: run Command with Args, or reply with
// Err (an Invalid *workflow.Error whose message a person can act on).
type Parsed struct {
	Command string // the command to run; "" with Err
	Args    Args
	Err     error
}

// fillers are words people put between a ticket and an env: "jira-1 to dev".
var fillers = []string{"to", "on", "in", "into", "onto", "for", "from", "at"}

// Parse reads the text of a /release command against the table. envs are
// the configured env names, used to check and suggest; nil skips the
// check. Parse does no I/O and never panics.
func Parse(t *Table, text string, envs []string) Parsed {
	if len(text) > maxText {
		return fail("that is %d characters; %s takes a ticket and an env, like `%s OPS-123 dev`", utf8.RuneCountInString(text), SlashCommand, SlashCommand)
	}
	toks, err := tokenize(text)
	if err != nil {
		return Parsed{Err: err}
	}
	if len(toks) == 0 {
		return Parsed{Command: "help"}
	}
	first := strings.ToLower(toks[0])
	switch first {
	case "-h", "--help", "?", "usage":
		first = "help"
	}
	if c, ok := t.Lookup(first); ok && first != t.def {
		return parseArgs(t, c, toks[1:], envs)
	}
	def := t.Default()
	if first == t.def {
		return parseArgs(t, def, toks[1:], envs)
	}
	// /release dev JIRA-1: the env first.
	if len(toks) == 2 && slices.Contains(envs, strings.ToLower(toks[0])) {
		if _, err := workflow.ParseTicketKey(toks[1]); err == nil {
			toks[0], toks[1] = toks[1], toks[0]
		}
	}
	if _, err := workflow.ParseTicketKey(toks[0]); err != nil && isASCII(toks[0]) {
		if s := nearest(first, t.Names(), 2); s != "" {
			return fail("there is no command %q; did you mean `%s`?", truncate(toks[0], 30), t.UsageOf(s))
		}
		if !looksLikeTicket(toks[0]) {
			return fail("%q is neither a ticket key nor a command. Try `%s OPS-123 dev`, or `%s help` for the commands (%s)",
				truncate(toks[0], 30), SlashCommand, SlashCommand, strings.Join(t.Names(), ", "))
		}
	}
	return parseArgs(t, def, toks, envs)
}

// parseArgs reads toks as c's arguments.
func parseArgs(t *Table, c Command, toks []string, envs []string) Parsed {
	usage := t.UsageOf(c.Name)
	var a Args
	i := 0
	skipFillers := func() {
		for i < len(toks) && slices.Contains(fillers, strings.ToLower(toks[i])) && i+1 < len(toks) {
			i++
		}
	}
	for _, spec := range c.Args {
		switch spec {
		case ArgTicket:
			if i >= len(toks) {
				return fail("a ticket key is missing. Usage: `%s`", usage)
			}
			if err := checkASCII(toks[i]); err != nil {
				return Parsed{Err: err}
			}
			k, err := workflow.ParseTicketKey(toks[i])
			if err != nil {
				return fail("%s. Usage: `%s`", workflow.UserMessage(err), usage)
			}
			a.Ticket = string(k)
			i++
		case ArgEnv, ArgEnvOpt:
			skipFillers()
			if i >= len(toks) {
				if spec == ArgEnvOpt {
					continue
				}
				return fail("an env is missing%s. Usage: `%s`", knownEnvs(envs), usage)
			}
			env, err := parseEnv(toks[i], envs)
			if err != nil {
				return Parsed{Err: err}
			}
			a.Env = env
			i++
		case ArgCountOpt:
			if i >= len(toks) {
				continue
			}
			n, err := strconv.Atoi(toks[i])
			if err != nil || n < 1 || n > maxCount {
				return fail("%q is not a count; give a number from 1 to %d. Usage: `%s`", truncate(toks[i], 20), maxCount, usage)
			}
			a.N = n
			i++
		case ArgReason:
			a.Reason = truncate(strings.Join(toks[i:], " "), maxReason)
			i = len(toks)
		case ArgSoakOpt:
			if i >= len(toks) {
				continue
			}
			reason, err := parseOverrideSoak(toks[i:], usage)
			if err != nil {
				return Parsed{Err: err}
			}
			a.OverrideSoak = reason
			i = len(toks)
		}
	}
	if i < len(toks) {
		return fail("too many words: %q. Usage: `%s`", truncate(strings.Join(toks[i:], " "), 40), usage)
	}
	return Parsed{Command: c.Name, Args: a}
}

// parseEnv checks s as an env name, suggesting the nearest configured one.
func parseEnv(s string, envs []string) (string, error) {
	if err := checkASCII(s); err != nil {
		return "", err
	}
	env := strings.ToLower(s)
	if err := workflow.ValidateEnvName(env); err != nil {
		return "", workflow.Errorf("parse", workflow.Invalid, "%s%s", workflow.UserMessage(err), knownEnvs(envs))
	}
	if envs == nil || slices.Contains(envs, env) {
		return env, nil
	}
	if s := nearest(env, envs, 2); s != "" {
		return "", workflow.Errorf("parse", workflow.Invalid, "there is no env %q; did you mean %s?", env, s)
	}
	return "", workflow.Errorf("parse", workflow.Invalid, "there is no env %q%s", env, knownEnvs(envs))
}

func knownEnvs(envs []string) string {
	if len(envs) == 0 {
		return ""
	}
	return " (known: " + strings.Join(envs, ", ") + ")"
}

func fail(format string, args ...any) Parsed {
	return Parsed{Err: workflow.Errorf("parse", workflow.Invalid, format, args...)}
}

// tokenize splits text into words, unwrapping what Slack and people put
// around them: links become their label (or the key in a Jira browse URL),
// lookalike dashes become '-', quotes and trailing punctuation go. Mentions
// are refused: they are never arguments.
func tokenize(text string) ([]string, error) {
	text = strings.Map(func(r rune) rune {
		switch r {
		case '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212', '\uFE58', '\uFE63', '\uFF0D':
			return '-'
		case '\u200B', '\u200C', '\u200D', '\u2060', '\uFEFF': // zero-width
			return -1
		}
		if unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, text)
	var out []string
	for _, w := range strings.Fields(text) {
		w = strings.Trim(w, "`'\"“”‘’,;.!()[]{}")
		if w == "" {
			continue
		}
		if strings.HasPrefix(w, "<") && strings.HasSuffix(w, ">") && len(w) > 2 {
			inner := w[1 : len(w)-1]
			switch inner[0] {
			case '@', '!', '#':
				return nil, workflow.Errorf("parse", workflow.Invalid, "mentions and channels are not arguments; use a ticket key and an env, like `%s OPS-123 dev`", SlashCommand)
			}
			target, label, hasLabel := strings.Cut(inner, "|")
			if hasLabel && label != "" && !strings.Contains(label, "://") {
				w = label
			} else {
				w = target
			}
		}
		if strings.HasPrefix(w, "@") && len(w) > 1 {
			return nil, workflow.Errorf("parse", workflow.Invalid, "mentions are not arguments; use a ticket key and an env, like `%s OPS-123 dev`", SlashCommand)
		}
		if strings.Contains(w, "://") {
			k, ok := keyFromURL(w)
			if !ok {
				return nil, workflow.Errorf("parse", workflow.Invalid, "links are not arguments, except a Jira ticket link; type the key, like OPS-123")
			}
			w = k
		}
		out = append(out, w)
	}
	return out, nil
}

// keyFromURL finds the ticket key in a Jira link (…/browse/OPS-123, or
// ?selectedIssue=OPS-123).
func keyFromURL(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return "", false
	}
	if k := u.Query().Get("selectedIssue"); k != "" {
		return k, true
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "browse" {
			return parts[i+1], true
		}
	}
	return "", false
}

// checkASCII refuses a word with a non-ASCII character: a lookalike
// letter (Cyrillic А for A) would otherwise give a baffling "no such
// ticket".
func checkASCII(w string) error {
	for _, r := range w {
		if r >= utf8.RuneSelf {
			return workflow.Errorf("parse", workflow.Invalid,
				"%q contains %q (U+%04X), which is not a plain ASCII letter, digit or dash; retype it", truncate(w, 30), r, r)
		}
	}
	return nil
}

func isASCII(w string) bool { return checkASCII(w) == nil }

// looksLikeTicket reports whether w is shaped like a key with a mistake in
// it (letters, a dash, digits), so that the key's own error is the better
// message.
func looksLikeTicket(w string) bool {
	p, n, ok := strings.Cut(w, "-")
	return ok && p != "" && n != "" && strings.IndexFunc(n, unicode.IsDigit) >= 0
}

// nearest returns the candidate closest to w within max edits, "" if none.
func nearest(w string, candidates []string, max int) string {
	if len(w) < 3 {
		return ""
	}
	best, bestD := "", max+1
	for _, c := range candidates {
		if d := distance(w, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// distance is the Damerau-Levenshtein distance (adjacent swaps count
// one) of two short ASCII words.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// truncate shortens s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
