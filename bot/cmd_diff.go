package bot

import (
	"context"
	"strings"
)

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
	d, err := b.d.Service.Diff(ctx, req.Args.Env)
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
