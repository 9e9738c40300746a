package slacktest

import (
	"net/http"
	"strings"
)

// DM is the ID of the direct-message channel between the bot and user
// that conversations.open answers (D and the user ID without its U).
func DM(user string) string { return "D" + user[1:] }

// openConversation answers conversations.open with users=one user ID, in
// the shape of Slack's documented example ({"ok": true, "channel": {"id":
// "D…"}}), already_open from the second call on; several users (an MPIM)
// or a malformed ID answer user_not_found, none users_list_not_supplied.
func (s *Server) openConversation(w http.ResponseWriter, c Call) {
	users := c.Param("users")
	if users == "" {
		reply(w, map[string]any{"ok": false, "error": "users_list_not_supplied"})
		return
	}
	if strings.Contains(users, ",") || len(users) < 3 || (users[0] != 'U' && users[0] != 'W') {
		reply(w, map[string]any{"ok": false, "error": "user_not_found"})
		return
	}
	id := DM(users)
	s.mu.Lock()
	open := s.dms[id]
	if s.dms == nil {
		s.dms = map[string]bool{}
	}
	s.dms[id] = true
	s.mu.Unlock()
	out := map[string]any{"ok": true, "channel": map[string]any{"id": id}}
	if open {
		out["no_op"], out["already_open"] = true, true
	}
	reply(w, out)
}
