package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack/socketmode"

	"github.com/code-releaser/code-releaser/workflow"
)

// Service is what the bot needs of the workflow.
type Service interface {
	// Submit queues a release as a job for the workers and returns its
	// place in the queue; idempotent by req.ID.
	Submit(ctx context.Context, req workflow.ReleaseRequest) (workflow.Release, int, error)
	Status(ctx context.Context, envs ...string) ([]workflow.EnvStatus, error)
	History(ctx context.Context, env string, n int) ([]workflow.Event, error)
	Envs() []workflow.Env
	// Diff and Drift read what is deployed in an env (/release diff,
	// /release drift).
	Diff(ctx context.Context, env string) (workflow.EnvDiff, error)
	Drift(ctx context.Context, env string) ([]workflow.StackDrift, error)
}

// Lifecycle runs the env lifecycle commands (hold, unhold, cancel, reset,
// remove); *workflow.Service implements it.
type Lifecycle interface {
	Hold(ctx context.Context, req workflow.HoldRequest) (workflow.Hold, error)
	Unhold(ctx context.Context, env string, by workflow.User) error
	Cancel(ctx context.Context, ticket, env string, by workflow.User) (int, error)
	Reset(ctx context.Context, env string, by workflow.User) (workflow.EnvChange, error)
	Remove(ctx context.Context, ticket, env string, by workflow.User) (workflow.EnvChange, error)
	// ForceRemove is a remove with a reason (an env admin's), recorded and
	// announced.
	ForceRemove(ctx context.Context, ticket, env string, by workflow.User, reason string) (workflow.EnvChange, error)
	// Rollback undoes a release: in an env with a branch at once (a new
	// commit, announced); in production by a release job that waits for
	// the approvals.
	Rollback(ctx context.Context, req workflow.RollbackRequest) (workflow.EnvChange, error)
	// Authorize says, without I/O, whether by may do act (workflow.ActReset,
	// …) on env: nil, or the error the act itself would give.
	Authorize(env, act string, by workflow.User) error
}

// Approvals records votes on prod approval requests (the buttons' value is
// the request's ID); *workflow.Service implements it.
type Approvals interface {
	Approve(ctx context.Context, id string, by workflow.User) (workflow.ApprovalRequest, error)
	Reject(ctx context.Context, id string, by workflow.User) (workflow.ApprovalRequest, error)
}

// Config tunes the bot.
type Config struct {
	// TeamID and AppID are the only workspace and app served; "" learns
	// them from auth.test and the socket's hello.
	TeamID, AppID string
	// AckTimeout bounds an ack (Slack wants it within 3 s). Default 2 s.
	AckTimeout time.Duration
	// ClaimTTL is how long envelope and click keys are remembered.
	// Default 24 h.
	ClaimTTL time.Duration
	// DrainTimeout is how long Run waits for work in flight after its
	// context ends before cancelling it. Default 30 s.
	DrainTimeout time.Duration
	// GroupTTL is how long a user group's members are cached. Default
	// 5 min.
	GroupTTL time.Duration
	// GroupMissRefresh is how old a cached group may be before a user not
	// found in it makes the bot list it again. Default 30 s.
	GroupMissRefresh time.Duration
	// StoreRetry is how long a command keeps trying while the state store
	// (or another service it needs) is unavailable, having told its user
	// so. Default 1 min; negative: no retry.
	StoreRetry time.Duration
}

// Deps are the bot's ports. All but Tickets and Clock are required; a
// *workflow.Service is the Service, Lifecycle, Approvals and Occupancy.
type Deps struct {
	Service   Service
	Claims    workflow.Claims // shared by every replica: dedupe
	Notifier  *Notifier
	Tickets   workflow.Tickets // optional: Jira status on the board
	Lifecycle Lifecycle
	Approvals Approvals
	Occupancy Occupancy      // the reminders' and the handoff's buttons
	Clock     workflow.Clock // nil: the system clock
}

// Bot serves /release, buttons and the App Home over Socket Mode.
type Bot struct {
	log      *slog.Logger
	client   *Client
	cfg      Config
	d        Deps
	table    *Table
	actions  map[string]action
	metrics  Metrics
	ready    atomic.Bool
	draining atomic.Bool
	inflight sync.WaitGroup
	groups   *groups
	mu       sync.Mutex
	team     string
	app      string
}

// New returns a Bot; Run connects it.
func New(log *slog.Logger, c *Client, cfg Config, d Deps) (*Bot, error) {
	if d.Service == nil || d.Claims == nil || d.Notifier == nil || d.Lifecycle == nil || d.Approvals == nil || d.Occupancy == nil {
		return nil, errors.New("bot: Service, Claims, Notifier, Lifecycle, Approvals and Occupancy are required")
	}
	if d.Clock == nil {
		d.Clock = workflow.SystemClock{}
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 2 * time.Second
	}
	if cfg.ClaimTTL <= 0 {
		cfg.ClaimTTL = 24 * time.Hour
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 30 * time.Second
	}
	if cfg.GroupTTL <= 0 {
		cfg.GroupTTL = 5 * time.Minute
	}
	if cfg.StoreRetry == 0 {
		cfg.StoreRetry = time.Minute
	}
	if cfg.GroupMissRefresh <= 0 {
		cfg.GroupMissRefresh = 30 * time.Second
	}
	b := &Bot{log: log, client: c, cfg: cfg, d: d, metrics: c.metrics, team: cfg.TeamID, app: cfg.AppID}
	b.groups = &groups{log: log, client: c, ttl: cfg.GroupTTL, missRefresh: cfg.GroupMissRefresh, cache: map[string]groupMembers{}}
	b.table = b.commands()
	b.actions = b.actionTable()
	return b, nil
}

// commands is the command table: one file per command.
func (b *Bot) commands() *Table {
	return NewTable("release",
		b.releaseCommand(),
		b.statusCommand(),
		b.historyCommand(),
		b.resetCommand(),
		b.removeCommand(),
		b.rollbackCommand(),
		b.holdCommand(),
		b.unholdCommand(),
		b.cancelCommand(),
		b.diffCommand(),
		b.driftCommand(),
		b.helpCommand(),
	)
}

// Table returns the bot's command table (for the manifest check).
func (b *Bot) Table() *Table { return b.table }

// Ready reports whether the socket is connected (hello received) and the
// bot is not draining.
func (b *Bot) Ready() bool { return b.ready.Load() && !b.draining.Load() }

// Run connects to Slack and serves until ctx ends or the connection fails
// for good (a refused token). Then it stops reading envelopes, waits up to
// DrainTimeout for the work in flight, cancels what is left and waits for
// it to record its end.
func (b *Bot) Run(ctx context.Context) error {
	if b.team == "" {
		id, err := b.client.authTest(ctx)
		if err != nil {
			return fmt.Errorf("slack auth.test: %w", err)
		}
		b.mu.Lock()
		b.team = id.Team
		b.mu.Unlock()
		b.log.Info("slack identity", slog.String("team", id.Team), slog.String("bot_user", id.User))
	}
	opts := []socketmode.Option{socketmode.OptionLog(slogLogger{b.log})}
	if b.client.cfg.PingInterval > 0 {
		opts = append(opts, socketmode.OptionPingInterval(b.client.cfg.PingInterval))
	}
	sm := socketmode.New(b.client.api, opts...)

	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	sock, cancelSock := context.WithCancel(ctx)
	defer cancelSock()
	done := make(chan error, 1)
	go func() { done <- sm.RunContext(sock) }()

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-done:
			if ctx.Err() == nil {
				runErr = fmt.Errorf("slack socket mode: %w", err)
			}
			break loop
		case evt := <-sm.Events:
			b.dispatch(work, sm, evt)
		}
	}
	b.draining.Store(true)
	b.setReady(false)
	cancelSock()
	b.drain(cancelWork)
	return runErr
}

// drain waits for the work in flight, cancelling it after DrainTimeout.
func (b *Bot) drain(cancel context.CancelFunc) {
	idle := make(chan struct{})
	go func() { b.inflight.Wait(); close(idle) }()
	start := time.Now()
	select {
	case <-idle:
		b.log.Info("drained", slog.Duration("took", time.Since(start)))
		return
	case <-time.After(b.cfg.DrainTimeout):
	}
	b.log.Warn("drain timeout: cancelling the work in flight", slog.Duration("after", b.cfg.DrainTimeout))
	cancel()
	select {
	case <-idle:
	case <-time.After(15 * time.Second):
		b.log.Error("work still running after cancel")
	}
}

func (b *Bot) setReady(up bool) {
	if b.ready.Swap(up) != up {
		b.metrics.Connected(up)
	}
}

// dispatch handles the socket's lifecycle events and hands envelopes to
// serve, each on its own goroutine so that acks never wait on work.
func (b *Bot) dispatch(work context.Context, sm *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeHello:
		b.mu.Lock()
		if b.app == "" && evt.Request != nil {
			b.app = evt.Request.ConnectionInfo.AppID
		}
		b.mu.Unlock()
		b.setReady(true)
		b.log.Debug("slack hello")
	case socketmode.EventTypeConnecting:
		b.setReady(false)
	case socketmode.EventTypeConnectionError, socketmode.EventTypeInvalidAuth, socketmode.EventTypeIncomingError,
		socketmode.EventTypeErrorWriteFailed, socketmode.EventTypeErrorBadMessage:
		b.log.Warn("slack socket", slog.String("event", string(evt.Type)), slog.Any("data", evt.Data))
	case socketmode.EventTypeSlashCommand, socketmode.EventTypeInteractive, socketmode.EventTypeEventsAPI:
		if evt.Request == nil {
			return
		}
		b.inflight.Add(1)
		b.metrics.InFlight(1)
		received := time.Now()
		go func() {
			defer b.metrics.InFlight(-1)
			defer b.inflight.Done()
			b.serve(work, sm, evt, received)
		}()
	}
}

// acker acks one envelope; socketmode.Client is one.
type acker interface {
	AckCtx(ctx context.Context, envelopeID string, payload any) error
}

// serve is the one wrapper every envelope goes through: ack once within
// AckTimeout, check the team and app, dedupe by envelope id in the shared
// store, recover panics, route to the handler, send its reply and log
// once with the duration.
func (b *Bot) serve(ctx context.Context, ack acker, evt socketmode.Event, received time.Time) {
	env := evt.Request
	actx, cancel := context.WithTimeout(ctx, b.cfg.AckTimeout)
	ackErr := ack.AckCtx(actx, env.EnvelopeID, nil)
	cancel()
	ackTook := time.Since(received)

	outcome := "ok"
	var req *Request
	var handlerErr error
	log := b.log.With(slog.String("envelope", env.EnvelopeID), slog.String("type", env.Type))
	defer func() {
		b.metrics.Envelope(env.Type, outcome, ackTook)
		attrs := []any{slog.String("outcome", outcome), slog.Duration("ack", ackTook), slog.Duration("took", time.Since(received))}
		if req != nil {
			attrs = append(attrs, slog.String("user", req.User.ID), slog.String("what", req.what()))
		}
		if ackErr != nil {
			attrs = append(attrs, slog.Any("ack_err", ackErr))
		}
		if handlerErr != nil {
			attrs = append(attrs, slog.Any("err", handlerErr))
		}
		switch outcome {
		case "ok", "duplicate", "ignored", "refused":
			log.Info("envelope", attrs...)
		default:
			log.Error("envelope", attrs...)
		}
	}()

	r, err := toRequest(evt, received)
	if err != nil {
		outcome, handlerErr = "ignored", err
		return
	}
	req = r
	if msg := b.foreign(req); msg != "" {
		outcome = "refused"
		b.send(ctx, req, Reply{Text: ":no_entry: " + msg})
		return
	}
	var claimed bool
	err = b.retryUnavailable(ctx, req, func() (err error) {
		claimed, err = b.d.Claims.Claim(ctx, "slack:envelope:"+env.EnvelopeID, b.cfg.ClaimTTL)
		return err
	})
	if err != nil {
		outcome, handlerErr = "error", err
		b.send(ctx, req, b.errorReply(log, err))
		return
	}
	if !claimed {
		outcome = "duplicate"
		return
	}
	defer func() {
		if p := recover(); p != nil {
			outcome = "panic"
			id := newErrorID()
			handlerErr = fmt.Errorf("panic %s: %v", id, p)
			log.Error("panic", slog.String("id", id), slog.Any("panic", p), slog.String("stack", stack()))
			b.send(ctx, req, Reply{Text: ":boom: internal error, logged as " + id})
		}
	}()
	if req.Kind != KindEvent {
		// Allow lists and approvers may name user groups.
		if ids := configuredGroups(b.d.Service.Envs()); len(ids) > 0 {
			req.User.Groups = b.groups.of(ctx, req.User.ID, ids)
		}
	}
	reply, err := b.route(ctx, req)
	if errors.Is(err, errDuplicate) {
		outcome = "duplicate"
		return
	}
	if err != nil {
		outcome, handlerErr = "error", err
		if k := workflow.KindOf(err); k != workflow.Internal && workflow.UserMessage(err) != "" {
			outcome = "refused"
		}
		reply = b.errorReply(log, err)
	}
	b.send(ctx, req, reply)
}

// foreign returns why req is refused when it comes from another
// workspace or app, "" when it is ours.
func (b *Bot) foreign(req *Request) string {
	b.mu.Lock()
	team, app := b.team, b.app
	b.mu.Unlock()
	if team != "" && req.Team != "" && req.Team != team {
		return "this Code-Releaser serves another Slack workspace; nothing was done"
	}
	if app != "" && req.App != "" && req.App != app {
		return "this request was meant for another Slack app; nothing was done"
	}
	return ""
}

// route runs the handler for req.
func (b *Bot) route(ctx context.Context, req *Request) (Reply, error) {
	switch req.Kind {
	case KindCommand:
		p := Parse(b.table, req.Text, b.envNames())
		if p.Err != nil {
			return Reply{}, p.Err
		}
		c, _ := b.table.Lookup(p.Command)
		req.Args = p.Args
		return c.Run(ctx, req)
	case KindAction:
		return b.click(ctx, req)
	case KindEvent:
		if req.Event.Type == "app_home_opened" && (req.Event.Tab == "home" || req.Event.Tab == "") {
			return Reply{}, b.publishHome(ctx, req.User.ID)
		}
	}
	return Reply{}, nil
}

// send delivers a reply: in the channel when public, else through the
// response_url, else as an ephemeral message, else as a DM (App Home
// clicks have neither).
func (b *Bot) send(ctx context.Context, req *Request, r Reply) {
	if r.Empty() {
		return
	}
	var err error
	switch {
	case r.Public && req.Channel != "":
		_, err = b.client.post(ctx, message{channel: req.Channel, text: r.Text, blocks: r.Blocks})
	case req.ResponseURL != "":
		err = b.client.respond(ctx, req.ResponseURL, r)
	case req.Channel != "":
		err = b.client.ephemeral(ctx, req.User.ID, message{channel: req.Channel, text: r.Text, blocks: r.Blocks})
	case req.User.ID != "":
		_, err = b.client.post(ctx, message{channel: req.User.ID, text: r.Text, blocks: r.Blocks})
	}
	if err != nil {
		b.log.Warn("reply", slog.String("envelope", req.EnvelopeID), slog.Any("err", err))
	}
}

func (b *Bot) envNames() []string {
	envs := b.d.Service.Envs()
	out := make([]string, len(envs))
	for i, e := range envs {
		out[i] = e.Name
	}
	return out
}
