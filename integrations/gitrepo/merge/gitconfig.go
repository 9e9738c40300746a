package merge

// The one setting the engine reads from a repository's config file
// (core.commitGraph), read here rather than through go-git's config
// package: that package links gcfg, encoding/gob and go-git's URL
// parser, whose initialisation is a tenth of the merge-tree binary's
// start.

import (
	"bytes"
	"strings"
)

// configValue returns the last value of key (a variable name, matched
// case-insensitively) in section (without subsection, case-insensitive)
// of a git config file's content, and whether it is set at all. A key
// with no "=" is true, as git reads it. Include directives are not
// followed (nor does go-git follow them).
func configValue(content []byte, section, key string) (string, bool) {
	var value string
	found, in := false, false
	for _, line := range bytes.Split(content, []byte("\n")) {
		l := strings.TrimSpace(string(line))
		if strings.HasPrefix(l, "[") {
			end := strings.IndexByte(l, ']')
			if end < 0 {
				in = false
				continue
			}
			name := strings.TrimSpace(l[1:end])
			in = !strings.ContainsAny(name, " \t\".") && strings.EqualFold(name, section)
			l = strings.TrimSpace(l[end+1:]) // "[core] commitGraph = false" is one line
		}
		if !in || l == "" || l[0] == '#' || l[0] == ';' {
			continue
		}
		name, rest, hasValue := strings.Cut(l, "=")
		name = strings.TrimSpace(name)
		if !hasValue {
			name, _, _ = strings.Cut(name, "#")
			name, _, _ = strings.Cut(name, ";")
			name = strings.TrimSpace(name)
		}
		if !strings.EqualFold(name, key) {
			continue
		}
		found, value = true, "true"
		if hasValue {
			value = configString(rest)
		}
	}
	return value, found
}

// configString reads a config value: surrounding blanks dropped, a comment
// (# or ; outside quotes) cut off, double quotes removed and git's
// backslash escapes applied.
func configString(s string) string {
	var b strings.Builder
	quoted := false
	pending := "" // blanks kept only if more text follows them
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			quoted = !quoted
			continue
		case !quoted && (c == '#' || c == ';'):
			return b.String()
		case !quoted && (c == ' ' || c == '\t'):
			if b.Len() > 0 {
				pending += string(c)
			}
			continue
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				c = '\n'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			default:
				c = s[i]
			}
		}
		b.WriteString(pending)
		pending = ""
		b.WriteByte(c)
	}
	return b.String()
}

// isGitFalse reports whether a config value is one of git's spellings of false.
func isGitFalse(v string) bool {
	switch strings.ToLower(v) {
	case "false", "no", "off", "0", "":
		return true
	}
	return false
}
