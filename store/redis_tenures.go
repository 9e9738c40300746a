package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/code-releaser/code-releaser/workflow"
)

var tenureExtend = script("tenure_extend")

// tenuresKey is env's tenures hash, under the env's hash tag.
func (s *Redis) tenuresKey(env string) string { return s.envKey(env, "tenures") }

// Tenures implements workflow.Tenures.
func (s *Redis) Tenures(ctx context.Context, env string) (map[workflow.TicketKey]workflow.Tenure, error) {
	const op = "store.tenures"
	all, err := s.rdb.HGetAll(ctx, s.tenuresKey(env)).Result()
	if err != nil {
		return nil, fail(op, err)
	}
	out := make(map[workflow.TicketKey]workflow.Tenure, len(all))
	for k, v := range all {
		rel, n, ok := strings.Cut(v, "|")
		ext, err := strconv.Atoi(n)
		if !ok || err != nil {
			return nil, workflow.Errorf(op, workflow.Internal, "the tenure of %s in %s is damaged: %q", k, env, v)
		}
		out[workflow.TicketKey(k)] = workflow.Tenure{Ticket: workflow.TicketKey(k), ReleaseID: rel, Extensions: ext}
	}
	return out, nil
}

// Extend implements workflow.Tenures: one Lua script on the env's hash.
func (s *Redis) Extend(ctx context.Context, env string, ticket workflow.TicketKey, releaseID string, from, max int) (workflow.Tenure, bool, error) {
	const op = "store.extend"
	if strings.Contains(releaseID, "|") {
		return workflow.Tenure{}, false, workflow.Errorf(op, workflow.Invalid, "%q is not a release ID", releaseID)
	}
	res, err := tenureExtend.Run(ctx, s.rdb, []string{s.tenuresKey(env)}, string(ticket), releaseID, from, max).Slice()
	if err != nil {
		return workflow.Tenure{}, false, fail(op, err)
	}
	if len(res) != 3 {
		return workflow.Tenure{}, false, workflow.Errorf(op, workflow.Internal, "unexpected extend reply %v", res)
	}
	ok, _ := res[0].(int64)
	n, _ := res[2].(int64)
	return workflow.Tenure{Ticket: ticket, ReleaseID: fmt.Sprint(res[1]), Extensions: int(n)}, ok == 1, nil
}

// DropTenures implements workflow.Tenures.
func (s *Redis) DropTenures(ctx context.Context, env string, tickets ...workflow.TicketKey) error {
	if len(tickets) == 0 {
		return nil
	}
	fields := make([]string, len(tickets))
	for i, k := range tickets {
		fields[i] = string(k)
	}
	if err := s.rdb.HDel(ctx, s.tenuresKey(env), fields...).Err(); err != nil {
		return fail("store.tenures", err)
	}
	return nil
}
