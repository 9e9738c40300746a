package bot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
)

// holdCommand is /release hold ENV [reason] [--until T].
func (b *Bot) holdCommand() Command {
	return Command{
		Name:    "hold",
		Args:    []Arg{ArgEnv, ArgReason},
		Summary: "freeze the env: releases queue until it is unheld (`--until 2h` or `--until 15:30` UTC ends it)",
		Run:     b.hold,
	}
}

func (b *Bot) hold(ctx context.Context, req *Request) (Reply, error) {
	reason, until, err := parseUntil(req.Args.Reason, b.d.Clock.Now())
	if err != nil {
		return Reply{}, err
	}
	h, err := b.d.Lifecycle.Hold(withOrigin(ctx, req), workflow.HoldRequest{Env: req.Args.Env, By: req.User, Reason: reason, Until: until})
	if err != nil {
		return Reply{}, err
	}
	text := fmt.Sprintf(":double_vertical_bar: %s held *%s*: %s", mention(req.User.ID), h.Env, escape(orNone(h.Reason, "no reason given")))
	if !h.Until.IsZero() {
		text += fmt.Sprintf(" (until %s)", h.Until.UTC().Format("Jan 2 15:04 MST"))
	}
	return Reply{Public: true, Text: text}, nil
}

// parseUntil takes "--until T" out of a hold's reason: T is a duration
// (2h, 90m) or a UTC time of day (15:30, the next one) or an RFC 3339
// time.
func parseUntil(reason string, now time.Time) (string, time.Time, error) {
	words := strings.Fields(reason)
	for i, w := range words {
		if w != "--until" && w != "until:" {
			continue
		}
		if i+1 >= len(words) {
			return "", time.Time{}, workflow.Errorf("parse", workflow.Invalid, "--until needs a time: a duration like 2h, or a UTC time like 15:30")
		}
		v := words[i+1]
		rest := strings.Join(append(append([]string(nil), words[:i]...), words[i+2:]...), " ")
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			return rest, now.Add(d), nil
		}
		if t, err := time.Parse("15:04", v); err == nil {
			n := now.UTC()
			at := time.Date(n.Year(), n.Month(), n.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC)
			if !at.After(n) {
				at = at.Add(24 * time.Hour)
			}
			return rest, at, nil
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return rest, t, nil
		}
		return "", time.Time{}, workflow.Errorf("parse", workflow.Invalid, "%q is not a time: give a duration like 2h, or a UTC time like 15:30", truncate(v, 30))
	}
	return reason, time.Time{}, nil
}
