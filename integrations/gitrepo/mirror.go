package gitrepo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/code-releaser/code-releaser/integrations/gitrepo/merge"
	"github.com/code-releaser/code-releaser/workflow"
)

// Mirror is a cached bare mirror of one remote: its refs/heads are the
// remote's branches as of the last Fetch, plus the merge commits written by
// Merge (which no ref points to until they are pushed). It implements
// workflow.Repo. Its methods are safe for concurrent use; they run one at a
// time.
type Mirror struct {
	log    *slog.Logger
	cfg    Config
	url    string // the remote's URL without credentials
	dir    string
	auth   transport.AuthMethod
	redact *redactor

	mu     sync.Mutex // serializes every use of repo, storage and merger
	lock   *dirLock
	st     *filesystem.Storage
	repo   *git.Repository
	merger *merge.Merger
	closed bool

	// graphMinNew is how many commits must be missing from the
	// commit-graph before a fetch rewrites it.
	graphMinNew int

	// ownIndexMin is the size from which a fetched pack is indexed by the
	// merge engine rather than go-git (see ownIndexMinPack).
	ownIndexMin int64

	// The env branches' rollbacks (grafts.go): chain maps each of the
	// bot's commits read on an env branch's first-parent chain to its first
	// parent, grafts each valid rollback commit to the commit it restores.
	chain       map[plumbing.Hash]plumbing.Hash
	grafts      map[plumbing.Hash]plumbing.Hash
	graftsStale bool
}

var _ workflow.Repo = (*Mirror)(nil)

// commitGraphMinNew is the default of Mirror.graphMinNew: a rewrite of the
// commit-graph of a git.git-sized history takes about 0.3 s, reading up to a
// thousand commits from the objects a few ms.
const commitGraphMinNew = 1000

// objectCacheSize bounds the mirror's cache of decoded objects.
const objectCacheSize = 96 * cache.MiByte

// remoteName is the in-memory name of the remote; the mirror's config on
// disk holds no URL and no credentials.
const remoteName = "origin"

// fetchSpec makes the mirror's branches equal to the remote's.
const fetchSpec = config.RefSpec("+refs/heads/*:refs/heads/*")

// Open opens the mirror of cfg.URL under cfg.CacheDir, creating it on first
// use (empty: call Fetch). It holds a lock on the mirror until Close, so a
// second process on the same cache dir waits for it until ctx is done.
func Open(ctx context.Context, logger *slog.Logger, cfg Config) (*Mirror, error) {
	const op = "git.open"
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, workflow.Wrap(op, workflow.Invalid, "the repo configuration is invalid", newRedactor(cfg.Auth.Token).error(err))
	}
	clean, urlUser, urlPassword := splitURL(cfg.URL)
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Mirror{
		log:    logger,
		cfg:    cfg,
		url:    clean,
		redact: newRedactor(cfg.Auth.Token, cfg.Auth.SSHKeyPassphrase, urlPassword),

		graphMinNew: commitGraphMinNew,
		ownIndexMin: ownIndexMinPack,
	}
	if urlPassword == "" && urlUser != "" {
		// A lone user in an HTTPS URL is a token.
		m.redact = newRedactor(cfg.Auth.Token, cfg.Auth.SSHKeyPassphrase, urlUser)
	}
	ep, err := transport.NewEndpoint(clean)
	if err != nil {
		return nil, workflow.Wrap(op, workflow.Invalid, fmt.Sprintf("repo.url %s is not a git URL", redactURL(cfg.URL)), m.redact.error(err))
	}
	m.auth, err = authMethod(ep, cfg.Auth, urlUser, urlPassword)
	if err != nil {
		return nil, workflow.Wrap(op, workflow.Invalid, "the git credentials cannot be used", m.redact.error(err))
	}

	if err := os.MkdirAll(cfg.CacheDir, 0o700); err != nil {
		return nil, workflow.Wrap(op, workflow.Internal, "", err)
	}
	name := mirrorName(clean)
	m.dir = filepath.Join(cfg.CacheDir, name+".git")
	if m.lock, err = acquireLock(ctx, filepath.Join(cfg.CacheDir, name+".lock")); err != nil {
		return nil, err
	}
	if err := m.open(); err != nil {
		m.lock.release()
		return nil, workflow.Wrap(op, workflow.Internal, "", fmt.Errorf("open the mirror %s: %w", m.dir, err))
	}
	return m, nil
}

// mirrorName derives the mirror's directory name from the remote's URL
// without credentials.
func mirrorName(cleanURL string) string {
	sum := sha256.Sum256([]byte(cleanURL))
	return hex.EncodeToString(sum[:12])
}

func (m *Mirror) open() error {
	fs := osfs.New(m.dir, osfs.WithBoundOS())
	m.st = filesystem.NewStorageWithOptions(fs, cache.NewObjectLRU(objectCacheSize),
		filesystem.Options{ExclusiveAccess: true, KeepDescriptors: true})
	repo, err := git.Open(m.st, nil)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		repo, err = git.Init(m.st, nil)
	}
	if err != nil {
		m.st.Close()
		return err
	}
	m.repo = repo
	if err := m.reopenMerger(); err != nil {
		m.st.Close()
		return err
	}
	return nil
}

// reopenMerger gives the mirror a merger that sees its packs and
// commit-graph as they are now (after a fetch added a pack or a graph).
func (m *Mirror) reopenMerger() error {
	mg, err := merge.NewOnDisk(m.st, filepath.Join(m.dir, "objects"))
	if err != nil {
		return fmt.Errorf("open the mirror's objects: %w", err)
	}
	if m.merger != nil {
		m.merger.Close()
	}
	m.merger = mg
	m.markGraftsStale()
	return nil
}

// objects is what the mirror reads objects through: the merger's pack
// reader, which leaves loose objects and writes to the storage.
func (m *Mirror) objects() storer.EncodedObjectStorer { return m.merger.Storer() }

// Dir returns the mirror's directory (a bare repository).
func (m *Mirror) Dir() string { return m.dir }

// Close releases the mirror's files and its lock.
func (m *Mirror) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	err := m.merger.Close()
	if serr := m.st.Close(); err == nil {
		err = serr
	}
	if lerr := m.lock.release(); err == nil {
		err = lerr
	}
	return err
}

// begin takes the mirror for one operation.
func (m *Mirror) begin(op string) (func(), error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, workflow.Errorf(op, workflow.Internal, "the git mirror is closed")
	}
	return m.mu.Unlock, nil
}

// Fetch makes the mirror's branches equal to the remote's: new and moved
// branches are fetched (forced: a rewritten branch is taken as it is),
// deleted ones pruned, tags ignored. Only the missing objects travel.
func (m *Mirror) Fetch(ctx context.Context) error {
	const op = "git.fetch"
	done, err := m.begin(op)
	if err != nil {
		return err
	}
	defer done()
	st := fetchStorage{Storage: m.st, objects: m.merger.Storer(), packDir: filepath.Join(m.dir, "objects", "pack"), ownIndexMin: m.ownIndexMin}
	remote := git.NewRemote(st, &config.RemoteConfig{Name: remoteName, URLs: []string{m.url}, Fetch: []config.RefSpec{fetchSpec}})
	err = remote.FetchContext(ctx, &git.FetchOptions{
		RemoteName: remoteName,
		RefSpecs:   []config.RefSpec{fetchSpec},
		Auth:       m.auth,
		Tags:       git.NoTags,
		Prune:      true,
	})
	switch {
	case err == nil:
		m.log.DebugContext(ctx, "git fetch", slog.String("remote", redactURL(m.url)), slog.Bool("changed", true))
		// a merger that sees the new pack, to write the commit-graph with
		if err := m.reopenMerger(); err != nil {
			return workflow.Wrap(op, workflow.Internal, "", err)
		}
		m.refreshCommitGraph(ctx, true)
		return nil
	case errors.Is(err, git.NoErrAlreadyUpToDate), errors.Is(err, transport.ErrEmptyRemoteRepository):
		m.log.DebugContext(ctx, "git fetch", slog.String("remote", redactURL(m.url)), slog.Bool("changed", false))
		m.refreshCommitGraph(ctx, false)
		return nil
	}
	return m.remoteError(op, "", err)
}

// fetchStorage is the mirror's storage as go-git's fetch sees it, reading
// objects through the merger's pack reader: go-git's own first read from a
// pack (the fetch looks up each remote tip) decodes the pack index into
// maps and maps every offset to its hash, most of a small fetch's time in
// a big repository.
type fetchStorage struct {
	*filesystem.Storage
	objects     storer.EncodedObjectStorer
	packDir     string // objects/pack of the mirror: where PackfileWriter writes
	ownIndexMin int64  // packs from this size are indexed by the merge engine
}

func (s fetchStorage) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	return s.objects.EncodedObject(t, h)
}

func (s fetchStorage) HasEncodedObject(h plumbing.Hash) error { return s.objects.HasEncodedObject(h) }

// commitGraphPath is git's commit-graph file in the mirror.
const commitGraphPath = "objects/info/commit-graph"

// refreshCommitGraph rewrites the mirror's commit-graph file for every
// branch (after a fetch that brought at least graphMinNew commits it lacks,
// or when there is none), so that merge bases are found without decoding
// commits; the merger is reopened to read it. A failure costs only speed:
// it is logged.
func (m *Mirror) refreshCommitGraph(ctx context.Context, changed bool) {
	if !changed {
		if _, err := os.Stat(filepath.Join(m.dir, filepath.FromSlash(commitGraphPath))); err == nil {
			return
		}
	}
	start := time.Now()
	var tips []plumbing.Hash
	refs, err := m.st.IterReferences()
	if err == nil {
		err = refs.ForEach(func(r *plumbing.Reference) error {
			if r.Type() == plumbing.HashReference && r.Name().IsBranch() {
				tips = append(tips, r.Hash())
			}
			return nil
		})
	}
	n := 0
	if err == nil && len(tips) > 0 {
		n, err = m.merger.WriteCommitGraph(ctx, tips, m.graphMinNew)
	}
	if err != nil {
		m.log.WarnContext(ctx, "git commit-graph not written", slog.String("remote", redactURL(m.url)), slog.Any("error", err))
		return
	}
	if n > 0 {
		if err := m.reopenMerger(); err != nil {
			m.log.WarnContext(ctx, "git commit-graph not read", slog.String("remote", redactURL(m.url)), slog.Any("error", err))
		}
	}
	m.log.DebugContext(ctx, "git commit-graph refreshed", slog.String("remote", redactURL(m.url)),
		slog.Int("commits_written", n), slog.Duration("took", time.Since(start)))
}

// ref reads a branch of the mirror; ok is false when it does not exist.
func (m *Mirror) ref(branch string) (plumbing.Hash, bool, error) {
	r, err := m.st.Reference(plumbing.NewBranchReferenceName(branch))
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, false, nil
	}
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	return r.Hash(), true, nil
}
