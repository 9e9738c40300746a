package bot

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
)

// groups resolves the Slack user groups (S… IDs) named in the envs' allow
// lists and approvers into the groups a user belongs to, with
// usergroups.users.list. Members are cached for a TTL; a user not found
// in a group refreshes it, at most once per missRefresh, so that someone
// just added is let in without anyone being able to make the bot call
// Slack on every command.
type groups struct {
	log         *slog.Logger
	client      *Client
	ttl         time.Duration
	missRefresh time.Duration

	mu    sync.Mutex
	cache map[string]groupMembers
}

type groupMembers struct {
	users   []string // sorted
	fetched time.Time
}

// isGroupID reports whether an allow-list entry names a user group.
func isGroupID(id string) bool { return strings.HasPrefix(id, "S") }

// configuredGroups lists the user groups the envs' rules name.
func configuredGroups(envs []workflow.Env) []string {
	var out []string
	add := func(ids []string) {
		for _, id := range ids {
			if isGroupID(id) && !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	for _, e := range envs {
		add(e.Allowed)
		for _, ids := range e.AllowedFor {
			add(ids)
		}
		add(e.Approvals.Approvers)
	}
	slices.Sort(out)
	return out
}

// of returns which of ids user belongs to. A group Slack cannot list is
// logged and left out: its members are refused until it can be read.
func (g *groups) of(ctx context.Context, user string, ids []string) []string {
	var in []string
	for _, id := range ids {
		ok, err := g.member(ctx, id, user)
		if err != nil {
			g.log.Warn("resolve user group", slog.String("group", id), slog.Any("err", err))
			continue
		}
		if ok {
			in = append(in, id)
		}
	}
	return in
}

// member reports whether user is in group, from the cache when fresh.
func (g *groups) member(ctx context.Context, group, user string) (bool, error) {
	now := time.Now()
	g.mu.Lock()
	m, cached := g.cache[group]
	g.mu.Unlock()
	if cached && now.Sub(m.fetched) < g.ttl {
		if _, ok := slices.BinarySearch(m.users, user); ok || now.Sub(m.fetched) < g.missRefresh {
			return ok, nil
		}
	}
	users, err := g.client.groupMembers(ctx, group)
	if err != nil {
		return false, err
	}
	slices.Sort(users)
	g.mu.Lock()
	g.cache[group] = groupMembers{users: users, fetched: time.Now()}
	g.mu.Unlock()
	_, ok := slices.BinarySearch(users, user)
	return ok, nil
}
