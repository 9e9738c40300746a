package bot

import (
	"context"
	"strings"

	"github.com/code-releaser/code-releaser/workflow"
)

// Inspection reads what is deployed in an env; *workflow.Service
// implements it. A Service without it answers diff and drift with an
// error saying so.
type Inspection interface {
	Diff(ctx context.Context, env string) (workflow.EnvDiff, error)
	Drift(ctx context.Context, env string) ([]workflow.StackDrift, error)
}

// inspection returns the service's Inspection.
func (b *Bot) inspection(op string) (Inspection, error) {
	in, ok := b.d.Service.(Inspection)
	if !ok {
		return nil, workflow.Errorf(op, workflow.Invalid, "%s is not enabled on this bot", op)
	}
	return in, nil
}

// diffCommand is /release diff ENV.
func (b *Bot) diffCommand() Command {
	return Command{
		Name:    "diff",
		Args:    []Arg{ArgEnv},
		Summary: "what is deployed in the env: its branch, the commit each stack was last deployed from, master, and the tickets in each",
		Run:     b.diff,
	}
}

func (b *Bot) diff(ctx context.Context, req *Request) (Reply, error) {
	in, err := b.inspection("diff")
	if err != nil {
		return Reply{}, err
	}
	d, err := in.Diff(ctx, req.Args.Env)
	if err != nil {
		return Reply{}, err
	}
	return preformatted(d.Text()), nil
}

// preformatted is a reply of plain text in columns, in a code block.
func preformatted(text string) Reply {
	text = strings.ReplaceAll(text, "```", "'''")
	return textReply("```\n" + truncate(text, maxSectionText-8) + "```")
}
