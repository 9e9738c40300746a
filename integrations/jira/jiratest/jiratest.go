// Package jiratest is a local Jira for tests and the demo: an httptest
// server answering the REST v2 calls of the jira adapter (myself, issue,
// comment, remotelink, transitions) with the shapes of Atlassian's
// documented responses (testdata/), in a Cloud flavour (basic auth with an
// email and API token, accountId users, also under the api.atlassian.com
// gateway path /ex/jira/<cloudId>) and a Server/Data Center flavour (DataCenter) (bearer
// personal access token, name/key users).
//
// It is as strict as Jira Cloud where the adapter could go wrong: a comment
// with anything but body/visibility/properties, or an empty visibility, is
// a 400; a remote link needs object.url and object.title and is upserted by
// globalId. It records every request with its body so that tests can
// assert the wire payloads, and faults can be injected per endpoint.
package jiratest

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
)

//go:embed testdata/*.json
var fixtures embed.FS

// fixtureHost is the host of Atlassian's examples, replaced by the server's.
const fixtureHost = "https://your-domain.atlassian.net"

// Flavor is the kind of Jira served.
type Flavor int

// The flavours.
const (
	Cloud      Flavor = iota // basic auth (email + API token), accountId users
	DataCenter               // bearer personal access token, name/key users
)

// Credentials the server accepts.
const (
	Email    = "bot@example.com"
	APIToken = "cloud-api-token"
	PAT      = "server-personal-access-token"
	CloudID  = "11223344-a1b2-3b33-c444-def123456789"
)

// Issue is a ticket in the local Jira.
type Issue struct {
	Key            string
	Summary        string
	Type           string // default Task
	Status         string // default To Do
	StatusCategory string // new, indeterminate, done; default new
	Assignee       string // display name; "" unassigned
	// Transitions open from the current status; each moves the issue to
	// its To status.
	Transitions []Transition
}

// Transition is one workflow transition of an issue.
type Transition struct {
	ID, Name       string
	To, ToCategory string
}

// RemoteLink is a stored remote link.
type RemoteLink struct {
	ID       int
	GlobalID string
	Body     json.RawMessage // as last posted
}

// Request is one request the server received.
type Request struct {
	Method string
	Path   string // without the gateway prefix, e.g. /rest/api/2/issue/OPS-1
	Query  string
	Body   []byte
}

// Fault makes matching requests fail.
type Fault struct {
	Method string // "" any
	Path   string // suffix of the path, e.g. "/issue/OPS-1/comment"; "" any
	Status int
	Header http.Header
	Body   string // default: Jira's JSON error shape
	Times  int    // how many requests fail; 0 every one
}

// Server is the local Jira.
type Server struct {
	// URL is the base URL to configure: the site for Cloud and Server.
	URL    string
	flavor Flavor
	srv    *httptest.Server

	mu       sync.Mutex
	issues   map[string]*Issue
	comments map[string][]string // issue key → posted bodies (the "body" text)
	links    map[string][]*RemoteLink
	requests []Request
	faults   []*Fault
	nextID   int
}

// New starts a local Jira of flavour f; Close stops it.
func New(f Flavor) *Server {
	s := &Server{
		flavor: f, issues: map[string]*Issue{}, comments: map[string][]string{},
		links: map[string][]*RemoteLink{}, nextID: 10000,
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// GatewayURL is the Cloud gateway form of the base URL.
func (s *Server) GatewayURL() string { return s.URL + "/ex/jira/" + CloudID }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Put adds or replaces an issue.
func (s *Server) Put(is Issue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if is.Type == "" {
		is.Type = "Task"
	}
	if is.Status == "" {
		is.Status, is.StatusCategory = "To Do", "new"
	}
	if is.StatusCategory == "" {
		is.StatusCategory = "new"
	}
	s.issues[is.Key] = &is
}

// Get returns an issue as it is now.
func (s *Server) Get(key string) (Issue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, ok := s.issues[key]
	if !ok {
		return Issue{}, false
	}
	return *is, true
}

// Inject adds a fault; the first matching fault answers.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// Requests returns the requests received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Bodies returns the bodies of the requests of method whose path ends with
// suffix, in order.
func (s *Server) Bodies(method, suffix string) [][]byte {
	var out [][]byte
	for _, r := range s.Requests() {
		if r.Method == method && strings.HasSuffix(r.Path, suffix) {
			out = append(out, r.Body)
		}
	}
	return out
}

// Comments returns the texts of the comments on an issue.
func (s *Server) Comments(key string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.comments[key]...)
}

// Links returns the remote links of an issue.
func (s *Server) Links(key string) []RemoteLink {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []RemoteLink
	for _, l := range s.links[key] {
		out = append(out, *l)
	}
	return out
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	path := r.URL.EscapedPath()
	if s.flavor == Cloud {
		path = strings.TrimPrefix(path, "/ex/jira/"+CloudID)
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: path, Query: r.URL.RawQuery, Body: body})
	f := s.fault(r.Method, path)
	s.mu.Unlock()

	if !s.authorized(r) {
		// Jira Cloud answers a bad token with a plain-text 401.
		w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, "Client must be authenticated to access this resource.")
		return
	}
	if f != nil {
		for k, v := range f.Header {
			w.Header()[k] = v
		}
		b := f.Body
		if b == "" {
			b = errorJSON(fmt.Sprintf("injected HTTP %d", f.Status), nil)
		}
		if strings.HasPrefix(b, "{") {
			w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		}
		w.WriteHeader(f.Status)
		io.WriteString(w, b)
		return
	}

	rest, ok := strings.CutPrefix(path, "/rest/api/2/")
	if !ok {
		s.writeError(w, http.StatusNotFound, "not a REST v2 path", nil)
		return
	}
	parts := strings.Split(rest, "/")
	switch {
	case rest == "myself" && r.Method == http.MethodGet:
		s.writeFixture(w, http.StatusOK, "myself-"+s.flavorName()+".json")
	case rest == "search" && s.flavor == Cloud:
		// Removed on Cloud (CHANGE-2046): search/jql replaces it.
		s.writeError(w, http.StatusGone, "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API.", nil)
	case parts[0] == "issue" && len(parts) >= 2:
		s.serveIssue(w, r, parts[1], parts[2:], body)
	default:
		s.writeError(w, http.StatusNotFound, "null for uri: "+path, nil)
	}
}

// fault returns the first live fault matching, counting it down. s.mu is held.
func (s *Server) fault(method, path string) *Fault {
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == method) && strings.HasSuffix(path, f.Path) {
			if f.Times > 0 {
				f.Times--
				if f.Times == 0 {
					s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
				}
			}
			return f
		}
	}
	return nil
}

func (s *Server) authorized(r *http.Request) bool {
	if s.flavor == Cloud {
		u, p, ok := r.BasicAuth()
		return ok && u == Email && p == APIToken
	}
	return r.Header.Get("Authorization") == "Bearer "+PAT
}

func (s *Server) flavorName() string {
	if s.flavor == Cloud {
		return "cloud"
	}
	return "server"
}

func (s *Server) serveIssue(w http.ResponseWriter, r *http.Request, key string, sub []string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, ok := s.issues[key]
	if !ok {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(http.StatusNotFound)
		w.Write(s.fixture("error-not-found.json"))
		return
	}
	switch {
	case len(sub) == 0 && r.Method == http.MethodGet:
		s.writeJSON(w, http.StatusOK, s.renderIssue(is))
	case len(sub) == 1 && sub[0] == "comment" && r.Method == http.MethodPost:
		s.postComment(w, is, body)
	case len(sub) == 1 && sub[0] == "remotelink" && r.Method == http.MethodGet:
		var out []json.RawMessage
		for _, l := range s.links[is.Key] {
			out = append(out, s.renderLink(is, l))
		}
		s.writeJSON(w, http.StatusOK, out)
	case len(sub) == 1 && sub[0] == "remotelink" && r.Method == http.MethodPost:
		s.postLink(w, is, body)
	case len(sub) == 1 && sub[0] == "transitions" && r.Method == http.MethodGet:
		var list []any
		for _, t := range is.Transitions {
			list = append(list, s.renderTransition(t))
		}
		s.writeJSON(w, http.StatusOK, map[string]any{"expand": "transitions", "transitions": list})
	case len(sub) == 1 && sub[0] == "transitions" && r.Method == http.MethodPost:
		s.postTransition(w, is, body)
	default:
		s.writeError(w, http.StatusMethodNotAllowed, "method not allowed", nil)
	}
}

// postComment accepts what Jira Cloud accepts: {"body": text} with an
// optional complete visibility and properties. s.mu is held.
func (s *Server) postComment(w http.ResponseWriter, is *Issue, body []byte) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		s.writeError(w, http.StatusBadRequest, "Unexpected character in the request body", nil)
		return
	}
	errs := map[string]string{}
	for k, v := range m {
		switch k {
		case "body", "properties":
		case "visibility":
			var vis struct{ Type, Value, Identifier string }
			if json.Unmarshal(v, &vis) != nil || vis.Type == "" || (vis.Value == "" && vis.Identifier == "") {
				errs["visibility"] = "Visibility must have a type and a value."
			}
		default:
			errs[k] = "Field '" + k + "' cannot be set. It is not on the appropriate screen, or unknown."
		}
	}
	var text string
	if json.Unmarshal(m["body"], &text) != nil || strings.TrimSpace(text) == "" {
		errs["comment"] = "Comment body can not be empty!"
	}
	if len(errs) > 0 {
		s.writeError(w, http.StatusBadRequest, "", errs)
		return
	}
	s.comments[is.Key] = append(s.comments[is.Key], text)
	var c map[string]any
	json.Unmarshal(s.fixture("comment.json"), &c)
	s.nextID++
	c["id"] = strconv.Itoa(s.nextID)
	c["self"] = s.URL + "/rest/api/2/issue/" + is.Key + "/comment/" + strconv.Itoa(s.nextID)
	c["body"] = text
	c["author"] = s.user()
	c["updateAuthor"] = s.user()
	s.writeJSON(w, http.StatusCreated, c)
}

// postLink upserts a remote link by globalId: 201 when created, 200 when
// an existing link with that globalId was updated. s.mu is held.
func (s *Server) postLink(w http.ResponseWriter, is *Issue, body []byte) {
	var l struct {
		GlobalID string `json:"globalId"`
		Object   *struct {
			URL   string `json:"url"`
			Title string `json:"title"`
		} `json:"object"`
	}
	if err := json.Unmarshal(body, &l); err != nil {
		s.writeError(w, http.StatusBadRequest, "Unexpected character in the request body", nil)
		return
	}
	errs := map[string]string{}
	if l.Object == nil || l.Object.URL == "" {
		errs["url"] = "'url' is required"
	}
	if l.Object == nil || l.Object.Title == "" {
		errs["title"] = "'title' is required."
	}
	if len(errs) > 0 {
		s.writeError(w, http.StatusBadRequest, "", errs)
		return
	}
	status := http.StatusCreated
	var link *RemoteLink
	if l.GlobalID != "" {
		for _, x := range s.links[is.Key] {
			if x.GlobalID == l.GlobalID {
				link, status = x, http.StatusOK
			}
		}
	}
	if link == nil {
		s.nextID++
		link = &RemoteLink{ID: s.nextID, GlobalID: l.GlobalID}
		s.links[is.Key] = append(s.links[is.Key], link)
	}
	link.Body = append(json.RawMessage(nil), body...)
	s.writeJSON(w, status, map[string]any{
		"id":   link.ID,
		"self": s.URL + "/rest/api/2/issue/" + is.Key + "/remotelink/" + strconv.Itoa(link.ID),
	})
}

// postTransition moves the issue: 204, or 400 for a transition not open
// from its status. s.mu is held.
func (s *Server) postTransition(w http.ResponseWriter, is *Issue, body []byte) {
	var p struct {
		Transition struct {
			ID string `json:"id"`
		} `json:"transition"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.Transition.ID == "" {
		s.writeError(w, http.StatusBadRequest, "", map[string]string{"transition": "'transition' identifier must be specified."})
		return
	}
	for _, t := range is.Transitions {
		if t.ID == p.Transition.ID {
			is.Status, is.StatusCategory = t.To, t.ToCategory
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	s.writeError(w, http.StatusBadRequest, "Transition id '"+p.Transition.ID+"' is not valid for this issue.", nil)
}

// renderIssue fills the documented issue shape with is. s.mu is held.
func (s *Server) renderIssue(is *Issue) map[string]any {
	var m map[string]any
	json.Unmarshal(s.fixture("issue.json"), &m)
	m["key"] = is.Key
	m["id"] = strconv.Itoa(10000 + len(is.Key))
	m["self"] = s.URL + "/rest/api/2/issue/" + m["id"].(string)
	f := m["fields"].(map[string]any)
	f["summary"] = is.Summary
	f["issuetype"].(map[string]any)["name"] = is.Type
	st := f["status"].(map[string]any)
	st["name"] = is.Status
	fillCategory(st["statusCategory"].(map[string]any), is.StatusCategory)
	if is.Assignee != "" {
		u := s.user()
		u["displayName"] = is.Assignee
		f["assignee"] = u
	}
	return m
}

func (s *Server) renderTransition(t Transition) map[string]any {
	var m map[string]any
	json.Unmarshal(s.fixture("transition.json"), &m)
	m["id"], m["name"] = t.ID, t.Name
	to := m["to"].(map[string]any)
	to["name"] = t.To
	fillCategory(to["statusCategory"].(map[string]any), t.ToCategory)
	return m
}

func (s *Server) renderLink(is *Issue, l *RemoteLink) json.RawMessage {
	var m map[string]any
	json.Unmarshal(l.Body, &m)
	m["id"] = l.ID
	m["self"] = s.URL + "/rest/api/2/issue/" + is.Key + "/remotelink/" + strconv.Itoa(l.ID)
	out, _ := json.Marshal(m)
	return out
}

// fillCategory sets a statusCategory object as Jira's defaults have it.
func fillCategory(c map[string]any, key string) {
	id, color, name := 2, "blue-gray", "To Do"
	switch key {
	case "indeterminate":
		id, color, name = 4, "yellow", "In Progress"
	case "done":
		id, color, name = 3, "green", "Done"
	}
	c["key"], c["id"], c["colorName"], c["name"] = key, id, color, name
	self := c["self"].(string)
	c["self"] = self[:strings.LastIndex(self, "/")+1] + strconv.Itoa(id)
}

// user is a user of the flavour's shape.
func (s *Server) user() map[string]any {
	var m map[string]any
	json.Unmarshal(s.fixture("user-"+s.flavorName()+".json"), &m)
	return m
}

// fixture reads a fixture with the example host replaced by the server's.
func (s *Server) fixture(name string) []byte {
	b, err := fixtures.ReadFile("testdata/" + name)
	if err != nil {
		panic("jiratest: " + err.Error())
	}
	return bytes.ReplaceAll(b, []byte(fixtureHost), []byte(s.URL))
}

func (s *Server) writeFixture(w http.ResponseWriter, status int, name string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	w.Write(s.fixture(name))
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) writeError(w http.ResponseWriter, status int, msg string, errs map[string]string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	io.WriteString(w, errorJSON(msg, errs))
}

// errorJSON is Jira's error shape.
func errorJSON(msg string, errs map[string]string) string {
	e := struct {
		ErrorMessages []string          `json:"errorMessages"`
		Errors        map[string]string `json:"errors"`
	}{[]string{}, map[string]string{}}
	if msg != "" {
		e.ErrorMessages = append(e.ErrorMessages, msg)
	}
	for k, v := range errs {
		e.Errors[k] = v
	}
	b, _ := json.Marshal(e)
	return string(b)
}
