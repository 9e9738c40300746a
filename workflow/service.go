package workflow

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Config is the workflow's part of the operator's configuration.
type Config struct {
	Envs             []Env
	ProductionBranch string       // default "master"
	ReleasePrefix    string       // default "release/"
	Policy           TicketPolicy // which tickets may be released

	// LeaseTTL is how long an env's lease lives unless renewed; a release
	// renews it every third of it. Default 2m.
	LeaseTTL time.Duration
	// JobTTL is how long a job queued by Submit waits for a Worker before
	// it is dropped from the queue; a worker keeps it while it runs.
	// Default 24h.
	JobTTL time.Duration
	// PollInterval is how often a queued release checks for its turn, and
	// how often an idle Worker looks for jobs. Default 2s.
	PollInterval time.Duration
	// PushAttempts bounds the merges and pushes of one release when the
	// env branch moves on the remote between them. Default 3.
	PushAttempts int
}

// Deps are the Service's ports. Repo, Store and Notifier are required.
type Deps struct {
	Repo     Repo
	Tickets  Tickets  // nil: UncheckedTickets
	Deployer Deployer // nil: SkipDeployer
	Store    Store
	Notifier Notifier
	Clock    Clock // nil: SystemClock
	// NewID makes release IDs; nil makes time-ordered random ones.
	NewID func() string
	// Commenter writes automatic changes (an expiry) on the ticket; nil:
	// none.
	Commenter TicketCommenter
}

// Service runs the release use cases. It is safe for concurrent use; the
// Store serializes releases per env.
type Service struct {
	log      *slog.Logger
	cfg      Config
	envs     []Env
	repo     Repo
	tickets  Tickets
	deployer Deployer
	store    Store
	notify   Notifier
	clock    Clock
	newID    func() string
	// commenter writes automatic occupancy changes on tickets; may be nil.
	commenter TicketCommenter

	epochMu sync.Mutex
	epoch   string // the store's epoch last seen (see Reconcile)
}

// NewService validates cfg and returns a Service using d.
func NewService(log *slog.Logger, cfg Config, d Deps) (*Service, error) {
	const op = "config"
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.ProductionBranch == "" {
		cfg.ProductionBranch = "master"
	}
	if cfg.ReleasePrefix == "" {
		cfg.ReleasePrefix = "release/"
	}
	if err := ValidateBranchName(cfg.ProductionBranch); err != nil {
		return nil, fmt.Errorf("repo.production_branch: %w", err)
	}
	if err := ValidateBranchName(cfg.ReleasePrefix + "x"); err != nil {
		return nil, fmt.Errorf("repo.release_prefix: %w", err)
	}
	envs, err := validateEnvs(cfg.Envs, cfg.ProductionBranch, cfg.ReleasePrefix)
	if err != nil {
		return nil, err
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 2 * time.Minute
	}
	if cfg.JobTTL <= 0 {
		cfg.JobTTL = 24 * time.Hour
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 2 * time.Second
	}
	if cfg.PushAttempts <= 0 {
		cfg.PushAttempts = 3
	}
	if d.Repo == nil || d.Store == nil || d.Notifier == nil {
		return nil, Errorf(op, Internal, "the workflow needs a Repo, a Store and a Notifier")
	}
	s := &Service{
		log: log, cfg: cfg, envs: envs,
		repo: d.Repo, tickets: d.Tickets, deployer: d.Deployer, store: d.Store, notify: d.Notifier,
		clock: d.Clock, newID: d.NewID, commenter: d.Commenter,
	}
	if s.tickets == nil {
		s.tickets = UncheckedTickets{}
	}
	if s.deployer == nil {
		s.deployer = SkipDeployer{}
	}
	if s.clock == nil {
		s.clock = SystemClock{}
	}
	if s.newID == nil {
		s.newID = s.randomID
	}
	return s, nil
}

// Envs returns the configured envs, in configuration order.
func (s *Service) Envs() []Env {
	out := make([]Env, len(s.envs))
	copy(out, s.envs)
	return out
}

// Env returns the env named name, or an Invalid error naming the known ones.
func (s *Service) Env(name string) (Env, error) {
	if err := ValidateEnvName(name); err != nil {
		return Env{}, err
	}
	for _, e := range s.envs {
		if e.Name == name {
			return e, nil
		}
	}
	known := make([]string, len(s.envs))
	for i, e := range s.envs {
		known[i] = e.Name
	}
	return Env{}, Errorf("env", Invalid, "there is no env %q (known: %s)", name, joinComma(known))
}

// ProductionBranch returns the branch prod deploys.
func (s *Service) ProductionBranch() string { return s.cfg.ProductionBranch }

// randomID returns a time-ordered release ID like 20261126-113001-3fa9c2.
func (s *Service) randomID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return s.clock.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}
