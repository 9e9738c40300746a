package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/code-releaser/code-releaser/bot"
	"github.com/code-releaser/code-releaser/workflow"
)

// runServe is `serve --config FILE [--listen ADDR] [--slack-api-url URL]`:
// the Slack bot over Socket Mode, with /healthz, /readyz and /metrics on
// the listen address. Tokens come from SLACK_BOT_TOKEN and SLACK_APP_TOKEN;
// SLACK_API_URL (or --slack-api-url) points it at another Slack, such as
// bot/slacktest. It stops on SIGTERM or SIGINT: no new envelopes, the work
// in flight drained, then the HTTP server.
func runServe(ctx context.Context, e *env, args []string) error {
	pos, opts, err := parseFlags(args, []string{"config", "listen", "slack-api-url"}, nil)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{"serve takes no arguments"}
	}
	cfg, err := loadConfig(opts["config"], e.dir, e.getenv)
	if err != nil {
		return err
	}
	botToken, appToken := e.getenv("SLACK_BOT_TOKEN"), e.getenv("SLACK_APP_TOKEN")
	if err := bot.CheckTokens(botToken, appToken); err != nil {
		return err
	}
	apiURL := opts["slack-api-url"]
	if apiURL == "" {
		apiURL = e.getenv("SLACK_API_URL")
	}
	listen := opts["listen"]
	if listen == "" {
		listen = ":8080"
	}
	log := slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := newBotMetrics(reg)

	// No message to Slack carries a secret but the token it authenticates with.
	slackHTTP := &http.Client{Timeout: 30 * time.Second, Transport: redactingTransport{secrets: cfg.secrets, keep: []string{"token"}}}
	client, err := bot.NewClient(log, bot.ClientConfig{BotToken: botToken, AppToken: appToken, APIURL: apiURL, HTTPClient: slackHTTP}, metrics)
	if err != nil {
		return err
	}
	// The Notifier keeps where each release's message is in the shared
	// store, so the replica that runs or resumes a job edits it.
	var notifier *bot.Notifier
	w, err := wire(ctx, log, cfg, wireOptions{serve: true, notifier: func(st workflow.Store) workflow.Notifier {
		notifier = bot.NewNotifier(log, client, bot.NotifierConfig{AnnounceChannel: cfg.Slack.AnnounceChannel, ApprovalsChannel: cfg.Slack.ApprovalsChannel}, st)
		return notifier
	}})
	if err != nil {
		return err
	}
	defer w.close()
	svc := w.svc
	// The job worker: runs jobs submitted by any replica (workflow.Submit),
	// resumes those of replicas that died, hands its own off on shutdown.
	// One slot per env, so that a prod release waiting for its approval
	// does not hold up the other envs. Without a redis section (url,
	// sentinel or cluster) the state ends with this process: on shutdown a
	// release waiting for its approval ends at once and its request lapses
	// (with Redis it is handed off).
	worker, err := svc.NewWorker(workflow.WorkerConfig{Slots: len(svc.Envs()), LocalState: !cfg.Redis.shared()})
	if err != nil {
		return err
	}
	workerCtx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		worker.Run(workerCtx)
	}()
	defer func() { stopWorker(); <-workerDone }()
	// The occupancy scheduler: reminders and expiries, swept by one
	// replica at a time (a shared lease); a no-op without policies.
	sched := svc.NewOccupancyScheduler("", time.Minute)
	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		sched.Run(workerCtx)
	}()
	defer func() { stopWorker(); <-schedDone }()
	deps := bot.Deps{Service: svc, Claims: w.store, Notifier: notifier, Lifecycle: svc, Approvals: svc, Occupancy: svc}
	if w.jira != nil {
		deps.Tickets = w.tickets // Jira statuses on the Home board
	}
	b, err := bot.New(log, client, bot.Config{}, deps)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	srv := &http.Server{Handler: healthMux(b, reg), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", slog.Any("err", err))
		}
	}()
	fmt.Fprintf(e.stdout, "code-releaser serve: health and metrics on http://%s\n", ln.Addr())
	log.Info("serving", slog.String("listen", ln.Addr().String()), slog.Any("slack", client))

	runErr := b.Run(ctx)
	// The worker stops with ctx: jobs waiting for a person end at once,
	// the others drain. Then the release messages' last edits are written.
	stopWorker()
	<-workerDone
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := notifier.Flush(shut); err != nil {
		log.Warn("write the last edits of release messages", slog.Any("err", err))
	}
	if err := srv.Shutdown(shut); err != nil {
		log.Warn("http shutdown", slog.Any("err", err))
	}
	log.Info("stopped")
	return runErr
}

// healthMux serves /healthz (the process is up), /readyz (connected to
// Slack and not draining) and /metrics.
func healthMux(b *bot.Bot, reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !b.Ready() {
			http.Error(w, "not connected to Slack", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// botMetrics exports the bot's counts to Prometheus.
type botMetrics struct {
	envelopes *prometheus.CounterVec
	ack       prometheus.Histogram
	inflight  prometheus.Gauge
	calls     *prometheus.CounterVec
	connected prometheus.Gauge
}

func newBotMetrics(reg prometheus.Registerer) *botMetrics {
	m := &botMetrics{
		envelopes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "code_releaser_slack_envelopes_total", Help: "Socket Mode envelopes handled, by type and outcome."}, []string{"type", "outcome"}),
		ack: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "code_releaser_slack_ack_seconds", Help: "Time from an envelope's receipt to its ack.",
			Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2, 3}}),
		inflight:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "code_releaser_slack_inflight", Help: "Envelopes being worked on."}),
		calls:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "code_releaser_slack_api_calls_total", Help: "Slack Web API calls, by method and outcome."}, []string{"method", "outcome"}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "code_releaser_slack_connected", Help: "1 while the Socket Mode connection is up."}),
	}
	reg.MustRegister(m.envelopes, m.ack, m.inflight, m.calls, m.connected)
	return m
}

func (m *botMetrics) Envelope(kind, outcome string, ack time.Duration) {
	m.envelopes.WithLabelValues(kind, outcome).Inc()
	m.ack.Observe(ack.Seconds())
}
func (m *botMetrics) InFlight(delta int)             { m.inflight.Add(float64(delta)) }
func (m *botMetrics) APICall(method, outcome string) { m.calls.WithLabelValues(method, outcome).Inc() }
func (m *botMetrics) Connected(up bool) {
	if up {
		m.connected.Set(1)
	} else {
		m.connected.Set(0)
	}
}
