package workflow

import (
	"bytes"
	"encoding/json"
	"io"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// Redacted replaces a secret in text.
const Redacted = "[redacted]"

// minSecret is the shortest value Secrets keeps: shorter ones would
// redact ordinary words (and no token or key is that short).
const minSecret = 8

// Secrets is the set of secret values a process knows (tokens, passwords,
// AWS keys, assumed-role credentials), kept so that none of them reaches
// what the process writes: logs, chat messages, journals, step output. It
// matches each value as given and in the forms it takes inside a URL query
// or a JSON string. The zero value is empty and ready; it is safe for
// concurrent use.
type Secrets struct {
	mu    sync.RWMutex
	forms []string // every form of every value, longest first
	seen  map[string]bool
}

// Add adds values; empty and very short ones are ignored.
func (s *Secrets) Add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	for _, v := range values {
		if len(v) < minSecret {
			continue
		}
		for _, f := range secretForms(v) {
			if !s.seen[f] {
				s.seen[f] = true
				s.forms = append(s.forms, f)
			}
		}
	}
	// Longest first, so that a secret containing another is replaced whole.
	sort.SliceStable(s.forms, func(i, j int) bool { return len(s.forms[i]) > len(s.forms[j]) })
}

// secretForms is v and its encodings in a URL query, a URL path and a JSON
// string (where they differ).
func secretForms(v string) []string {
	forms := []string{v, url.QueryEscape(v), url.PathEscape(v)}
	if b, err := json.Marshal(v); err == nil {
		forms = append(forms, string(b[1:len(b)-1]))
	}
	return forms
}

// Redact returns text with every known secret replaced by Redacted.
func (s *Secrets) Redact(text string) string {
	if s == nil {
		return text
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, f := range s.forms {
		if strings.Contains(text, f) {
			text = strings.ReplaceAll(text, f, Redacted)
		}
	}
	return text
}

// Contains reports whether text holds a known secret.
func (s *Secrets) Contains(text string) bool {
	if s == nil {
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, f := range s.forms {
		if strings.Contains(text, f) {
			return true
		}
	}
	return false
}

// longest is the length of the longest form.
func (s *Secrets) longest() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.forms) == 0 {
		return 0
	}
	return len(s.forms[0])
}

// maxPending bounds what a Writer holds back waiting for a newline.
const maxPending = 64 << 10

// Writer returns a writer that redacts what it passes on to w. It passes
// on whole lines; a line longer than 64 KiB is cut, keeping back enough
// bytes that a secret across the cut is still seen whole. Close (or Flush)
// writes what is held back.
func (s *Secrets) Writer(w io.Writer) *RedactingWriter {
	return &RedactingWriter{s: s, w: w}
}

// RedactingWriter is Secrets.Writer's writer; safe for concurrent use.
type RedactingWriter struct {
	s   *Secrets
	w   io.Writer
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write buffers p and writes out every complete line, redacted. It reports
// len(p) unless the underlying writer fails.
func (rw *RedactingWriter) Write(p []byte) (int, error) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.buf.Write(p)
	data := rw.buf.Bytes()
	var out string
	if cut := bytes.LastIndexByte(data, '\n') + 1; cut > 0 {
		out = rw.s.Redact(string(data[:cut]))
		rw.buf.Next(cut)
	} else if len(data) > maxPending {
		// No newline for a long while: pass it on, but for a tail that
		// could be the start of a secret still being written.
		all := rw.s.Redact(string(data))
		keep := min(max(rw.s.longest()-1, 0), len(all))
		out = all[:len(all)-keep]
		rw.buf.Reset()
		rw.buf.WriteString(all[len(all)-keep:])
	}
	if out == "" {
		return len(p), nil
	}
	if _, err := io.WriteString(rw.w, out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what is held back, redacted.
func (rw *RedactingWriter) Flush() error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.buf.Len() == 0 {
		return nil
	}
	out := rw.s.Redact(rw.buf.String())
	rw.buf.Reset()
	_, err := io.WriteString(rw.w, out)
	return err
}

// Close flushes; it does not close the underlying writer.
func (rw *RedactingWriter) Close() error { return rw.Flush() }
