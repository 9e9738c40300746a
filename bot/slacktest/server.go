// Package slacktest is a local Slack that speaks the real protocol, for
// tests and the demo: apps.connections.open hands out a WebSocket URL; the
// socket sends hello, pings, envelopes and disconnect and records the
// acks with their latency; the Web API methods the bot uses take form and
// JSON bodies, answer ok:false errors and 429 with Retry-After when told
// to; response_url replies are recorded. Envelopes are built from the
// payloads in testdata/slack/, modelled on Slack's documented examples.
package slacktest

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

//go:embed testdata/slack/*.json
var fixtures embed.FS

// The identities the server plays.
const (
	TeamID    = "T0001"
	AppID     = "A0CODEREL"
	BotUserID = "U0BOT"
	Channel   = "C0123ABCD"
)

// Ack is one acknowledgement received on a socket.
type Ack struct {
	EnvelopeID string
	Payload    json.RawMessage
	Latency    time.Duration // from the envelope's send to its ack
	Conn       int
}

// Call is one Web API call.
type Call struct {
	Method string
	Form   url.Values     // form-encoded bodies
	JSON   map[string]any // JSON bodies
	Token  string         // from the Authorization header or the form
	At     time.Time
}

// Param returns a call's parameter as a string, from the form or JSON.
func (c Call) Param(name string) string {
	if c.Form != nil {
		return c.Form.Get(name)
	}
	switch v := c.JSON[name].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// Message is a channel message as it stands after updates.
type Message struct {
	Channel, TS, Thread string
	Text                string
	Blocks              string // the JSON of the blocks
	Updates             int
	Versions            []string // the text as posted, then after each update
}

// Ephemeral is a chat.postEphemeral message: shown to User only, in
// Channel.
type Ephemeral struct {
	Channel, User, Thread string
	Text                  string
	Blocks                string // the JSON of the blocks
}

// Server is a local Slack.
type Server struct {
	URL string // Web API base URL, ending with "/" (slack.OptionAPIURL)

	srv      *httptest.Server
	upgrader websocket.Upgrader
	ping     time.Duration

	mu        sync.Mutex
	conns     []*conn
	nconn     int
	acks      []Ack
	ackWait   map[string][]chan Ack
	sentAt    map[string]time.Time
	calls     []Call
	messages  map[string]*Message // channel/ts
	order     []string
	responses []map[string]any
	ephemeral []Ephemeral
	limits    map[string][]time.Duration // method → queued 429s
	failures  map[string][]string        // method → queued error codes
	opened    chan int
	groups    map[string][]string // user group ID → members
	seq       atomic.Int64
	tokens    struct{ bot, app string }
	dms       map[string]bool // DM channels opened
}

type conn struct {
	id     int
	ws     *websocket.Conn
	wmu    sync.Mutex
	closed chan struct{}
}

// Option configures a Server.
type Option func(*Server)

// WithPingInterval sets how often the socket pings (default 1 s).
func WithPingInterval(d time.Duration) Option { return func(s *Server) { s.ping = d } }

// WithTokens makes the server refuse other tokens (invalid_auth).
func WithTokens(bot, app string) Option {
	return func(s *Server) { s.tokens.bot, s.tokens.app = bot, app }
}

// NewServer starts a Server; Close stops it.
func NewServer(opts ...Option) *Server {
	s := &Server{
		upgrader: websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }},
		ping:     time.Second,
		ackWait:  map[string][]chan Ack{},
		sentAt:   map[string]time.Time{},
		messages: map[string]*Message{},
		limits:   map[string][]time.Duration{},
		failures: map[string][]string{},
		opened:   make(chan int, 100),
		groups:   map[string][]string{},
	}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", s.api)
	mux.HandleFunc("/link/", s.socket)
	mux.HandleFunc("/response/", s.response)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL + "/api/"
	return s
}

// Close closes the sockets and stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	conns := append([]*conn(nil), s.conns...)
	s.mu.Unlock()
	for _, c := range conns {
		c.ws.Close()
	}
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// ResponseURL is a response_url served by this server.
func (s *Server) ResponseURL() string {
	return fmt.Sprintf("%s/response/%d", s.srv.URL, s.seq.Add(1))
}

// WaitConnections waits until n sockets have been opened in all.
func (s *Server) WaitConnections(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		got := s.nconn
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d socket connections, have %d: %w", n, got, ctx.Err())
		case <-s.opened:
		}
	}
}

// Connections returns how many sockets are open now.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// --- the socket ---

func (s *Server) socket(w http.ResponseWriter, r *http.Request) {
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.nconn++
	c := &conn{id: s.nconn, ws: ws, closed: make(chan struct{})}
	s.conns = append(s.conns, c)
	s.mu.Unlock()
	defer s.drop(c)

	if err := c.write(fixture("hello.json")); err != nil {
		return
	}
	s.opened <- c.id
	go s.pinger(c)
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(data, &ack) != nil || ack.EnvelopeID == "" {
			continue
		}
		s.mu.Lock()
		a := Ack{EnvelopeID: ack.EnvelopeID, Payload: ack.Payload, Conn: c.id, Latency: time.Since(s.sentAt[ack.EnvelopeID])}
		s.acks = append(s.acks, a)
		waiters := s.ackWait[a.EnvelopeID]
		delete(s.ackWait, a.EnvelopeID)
		s.mu.Unlock()
		for _, ch := range waiters {
			ch <- a
		}
	}
}

func (s *Server) drop(c *conn) {
	close(c.closed)
	c.ws.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.conns {
		if x == c {
			s.conns = append(s.conns[:i], s.conns[i+1:]...)
			break
		}
	}
}

func (s *Server) pinger(c *conn) {
	t := time.NewTicker(s.ping)
	defer t.Stop()
	for {
		select {
		case <-c.closed:
			return
		case <-t.C:
			if err := c.ws.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second)); err != nil {
				return
			}
		}
	}
}

func (c *conn) write(data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, data)
}

// Send sends an envelope on the newest open socket (or on socket n when
// n > 0) and returns its envelope id.
func (s *Server) Send(envelope map[string]any, n int) (string, error) {
	id, _ := envelope["envelope_id"].(string)
	data, err := json.Marshal(envelope)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	var c *conn
	for _, x := range s.conns {
		if n <= 0 || x.id == n {
			c = x
		}
	}
	if c != nil {
		s.sentAt[id] = time.Now()
	}
	s.mu.Unlock()
	if c == nil {
		return "", errors.New("slacktest: no open socket")
	}
	return id, c.write(data)
}

// Disconnect sends Slack's disconnect message (refresh_requested) on every
// open socket; slack-go opens a new connection.
func (s *Server) Disconnect() error {
	s.mu.Lock()
	conns := append([]*conn(nil), s.conns...)
	s.mu.Unlock()
	var errs []error
	for _, c := range conns {
		errs = append(errs, c.write(fixture("disconnect.json")))
	}
	return errors.Join(errs...)
}

// WaitAck waits for the ack of envelope id.
func (s *Server) WaitAck(ctx context.Context, id string) (Ack, error) {
	s.mu.Lock()
	for _, a := range s.acks {
		if a.EnvelopeID == id {
			s.mu.Unlock()
			return a, nil
		}
	}
	ch := make(chan Ack, 1)
	s.ackWait[id] = append(s.ackWait[id], ch)
	s.mu.Unlock()
	select {
	case a := <-ch:
		return a, nil
	case <-ctx.Done():
		return Ack{}, fmt.Errorf("no ack for envelope %s: %w", id, ctx.Err())
	}
}

// Acks returns the acks of envelope id (every ack when id is "").
func (s *Server) Acks(id string) []Ack {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Ack
	for _, a := range s.acks {
		if id == "" || a.EnvelopeID == id {
			out = append(out, a)
		}
	}
	return out
}

// --- envelopes from the fixtures ---

func fixture(name string) []byte {
	b, err := fixtures.ReadFile("testdata/slack/" + name)
	if err != nil {
		panic(err)
	}
	return b
}

// Fixture returns a fixture as a map, for tests to edit.
func Fixture(name string) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(fixture(name), &m); err != nil {
		panic(err)
	}
	return m
}

func (s *Server) envelopeID() string {
	return fmt.Sprintf("env-%d-%d", time.Now().UnixNano(), s.seq.Add(1))
}

// SlashCommand builds a /release envelope typed by user in the channel,
// with a response_url served here. edit may change the payload.
func (s *Server) SlashCommand(user, text string, edit ...func(payload map[string]any)) map[string]any {
	e := Fixture("slash_command.json")
	e["envelope_id"] = s.envelopeID()
	p := e["payload"].(map[string]any)
	p["user_id"], p["user_name"], p["text"] = user, strings.ToLower(user), text
	p["response_url"] = s.ResponseURL()
	p["trigger_id"] = fmt.Sprintf("%d.%d.%032x", 1700000000+s.seq.Add(1), 1234567890, time.Now().UnixNano())
	for _, f := range edit {
		f(p)
	}
	return e
}

// Click builds a block_actions envelope: user clicks actionID with value.
// Each click has its own trigger_id and action_ts, as in Slack; Redeliver
// sends the same click again.
func (s *Server) Click(user, actionID, value string) map[string]any {
	e := Fixture("block_actions.json")
	e["envelope_id"] = s.envelopeID()
	p := e["payload"].(map[string]any)
	p["user"].(map[string]any)["id"] = user
	p["response_url"] = s.ResponseURL()
	n := s.seq.Add(1)
	p["trigger_id"] = fmt.Sprintf("%d.%d.%032x", 1700000000+n, 1234567890, time.Now().UnixNano())
	a := p["actions"].([]any)[0].(map[string]any)
	a["action_id"], a["value"] = actionID, value
	a["action_ts"] = fmt.Sprintf("%d.%06d", 1700000000+n, n%1000000)
	return e
}

// Redeliver returns the envelope e again under a new envelope_id: the same
// click reaching the app a second time (another connection, a replay).
func (s *Server) Redeliver(e map[string]any) map[string]any {
	var out map[string]any
	b, err := json.Marshal(e)
	if err == nil {
		err = json.Unmarshal(b, &out)
	}
	if err != nil {
		panic(err)
	}
	out["envelope_id"] = s.envelopeID()
	return out
}

// HomeOpened builds an app_home_opened envelope for user.
func (s *Server) HomeOpened(user string) map[string]any {
	e := Fixture("app_home_opened.json")
	e["envelope_id"] = s.envelopeID()
	e["payload"].(map[string]any)["event"].(map[string]any)["user"] = user
	return e
}

// --- the Web API ---

// SetUserGroup makes usergroups.users.list answer users for group (an
// S… ID); a group never set answers no_such_subteam.
func (s *Server) SetUserGroup(group string, users ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[group] = append([]string(nil), users...)
}

// RateLimit makes the next n calls of method answer 429 with Retry-After.
func (s *Server) RateLimit(method string, n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.limits[method] = append(s.limits[method], retryAfter)
	}
}

// Fail makes the next call of method answer ok:false with code.
func (s *Server) Fail(method, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[method] = append(s.failures[method], code)
}

// Calls returns the Web API calls of method (every call when "").
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Messages returns the channel's messages as they stand, oldest first
// (every channel when "").
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, k := range s.order {
		m := s.messages[k]
		if channel == "" || m.Channel == channel {
			c := *m
			c.Versions = slices.Clone(m.Versions)
			out = append(out, c)
		}
	}
	return out
}

// Ephemerals returns the ephemeral messages shown to user (to anyone
// when ""), oldest first.
func (s *Server) Ephemerals(user string) []Ephemeral {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Ephemeral
	for _, e := range s.ephemeral {
		if user == "" || e.User == user {
			out = append(out, e)
		}
	}
	return out
}

// Responses returns the bodies posted to response_urls.
func (s *Server) Responses() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]map[string]any, len(s.responses))
	for i, r := range s.responses {
		out[i] = maps.Clone(r)
	}
	return out
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	call := Call{Method: method, At: time.Now()}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if len(body) > 0 && json.Unmarshal(body, &call.JSON) != nil {
			reply(w, map[string]any{"ok": false, "error": "invalid_json"})
			return
		}
	} else {
		call.Form, _ = url.ParseQuery(string(body))
		if q := r.URL.Query(); len(q) > 0 {
			for k, v := range q {
				call.Form[k] = v
			}
		}
	}
	call.Token = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if call.Token == "" && call.Form != nil {
		call.Token = call.Form.Get("token")
	}

	s.mu.Lock()
	s.calls = append(s.calls, call)
	var limited time.Duration
	if q := s.limits[method]; len(q) > 0 {
		limited, s.limits[method] = q[0], q[1:]
	}
	var failure string
	if q := s.failures[method]; len(q) > 0 && limited == 0 {
		failure, s.failures[method] = q[0], q[1:]
	}
	s.mu.Unlock()

	if limited > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((limited+time.Second-1)/time.Second)))
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	if failure != "" {
		reply(w, map[string]any{"ok": false, "error": failure})
		return
	}
	if !s.authorized(method, call.Token) {
		reply(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	switch method {
	case "apps.connections.open":
		u := strings.Replace(s.srv.URL, "http://", "ws://", 1) + "/link/?ticket=" + strconv.FormatInt(s.seq.Add(1), 10) + "&app_id=" + AppID
		reply(w, map[string]any{"ok": true, "url": u})
	case "auth.test":
		reply(w, map[string]any{"ok": true, "url": WorkspaceURL, "team": "Acme", "user": "code-releaser",
			"team_id": TeamID, "user_id": BotUserID, "bot_id": "B0BOT", "is_enterprise_install": false})
	case "chat.postMessage":
		s.postMessage(w, call)
	case "chat.update":
		s.updateMessage(w, call)
	case "chat.postEphemeral":
		if call.Param("channel") == "" || call.Param("user") == "" {
			reply(w, map[string]any{"ok": false, "error": "channel_not_found"})
			return
		}
		s.mu.Lock()
		s.ephemeral = append(s.ephemeral, Ephemeral{Channel: call.Param("channel"), User: call.Param("user"), Thread: call.Param("thread_ts"),
			Text: call.Param("text"), Blocks: call.Param("blocks")})
		s.mu.Unlock()
		reply(w, map[string]any{"ok": true, "message_ts": s.ts()})
	case "chat.getPermalink":
		s.permalink(w, call)
	case "conversations.open":
		s.openConversation(w, call)
	case "usergroups.users.list":
		s.groupMembers(w, call)
	case "views.publish":
		if call.JSON == nil || call.JSON["user_id"] == nil || call.JSON["view"] == nil {
			reply(w, map[string]any{"ok": false, "error": "invalid_arguments"})
			return
		}
		view, _ := call.JSON["view"].(map[string]any)
		if bl, _ := view["blocks"].([]any); len(bl) > 100 {
			reply(w, map[string]any{"ok": false, "error": "invalid_blocks"})
			return
		}
		reply(w, map[string]any{"ok": true, "view": map[string]any{"id": "V0HOME", "type": "home", "blocks": view["blocks"]}})
	default:
		reply(w, map[string]any{"ok": false, "error": "unknown_method"})
	}
}

func (s *Server) authorized(method, token string) bool {
	want, prefix := s.tokens.bot, "xoxb-"
	if method == "apps.connections.open" {
		want, prefix = s.tokens.app, "xapp-"
	}
	if want != "" {
		return token == want
	}
	return strings.HasPrefix(token, prefix)
}

func (s *Server) ts() string {
	n := s.seq.Add(1)
	return fmt.Sprintf("%d.%06d", 1700000000+n, n)
}

func (s *Server) postMessage(w http.ResponseWriter, c Call) {
	ch := c.Param("channel")
	if ch == "" {
		reply(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	if c.Param("text") == "" && c.Param("blocks") == "" {
		reply(w, map[string]any{"ok": false, "error": "no_text"})
		return
	}
	if bl := c.Param("blocks"); bl != "" {
		var blocks []any
		if json.Unmarshal([]byte(bl), &blocks) != nil || len(blocks) > 50 {
			reply(w, map[string]any{"ok": false, "error": "invalid_blocks"})
			return
		}
	}
	m := &Message{Channel: ch, TS: s.ts(), Thread: c.Param("thread_ts"), Text: c.Param("text"), Blocks: c.Param("blocks"), Versions: []string{c.Param("text")}}
	s.mu.Lock()
	s.messages[ch+"/"+m.TS] = m
	s.order = append(s.order, ch+"/"+m.TS)
	s.mu.Unlock()
	reply(w, map[string]any{"ok": true, "channel": ch, "ts": m.TS, "message": map[string]any{"text": m.Text, "ts": m.TS}})
}

func (s *Server) updateMessage(w http.ResponseWriter, c Call) {
	ch, ts := c.Param("channel"), c.Param("ts")
	s.mu.Lock()
	m, ok := s.messages[ch+"/"+ts]
	if ok {
		m.Text, m.Blocks = c.Param("text"), c.Param("blocks")
		m.Updates++
		m.Versions = append(m.Versions, m.Text)
	}
	s.mu.Unlock()
	if !ok {
		reply(w, map[string]any{"ok": false, "error": "message_not_found"})
		return
	}
	reply(w, map[string]any{"ok": true, "channel": ch, "ts": ts, "text": m.Text})
}

// groupMembers answers usergroups.users.list in the shape of
// testdata/slack/usergroups_users_list.json (Slack's documented example).
func (s *Server) groupMembers(w http.ResponseWriter, c Call) {
	s.mu.Lock()
	users, ok := s.groups[c.Param("usergroup")]
	users = append([]string{}, users...)
	s.mu.Unlock()
	if !ok {
		reply(w, map[string]any{"ok": false, "error": "no_such_subteam"})
		return
	}
	resp := Fixture("usergroups_users_list.json")
	resp["users"] = users
	reply(w, resp)
}

// WorkspaceURL is the workspace's address, as auth.test answers it.
const WorkspaceURL = "https://acme.slack.com/"

// Permalink is the link chat.getPermalink gives to the message ts in
// channel: Slack's form, the ts without its dot after "p"; a thread reply
// also names its thread.
func Permalink(channel, ts, thread string) string {
	link := WorkspaceURL + "archives/" + channel + "/p" + strings.ReplaceAll(ts, ".", "")
	if thread != "" && thread != ts {
		link += "?thread_ts=" + thread + "&cid=" + channel
	}
	return link
}

// permalink answers chat.getPermalink (channel, message_ts) in the shape
// of testdata/slack/chat_get_permalink.json (Slack's documented example),
// or message_not_found for a message it does not hold.
func (s *Server) permalink(w http.ResponseWriter, c Call) {
	ch, ts := c.Param("channel"), c.Param("message_ts")
	if ch == "" {
		reply(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	s.mu.Lock()
	m, ok := s.messages[ch+"/"+ts]
	var thread string
	if ok {
		thread = m.Thread
	}
	s.mu.Unlock()
	if !ok {
		reply(w, map[string]any{"ok": false, "error": "message_not_found"})
		return
	}
	resp := Fixture("chat_get_permalink.json")
	resp["channel"], resp["permalink"] = ch, Permalink(ch, ts, thread)
	reply(w, resp)
}

// response records a response_url reply; Slack answers plain "ok".
func (s *Server) response(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	body["_url"] = r.URL.Path
	s.mu.Lock()
	s.responses = append(s.responses, body)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "ok")
}
