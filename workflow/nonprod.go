package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// nonProd merges the ticket into the env branch, pushes it, records the
// occupants, deploys and announces.
func (r *run) nonProd(ctx context.Context) error {
	const op = "release"
	s := r.s
	var (
		b      built
		master string
		br     Branch
	)
	if err := r.checkRequiredEnv(ctx); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		var err error
		if master, err = r.fetchProductionTip(ctx); err != nil {
			return err
		}
		if br, err = r.resolve(ctx); err != nil {
			return err
		}
		if err := r.checkClean(ctx, master, br); err != nil {
			return err
		}
		if b, err = r.build(ctx, master, br); err != nil {
			return err
		}
		if b.merged == b.old {
			r.step(ctx, StepPushed, fmt.Sprintf("nothing to push: %s already has %s and %s", r.env.Branch, r.rec.Ticket, s.cfg.ProductionBranch))
			break
		}
		if err := r.checkLease(ctx); err != nil {
			return err
		}
		err = s.repo.Push(ctx, r.env.Branch, b.old, b.merged)
		if err == nil {
			r.update(ctx, ReleaseUpdate{PushedSHA: b.merged})
			detail := fmt.Sprintf("%s %s..%s", r.env.Branch, short(b.old), short(b.merged))
			if b.old == "" {
				detail = fmt.Sprintf("created %s at %s", r.env.Branch, short(b.merged))
			}
			r.step(ctx, StepPushed, detail)
			break
		}
		if !errors.Is(err, ErrRefMoved) {
			return fmt.Errorf("push %s: %w", r.env.Branch, err)
		}
		if attempt >= s.cfg.PushAttempts {
			return Wrap(op, Busy, fmt.Sprintf("%s kept moving on the remote while we merged (%d attempts); try again", r.env.Branch, attempt), err)
		}
		r.step(ctx, StepRetry, fmt.Sprintf("%s moved on the remote; merging again (attempt %d of %d)", r.env.Branch, attempt+1, s.cfg.PushAttempts))
	}
	return r.occupyDeployAnnounce(ctx, master, br, b)
}

// occupyDeployAnnounce records the occupants after b was pushed, deploys
// b.merged and announces the release.
func (r *run) occupyDeployAnnounce(ctx context.Context, master string, br Branch, b built) error {
	occupants, graduated, err := r.occupy(ctx, master, br, b)
	if err != nil {
		return err
	}
	if _, err := r.deploy(ctx, b.merged); err != nil {
		return err
	}
	r.announce(ctx, occupants, graduated)
	return nil
}

// fetchProductionTip fetches, records the step and returns the production
// branch's tip.
func (r *run) fetchProductionTip(ctx context.Context) (string, error) {
	if err := r.s.repo.Fetch(ctx); err != nil {
		return "", fmt.Errorf("fetch: %w", err)
	}
	r.step(ctx, StepFetched, "")
	return r.productionTip(ctx)
}

// productionTip returns the production branch's tip.
func (r *run) productionTip(ctx context.Context) (string, error) {
	name := r.s.cfg.ProductionBranch
	sha, ok, err := r.s.repo.Tip(ctx, name)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	if !ok {
		return "", Errorf("release", NotFound, "the repository has no %s branch", name)
	}
	return sha, nil
}

// resolve finds the ticket's branch and checks its name.
func (r *run) resolve(ctx context.Context) (Branch, error) {
	br, err := r.s.repo.ResolveTicket(ctx, r.rec.Ticket)
	if err != nil {
		return Branch{}, fmt.Errorf("resolve %s's branch: %w", r.rec.Ticket, err)
	}
	if err := ValidateBranchName(br.Name); err != nil {
		return Branch{}, err
	}
	if br.Name == r.s.cfg.ProductionBranch || r.isEnvBranch(br.Name) {
		return Branch{}, Errorf("release", Invalid, "%s resolves to %s, which is not a ticket branch", r.rec.Ticket, br.Name)
	}
	r.update(ctx, ReleaseUpdate{Branch: br.Name, TicketSHA: br.SHA})
	r.step(ctx, StepResolved, br.Name+"@"+short(br.SHA))
	return br, nil
}

func (r *run) isEnvBranch(name string) bool {
	for _, e := range r.s.envs {
		if e.Branch == name {
			return true
		}
	}
	return false
}

// checkClean is the pollution guard: it refuses a ticket branch that
// carries the bot's release merges, which would drag other tickets' work
// (and other envs' state) toward master.
func (r *run) checkClean(ctx context.Context, master string, br Branch) error {
	commits, err := r.s.repo.Log(ctx, master, br.SHA)
	if err != nil {
		return fmt.Errorf("log %s..%s: %w", r.s.cfg.ProductionBranch, br.Name, err)
	}
	for _, c := range commits {
		if IsReleaseMerge(c.Message) {
			return Errorf("release", Invalid,
				"%s's branch %s contains Code-Releaser's merge %s (%q), so it carries other tickets' work; rebuild the branch from %s without merging any release/ branch",
				r.rec.Ticket, br.Name, short(c.SHA), c.Subject, r.s.cfg.ProductionBranch)
		}
	}
	r.step(ctx, StepChecked, fmt.Sprintf("no release merges in the %s not in %s", count(len(commits), "commit"), r.s.cfg.ProductionBranch))
	return nil
}

// built is the env branch commit a release made, not pushed yet.
type built struct {
	old     string // the env branch's remote tip, "" when it did not exist
	merged  string // the commit to push
	created bool   // the env branch is new
}

// build syncs master into the env branch (or starts it from master) and
// merges the ticket into it, in memory.
func (r *run) build(ctx context.Context, master string, br Branch) (built, error) {
	s := r.s
	envTip, exists, err := s.repo.Tip(ctx, r.env.Branch)
	if err != nil {
		return built{}, fmt.Errorf("read %s: %w", r.env.Branch, err)
	}
	b := built{old: envTip, merged: master, created: !exists}
	if !exists {
		b.old = ""
		r.step(ctx, StepCreated, fmt.Sprintf("%s from %s@%s", r.env.Branch, s.cfg.ProductionBranch, short(master)))
	} else {
		out, err := s.repo.Merge(ctx, MergeRequest{
			Ours: envTip, Theirs: master,
			OursLabel: r.env.Branch, TheirsLabel: s.cfg.ProductionBranch,
			Message: syncMessage(s.cfg.ProductionBranch, r.env.Branch, r.rec.ID),
			Author:  r.user.String(), When: s.clock.Now(),
		})
		if err != nil {
			return built{}, fmt.Errorf("merge %s into %s: %w", s.cfg.ProductionBranch, r.env.Branch, err)
		}
		if len(out.Conflicts) > 0 {
			return built{}, r.conflict(ctx, ConflictSync, s.cfg.ProductionBranch, out.Conflicts,
				fmt.Sprintf("%s no longer merges with %s: reset it (/release reset %s) and release its tickets again", r.env.Branch, s.cfg.ProductionBranch, r.env.Name))
		}
		b.merged = out.SHA
		detail := "merged " + s.cfg.ProductionBranch + "@" + short(master)
		if out.UpToDate {
			detail = "already has " + s.cfg.ProductionBranch + "@" + short(master)
		}
		r.step(ctx, StepSynced, detail)
	}

	out, err := s.repo.Merge(ctx, MergeRequest{
		Ours: b.merged, Theirs: br.SHA,
		OursLabel: r.env.Branch, TheirsLabel: br.Name,
		Message: releaseMessage(r.rec.Ticket, r.env.Name, r.ticket.Summary, r.user.ID, r.rec.ID),
		Author:  r.user.String(), When: s.clock.Now(),
	})
	if err != nil {
		return built{}, fmt.Errorf("merge %s into %s: %w", br.Name, r.env.Branch, err)
	}
	if len(out.Conflicts) > 0 {
		return built{}, r.conflict(ctx, ConflictTicket, br.Name, out.Conflicts,
			fmt.Sprintf("nothing was pushed; agree with the owners named which change wins, update %s (never by merging a release/ branch into it) and release again", br.Name))
	}
	detail := fmt.Sprintf("%s@%s into %s: %s", br.Name, short(br.SHA), r.env.Branch, short(out.SHA))
	if out.UpToDate {
		detail = fmt.Sprintf("%s already has %s@%s", r.env.Branch, br.Name, short(br.SHA))
	}
	b.merged = out.SHA
	r.update(ctx, ReleaseUpdate{MergedSHA: out.SHA})
	r.step(ctx, StepMerged, detail)
	return b, nil
}

// conflict builds the Conflict error of a merge of theirs into the env
// branch, naming the occupants whose commits touched the files.
func (r *run) conflict(ctx context.Context, stage ConflictStage, theirs string, files []FileConflict, hint string) error {
	rep := &ConflictReport{
		Stage: stage, Ticket: r.rec.Ticket, Env: r.env.Name,
		Ours: r.env.Branch, Theirs: theirs, Files: files, Hint: hint,
	}
	culprits, err := r.culprits(ctx, rep.Paths())
	if err != nil {
		// The report is still worth giving without names.
		r.log.Warn("conflict attribution", slog.Any("err", err))
	}
	rep.Culprits = culprits
	msg := fmt.Sprintf("%s conflicts with %s in %s", theirs, r.env.Branch, joinComma(rep.Paths()))
	if stage == ConflictTicket {
		msg = fmt.Sprintf("%s conflicts with %s in %s", r.rec.Ticket, r.env.Branch, joinComma(rep.Paths()))
	}
	if len(culprits) > 0 {
		var names []string
		for _, c := range culprits {
			names = append(names, fmt.Sprintf("%s (released by %s)", c.Occupant.Ticket, c.Occupant.By))
		}
		msg += ", touched by " + joinComma(names)
	}
	msg += "; " + hint
	return &Error{Op: "release.merge", Kind: Conflict, Msg: msg, Err: rep}
}
