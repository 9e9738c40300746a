package store

import (
	"context"
	"crypto/tls"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/code-releaser/code-releaser/workflow"
)

// Redis is a workflow.Store on Redis, shared by every replica. It works
// with a single server, Sentinel or Cluster through redis.UniversalClient:
// every key lives under one prefix, and the keys one operation touches
// share a hash tag (the env, or the release), so each method is one
// command, one MULTI or one Lua script on one slot. Expiry is decided by
// the Redis server's clock. Nothing grows without bound: leases, claims and
// queue entries expire, queues and journals are capped, the audit stream is
// trimmed to workflow.AuditKeep, release records expire after ReleaseTTL.
// It never scans keys.
type Redis struct {
	rdb  redis.UniversalClient
	opts RedisOptions
	own  bool // Close closes rdb

	epochMu   sync.Mutex
	epochSeen map[string]bool // EpochEnvs whose marker this store saw
}

// RedisOptions tune a Redis store; zero values take the defaults.
type RedisOptions struct {
	// Prefix starts every key; default "code-releaser:". It must not
	// contain '{' or '}' (the store's hash tags follow it).
	Prefix string
	// ReleaseTTL is how long release records and their journals are kept
	// after they are created; default 90 days.
	ReleaseTTL time.Duration
	// MaxQueue bounds each env's queue; Enqueue on a full queue gives a
	// Busy error. Default 500.
	MaxQueue int
	// MaxSteps bounds a release's journal (the oldest steps go first).
	// Default 1000.
	MaxSteps int
	// SyncReplicas, when positive, makes the writes whose loss in a
	// failover would let two workers run one job (taking a lease, a
	// release's final state) wait until that many replicas have them
	// (see onPrimary). Dial sets 1.
	SyncReplicas int
	// SyncTimeout bounds that wait; default 1s.
	SyncTimeout time.Duration
	// EpochEnvs are the envs whose hash slots Epoch watches for a loss of
	// data (see Epoch): a cluster shard can lose its data alone.
	EpochEnvs []string
}

func (o RedisOptions) withDefaults() RedisOptions {
	if o.Prefix == "" {
		o.Prefix = "code-releaser:"
	}
	if o.ReleaseTTL <= 0 {
		o.ReleaseTTL = 90 * 24 * time.Hour
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = 500
	}
	if o.MaxSteps <= 0 {
		o.MaxSteps = 1000
	}
	if o.SyncTimeout <= 0 {
		o.SyncTimeout = time.Second
	}
	return o
}

var _ workflow.Store = (*Redis)(nil)

// NewRedis returns a store on rdb, which the caller keeps and closes.
func NewRedis(rdb redis.UniversalClient, opts RedisOptions) (*Redis, error) {
	opts = opts.withDefaults()
	if strings.ContainsAny(opts.Prefix, "{}") {
		return nil, workflow.Errorf("store.redis", workflow.Invalid, "the key prefix %q must not contain { or }", opts.Prefix)
	}
	return &Redis{rdb: rdb, opts: opts, epochSeen: map[string]bool{}}, nil
}

// DialRedis connects to the server at rawURL (redis://[user@]host:port/db,
// rediss:// for TLS, unix://path), with password when not empty, checks
// that it answers, and returns a store that owns the connection (Close
// closes it).
func DialRedis(ctx context.Context, rawURL, password string, opts RedisOptions) (*Redis, error) {
	return Dial(ctx, RedisTarget{URL: rawURL, Password: password}, opts)
}

// ClusterReload is how often a cluster client re-reads the slot map while
// it is used. go-redis re-reads it at once on MOVED, ASK and READONLY, but
// a primary that died answers nothing: without this the client keeps
// dialling it until its default 60s pass, long after its replica took
// over (measured: every submit failed for 10s after a failover of about
// 2s).
const ClusterReload = time.Second

// RedisTarget says where the store's Redis is: exactly one of URL (one
// server), Sentinel (MasterName and SentinelAddrs) or ClusterAddrs.
type RedisTarget struct {
	URL           string
	MasterName    string
	SentinelAddrs []string
	ClusterAddrs  []string
	// TLS, when set, is used for every connection (data nodes and
	// sentinels); a rediss:// URL uses TLS without it.
	TLS *tls.Config
	// Password of the data nodes (REDIS_PASSWORD); SentinelPassword of
	// the sentinels (SENTINEL_PASSWORD), when they have one.
	Password, SentinelPassword string
}

// client builds the go-redis client for t.
func (t RedisTarget) client() (redis.UniversalClient, string, error) {
	const op = "store.redis"
	set := 0
	for _, b := range []bool{t.URL != "", t.MasterName != "" || len(t.SentinelAddrs) > 0, len(t.ClusterAddrs) > 0} {
		if b {
			set++
		}
	}
	if set != 1 {
		return nil, "", workflow.Errorf(op, workflow.Invalid, "say where Redis is with exactly one of a URL, a sentinel master and its sentinels, or cluster nodes")
	}
	switch {
	case len(t.ClusterAddrs) > 0:
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: t.ClusterAddrs, Password: t.Password, TLSConfig: t.TLS,
				ClusterStateReloadInterval: ClusterReload, MaintNotificationsConfig: NoMaintNotifications()}),
			fmt.Sprintf("the Redis cluster at %s", strings.Join(t.ClusterAddrs, ", ")), nil
	case t.URL == "":
		if t.MasterName == "" || len(t.SentinelAddrs) == 0 {
			return nil, "", workflow.Errorf(op, workflow.Invalid, "Sentinel needs the master's name and at least one sentinel address")
		}
		return redis.NewFailoverClient(&redis.FailoverOptions{
				MasterName: t.MasterName, SentinelAddrs: t.SentinelAddrs,
				Password: t.Password, SentinelPassword: t.SentinelPassword, TLSConfig: t.TLS,
			}),
			fmt.Sprintf("the Redis primary %q of the sentinels at %s", t.MasterName, strings.Join(t.SentinelAddrs, ", ")), nil
	}
	o, err := redis.ParseURL(t.URL)
	if err != nil {
		return nil, "", workflow.Wrap(op, workflow.Invalid, "redis.url is not a Redis URL", err)
	}
	if t.Password != "" {
		o.Password = t.Password
	}
	if t.TLS != nil {
		o.TLSConfig = t.TLS
	}
	o.MaintNotificationsConfig = NoMaintNotifications()
	return redis.NewClient(o), "Redis at " + o.Addr, nil
}

// NoMaintNotifications is the go-redis option that leaves out its
// maintenance notifications (a Redis Enterprise feature; the Sentinel
// client already leaves them out). In go-redis's default "auto" mode a new
// connection whose handshake Redis refuses switches the mode off by
// writing the client's options, and two connections the store opens at
// once with Conn (see onPrimary) race on that write.
func NoMaintNotifications() *maintnotifications.Config {
	return &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
}

// Dial connects to the Redis at t, checks that it answers (every primary
// of a cluster), and returns a store that owns the connection (Close
// closes it).
func Dial(ctx context.Context, t RedisTarget, opts RedisOptions) (*Redis, error) {
	const op = "store.redis"
	rdb, where, err := t.client()
	if err != nil {
		return nil, err
	}
	if c, ok := rdb.(*redis.ClusterClient); ok {
		err = c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return m.Ping(ctx).Err() })
	} else {
		err = rdb.Ping(ctx).Err()
	}
	if err != nil {
		rdb.Close()
		if isAuthError(err) {
			which := "REDIS_PASSWORD"
			if t.MasterName != "" && strings.Contains(err.Error(), "sentinels") {
				which = "SENTINEL_PASSWORD: the sentinels'"
			}
			return nil, workflow.Wrap(op, workflow.Invalid, where+" refused the password ("+which+")", err)
		}
		return nil, workflow.Wrap(op, workflow.Unavailable, where+" does not answer", err)
	}
	if opts.SyncReplicas == 0 {
		// A primary with replicas can fail over to one (Sentinel, a
		// cluster, a managed primary endpoint); one without is not waited
		// for.
		opts.SyncReplicas = 1
	}
	s, err := NewRedis(rdb, opts)
	if err != nil {
		rdb.Close()
		return nil, err
	}
	s.own = true
	return s, nil
}

// isAuthError reports whether err is Redis refusing the client's
// credentials (or asking for some).
func isAuthError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"WRONGPASS", "NOAUTH", "invalid password", "AUTH <password> called without any password configured"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// Close closes the connection when the store opened it.
func (s *Redis) Close() error {
	if !s.own {
		return nil
	}
	return s.rdb.Close()
}

//go:embed lua/*.lua
var luaFiles embed.FS

// script builds a script from the shared prelude and the named files.
func script(names ...string) *redis.Script {
	var b strings.Builder
	for _, n := range append([]string{"prelude"}, names...) {
		src, err := luaFiles.ReadFile("lua/" + n + ".lua")
		if err != nil {
			panic(err) // embedded: cannot happen
		}
		b.Write(src)
		b.WriteString("\n")
	}
	return redis.NewScript(b.String())
}

var (
	leaseAcquire  = script("lease_acquire")
	leaseRenew    = script("lease_renew")
	leaseRelease  = script("lease_release")
	fencedSet     = script("fenced_set")
	queueEnqueue  = script("queue_prelude", "queue_enqueue")
	queueTouch    = script("queue_prelude", "queue_touch")
	queuePosition = script("queue_prelude", "queue_position")
	queueList     = script("queue_prelude", "queue_list")
	queueDequeue  = script("queue_prelude", "queue_dequeue")
	queueRemove   = script("queue_prelude", "queue_remove")
	releaseCreate = script("release_create")
	releaseAppend = script("release_append")
	releaseUpdate = script("release_update")
)

// Keys. An env's keys share the hash tag {env}, a release's {rel:ID}.
func (s *Redis) envKey(env, name string) string { return s.opts.Prefix + "{" + env + "}:" + name }
func (s *Redis) relKey(id string) string        { return s.opts.Prefix + "{rel:" + id + "}" }
func (s *Redis) claimKey(key string) string     { return s.opts.Prefix + "claim:" + key }

func (s *Redis) queueKeys(env string) []string {
	return []string{s.envKey(env, "q:order"), s.envKey(env, "q:deadline"), s.envKey(env, "q:entries"), s.envKey(env, "q:seq")}
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

// fail classifies a Redis error: the server unreachable or not ready is
// Unavailable, anything else (a script error) Internal.
func fail(op string, err error) error {
	if isUnavailable(err) {
		return workflow.Wrap(op, workflow.Unavailable, "the state store (Redis) is unavailable", err)
	}
	return workflow.Wrap(op, workflow.Internal, "the store (Redis) refused an operation", err)
}

// isUnavailable is the one place that reads Redis error messages: replies
// that mean "not now" (loading after a restart, a replica, a cluster
// failover) count as the server being unavailable, as do network errors
// and an ended context.
func isUnavailable(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return true
	}
	msg := rerr.Error()
	for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "BUSY", "MOVED", "ASK"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// AcquireLease implements workflow.Leases.
func (s *Redis) AcquireLease(ctx context.Context, env string, want workflow.Lease, ttl time.Duration) (workflow.Lease, bool, error) {
	const op = "store.lease"
	if want.Token == "" || ttl <= 0 {
		return workflow.Lease{}, false, workflow.Errorf(op, workflow.Invalid, "a lease needs an owner token and a positive TTL")
	}
	keys := []string{s.envKey(env, "lease"), s.envKey(env, "fence")}
	var res []any
	err := s.onPrimary(ctx, keys[0], func(c redis.Scripter) (bool, error) {
		var err error
		res, err = leaseAcquire.Run(ctx, c, keys, want.Token, want.ReleaseID, string(want.Ticket), want.By, max(ms(ttl), 1)).Slice()
		return err == nil && len(res) == 3 && res[2] == int64(1), err
	})
	if err != nil {
		return workflow.Lease{}, false, fail(op, err)
	}
	if len(res) != 3 {
		return workflow.Lease{}, false, workflow.Errorf(op, workflow.Internal, "unexpected lease reply %v", res)
	}
	l, err := parseLease(env, res[1])
	if err != nil {
		return workflow.Lease{}, false, err
	}
	ok, _ := res[0].(int64)
	return l, ok == 1, nil
}

// parseLease reads a lease hash as HGETALL returns it from a script.
func parseLease(env string, v any) (workflow.Lease, error) {
	flat, _ := v.([]any)
	f := map[string]string{}
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		val, _ := flat[i+1].(string)
		f[k] = val
	}
	fence, err := strconv.ParseInt(f["fence"], 10, 64)
	if err != nil {
		return workflow.Lease{}, workflow.Wrap("store.lease", workflow.Internal, "a lease in Redis is damaged", err)
	}
	return workflow.Lease{
		Env: env, Token: f["token"], Fence: fence, ReleaseID: f["release"],
		Ticket: workflow.TicketKey(f["ticket"]), By: f["by"],
		Acquired: unixMilli(f["acquired"]), Expires: unixMilli(f["expires"]),
	}, nil
}

func unixMilli(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

// RenewLease implements workflow.Leases.
func (s *Redis) RenewLease(ctx context.Context, env, token string, ttl time.Duration) (workflow.Lease, error) {
	res, err := leaseRenew.Run(ctx, s.rdb, []string{s.envKey(env, "lease")}, token, max(ms(ttl), 1)).Result()
	if errors.Is(err, redis.Nil) {
		return workflow.Lease{}, workflow.ErrLeaseLost
	}
	if err != nil {
		return workflow.Lease{}, fail("store.lease", err)
	}
	return parseLease(env, res)
}

// ReleaseLease implements workflow.Leases.
func (s *Redis) ReleaseLease(ctx context.Context, env, token string) (bool, error) {
	n, err := leaseRelease.Run(ctx, s.rdb, []string{s.envKey(env, "lease")}, token).Int()
	if err != nil {
		return false, fail("store.lease", err)
	}
	return n == 1, nil
}

// CurrentLease implements workflow.Leases.
func (s *Redis) CurrentLease(ctx context.Context, env string) (workflow.Lease, bool, error) {
	m, err := s.rdb.HGetAll(ctx, s.envKey(env, "lease")).Result()
	if err != nil {
		return workflow.Lease{}, false, fail("store.lease", err)
	}
	if len(m) == 0 {
		return workflow.Lease{}, false, nil
	}
	flat := make([]any, 0, 2*len(m))
	for k, v := range m {
		flat = append(flat, k, v)
	}
	l, err := parseLease(env, flat)
	return l, err == nil, err
}

// fencedSet writes value at env's key name while l is env's lease.
func (s *Redis) fencedSet(ctx context.Context, op string, l workflow.Lease, name string, value any) error {
	data, err := json.Marshal(value)
	if err != nil {
		return workflow.Wrap(op, workflow.Internal, "cannot encode", err)
	}
	n, err := fencedSet.Run(ctx, s.rdb, []string{s.envKey(l.Env, "lease"), s.envKey(l.Env, name)},
		l.Token, l.Fence, data).Int()
	if err != nil {
		return fail(op, err)
	}
	if n != 1 {
		return workflow.ErrLeaseLost
	}
	return nil
}

// getJSON reads the JSON value at key into v; ok is false when absent.
func (s *Redis) getJSON(ctx context.Context, op, key string, v any) (bool, error) {
	data, err := s.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fail(op, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, workflow.Wrap(op, workflow.Internal, "a value in Redis is damaged", err)
	}
	return true, nil
}

// Enqueue implements workflow.Queues.
func (s *Redis) Enqueue(ctx context.Context, env string, e workflow.QueueEntry, ttl time.Duration) (int, error) {
	const op = "store.queue"
	if e.ID == "" || ttl <= 0 {
		return 0, workflow.Errorf(op, workflow.Invalid, "a queue entry needs an ID and a positive TTL")
	}
	e.Enqueued = time.Time{}
	data, err := json.Marshal(e)
	if err != nil {
		return 0, workflow.Wrap(op, workflow.Internal, "cannot encode", err)
	}
	pos, err := queueEnqueue.Run(ctx, s.rdb, s.queueKeys(env), e.ID, data, max(ms(ttl), 1), s.opts.MaxQueue).Int()
	if err != nil {
		return 0, fail(op, err)
	}
	if pos < 0 {
		return 0, workflow.Errorf(op, workflow.Busy, "%s's queue is full (%d releases wait); try again later", env, s.opts.MaxQueue)
	}
	return pos, nil
}

// TouchQueued implements workflow.Queues.
func (s *Redis) TouchQueued(ctx context.Context, env, id string, ttl time.Duration) (int, error) {
	pos, err := queueTouch.Run(ctx, s.rdb, s.queueKeys(env), id, max(ms(ttl), 1)).Int()
	if err != nil {
		return 0, fail("store.queue", err)
	}
	return pos, nil
}

// QueuePosition implements workflow.Queues.
func (s *Redis) QueuePosition(ctx context.Context, env, id string) (int, error) {
	pos, err := queuePosition.Run(ctx, s.rdb, s.queueKeys(env), id).Int()
	if err != nil {
		return 0, fail("store.queue", err)
	}
	return pos, nil
}

// Queue implements workflow.Queues.
func (s *Redis) Queue(ctx context.Context, env string) ([]workflow.QueueEntry, error) {
	vals, err := queueList.Run(ctx, s.rdb, s.queueKeys(env)).Slice()
	if err != nil {
		return nil, fail("store.queue", err)
	}
	out := make([]workflow.QueueEntry, 0, len(vals))
	for _, v := range vals {
		str, _ := v.(string)
		e, err := parseQueued(str)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// parseQueued reads an entry stored as "enqueued-ms json".
func parseQueued(v string) (workflow.QueueEntry, error) {
	at, data, _ := strings.Cut(v, " ")
	var e workflow.QueueEntry
	if err := json.Unmarshal([]byte(data), &e); err != nil {
		return e, workflow.Wrap("store.queue", workflow.Internal, "a queue entry in Redis is damaged", err)
	}
	e.Enqueued = unixMilli(at)
	return e, nil
}

// Dequeue implements workflow.Queues.
func (s *Redis) Dequeue(ctx context.Context, env string) (workflow.QueueEntry, bool, error) {
	v, err := queueDequeue.Run(ctx, s.rdb, s.queueKeys(env)).Text()
	if errors.Is(err, redis.Nil) {
		return workflow.QueueEntry{}, false, nil
	}
	if err != nil {
		return workflow.QueueEntry{}, false, fail("store.queue", err)
	}
	e, err := parseQueued(v)
	return e, err == nil, err
}

// RemoveQueued implements workflow.Queues.
func (s *Redis) RemoveQueued(ctx context.Context, env, id string) (bool, error) {
	n, err := queueRemove.Run(ctx, s.rdb, s.queueKeys(env), id).Int()
	if err != nil {
		return false, fail("store.queue", err)
	}
	return n == 1, nil
}

// Occupants implements workflow.EnvState.
func (s *Redis) Occupants(ctx context.Context, env string) ([]workflow.Occupant, error) {
	var out []workflow.Occupant
	if _, err := s.getJSON(ctx, "store.occupants", s.envKey(env, "occupants"), &out); err != nil {
		return nil, err
	}
	return out, nil
}

// SetOccupants implements workflow.EnvState.
func (s *Redis) SetOccupants(ctx context.Context, l workflow.Lease, occupants []workflow.Occupant) error {
	return s.fencedSet(ctx, "store.occupants", l, "occupants", occupants)
}

// Hold implements workflow.EnvState.
func (s *Redis) Hold(ctx context.Context, env string) (workflow.Hold, bool, error) {
	var h workflow.Hold
	ok, err := s.getJSON(ctx, "store.hold", s.envKey(env, "hold"), &h)
	if err != nil || !ok {
		return workflow.Hold{}, false, err
	}
	if !h.Until.IsZero() && !time.Now().Before(h.Until) {
		return workflow.Hold{}, false, nil // Redis expires it at the same moment
	}
	return h, true, nil
}

// SetHold implements workflow.EnvState.
func (s *Redis) SetHold(ctx context.Context, h workflow.Hold) error {
	const op = "store.hold"
	if h.Env == "" {
		return workflow.Errorf(op, workflow.Invalid, "a hold needs an env")
	}
	key := s.envKey(h.Env, "hold")
	if !h.Until.IsZero() && !h.Until.After(time.Now()) {
		if err := s.rdb.Del(ctx, key).Err(); err != nil {
			return fail(op, err)
		}
		return nil
	}
	data, err := json.Marshal(h)
	if err != nil {
		return workflow.Wrap(op, workflow.Internal, "cannot encode", err)
	}
	args := redis.SetArgs{}
	if !h.Until.IsZero() {
		// Whole milliseconds, rounded up: Redis never ends a hold early.
		args.ExpireAt = h.Until.Truncate(time.Millisecond).Add(time.Millisecond)
	}
	if err := s.rdb.SetArgs(ctx, key, data, args).Err(); err != nil {
		return fail(op, err)
	}
	return nil
}

// ClearHold implements workflow.EnvState.
func (s *Redis) ClearHold(ctx context.Context, env string) (bool, error) {
	n, err := s.rdb.Del(ctx, s.envKey(env, "hold")).Result()
	if err != nil {
		return false, fail("store.hold", err)
	}
	return n == 1, nil
}

// LastDeploy implements workflow.EnvState.
func (s *Redis) LastDeploy(ctx context.Context, env string) (workflow.Deployment, bool, error) {
	var d workflow.Deployment
	ok, err := s.getJSON(ctx, "store.deploy", s.envKey(env, "deploy"), &d)
	if err != nil || !ok {
		return workflow.Deployment{}, false, err
	}
	return d, true, nil
}

// SetLastDeploy implements workflow.EnvState.
func (s *Redis) SetLastDeploy(ctx context.Context, l workflow.Lease, d workflow.Deployment) error {
	d.Env = l.Env
	return s.fencedSet(ctx, "store.deploy", l, "deploy", d)
}

// The fields of a release record hash.
const (
	fID, fTicket, fEnv, fBy, fRequested, fState, fUpdated  = "id", "ticket", "env", "by", "requested", "state", "updated"
	fBranch, fTicketSHA, fMerged, fPushed, fDeployed, fErr = "branch", "ticket_sha", "merged_sha", "pushed_sha", "deployed_sha", "error"
	fVia                                                   = "via"
)

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// CreateRelease implements workflow.Releases.
func (s *Redis) CreateRelease(ctx context.Context, r workflow.Release) error {
	const op = "store.release"
	if r.ID == "" {
		return workflow.Errorf(op, workflow.Invalid, "a release needs an ID")
	}
	fields := []any{
		fID, r.ID, fTicket, string(r.Ticket), fEnv, r.Env, fBy, r.By,
		fRequested, formatTime(r.RequestedAt), fState, string(r.State), fUpdated, formatTime(r.UpdatedAt),
		fBranch, r.Branch, fTicketSHA, r.TicketSHA, fMerged, r.MergedSHA, fPushed, r.PushedSHA,
		fDeployed, r.DeployedSHA, fErr, r.Error, fVia, r.Via,
	}
	args := append([]any{ms(s.opts.ReleaseTTL), len(fields)}, fields...)
	for _, st := range r.Steps {
		data, err := json.Marshal(st)
		if err != nil {
			return workflow.Wrap(op, workflow.Internal, "cannot encode", err)
		}
		args = append(args, data)
	}
	n, err := releaseCreate.Run(ctx, s.rdb, []string{s.relKey(r.ID), s.relKey(r.ID) + ":steps"}, args...).Int()
	if err != nil {
		return fail(op, err)
	}
	if n != 1 {
		return workflow.Errorf(op, workflow.Invalid, "release %s exists already", r.ID)
	}
	return nil
}

// GetRelease implements workflow.Releases.
func (s *Redis) GetRelease(ctx context.Context, id string) (workflow.Release, error) {
	const op = "store.release"
	var (
		rec   *redis.MapStringStringCmd
		steps *redis.StringSliceCmd
	)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		rec = p.HGetAll(ctx, s.relKey(id))
		steps = p.LRange(ctx, s.relKey(id)+":steps", 0, -1)
		return nil
	})
	if err != nil {
		return workflow.Release{}, fail(op, err)
	}
	f := rec.Val()
	if len(f) == 0 {
		return workflow.Release{}, notFound(id)
	}
	r := workflow.Release{
		ID: f[fID], Ticket: workflow.TicketKey(f[fTicket]), Env: f[fEnv], By: f[fBy],
		RequestedAt: parseTime(f[fRequested]), State: workflow.ReleaseState(f[fState]), UpdatedAt: parseTime(f[fUpdated]),
		Branch: f[fBranch], TicketSHA: f[fTicketSHA], MergedSHA: f[fMerged], PushedSHA: f[fPushed],
		DeployedSHA: f[fDeployed], Error: f[fErr], Via: f[fVia],
	}
	for _, data := range steps.Val() {
		var st workflow.Step
		if err := json.Unmarshal([]byte(data), &st); err != nil {
			return workflow.Release{}, workflow.Wrap(op, workflow.Internal, "a journal step in Redis is damaged", err)
		}
		r.Steps = append(r.Steps, st)
	}
	return r, nil
}

// AppendStep implements workflow.Releases.
func (s *Redis) AppendStep(ctx context.Context, id string, st workflow.Step) error {
	const op = "store.release"
	data, err := json.Marshal(st)
	if err != nil {
		return workflow.Wrap(op, workflow.Internal, "cannot encode", err)
	}
	n, err := releaseAppend.Run(ctx, s.rdb, []string{s.relKey(id), s.relKey(id) + ":steps"}, data, s.opts.MaxSteps).Int()
	if err != nil {
		return fail(op, err)
	}
	if n != 1 {
		return notFound(id)
	}
	return nil
}

// UpdateRelease implements workflow.Releases: the set fields of u are
// written in one HSET, as ReleaseUpdate.Apply would apply them, in the
// script that checks u.From against the record's state.
func (s *Redis) UpdateRelease(ctx context.Context, id string, u workflow.ReleaseUpdate) error {
	args := []any{len(u.From)}
	for _, st := range u.From {
		args = append(args, string(st))
	}
	set := func(field, v string) {
		if v != "" {
			args = append(args, field, v)
		}
	}
	set(fState, string(u.State))
	set(fUpdated, formatTime(u.At))
	set(fBranch, u.Branch)
	set(fTicketSHA, u.TicketSHA)
	set(fMerged, u.MergedSHA)
	set(fPushed, u.PushedSHA)
	set(fDeployed, u.DeployedSHA)
	set(fErr, u.Error)
	var res any
	err := s.onPrimary(ctx, s.relKey(id), func(c redis.Scripter) (bool, error) {
		var err error
		res, err = releaseUpdate.Run(ctx, c, []string{s.relKey(id)}, args...).Result()
		return err == nil && u.State.Final() && res == int64(1), err
	})
	if err != nil {
		return fail("store.release", err)
	}
	switch v := res.(type) {
	case int64:
		if v != 1 {
			return notFound(id)
		}
		return nil
	case []any:
		// {current state}: not one of u.From.
		cur, _ := v[0].(string)
		return workflow.StateMovedError("store.release", id, workflow.ReleaseState(cur), u)
	}
	return workflow.Errorf("store.release", workflow.Internal, "unexpected answer %v from the update script", res)
}

// AppendEvent implements workflow.AuditLog: one XADD trimmed exactly to
// workflow.AuditKeep.
func (s *Redis) AppendEvent(ctx context.Context, e workflow.Event) error {
	const op = "store.audit"
	data, err := json.Marshal(e)
	if err != nil {
		return workflow.Wrap(op, workflow.Internal, "cannot encode", err)
	}
	err = s.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: s.envKey(e.Env, "audit"),
		MaxLen: workflow.AuditKeep,
		Values: []any{"e", data},
	}).Err()
	if err != nil {
		return fail(op, err)
	}
	return nil
}

// Events implements workflow.AuditLog.
func (s *Redis) Events(ctx context.Context, env string, n int) ([]workflow.Event, error) {
	const op = "store.audit"
	if n <= 0 || n > workflow.AuditKeep {
		n = workflow.AuditKeep
	}
	msgs, err := s.rdb.XRevRangeN(ctx, s.envKey(env, "audit"), "+", "-", int64(n)).Result()
	if err != nil {
		return nil, fail(op, err)
	}
	out := make([]workflow.Event, 0, len(msgs))
	for _, m := range msgs {
		data, _ := m.Values["e"].(string)
		var e workflow.Event
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			return nil, workflow.Wrap(op, workflow.Internal, fmt.Sprintf("audit event %s in Redis is damaged", m.ID), err)
		}
		out = append(out, e)
	}
	return out, nil
}

// Claim implements workflow.Claims.
func (s *Redis) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	const op = "store.claim"
	if key == "" || ttl <= 0 {
		return false, workflow.Errorf(op, workflow.Invalid, "a claim needs a key and a positive TTL")
	}
	ok, err := s.rdb.SetNX(ctx, s.claimKey(key), 1, ttl).Result()
	if err != nil {
		return false, fail(op, err)
	}
	return ok, nil
}
