package bot

import (
	"context"
)

// helpCommand is /release help, generated from the table.
func (b *Bot) helpCommand() Command {
	return Command{
		Name:    "help",
		Summary: "this list",
		Run:     b.help,
	}
}

func (b *Bot) help(ctx context.Context, req *Request) (Reply, error) {
	return textReply(b.table.Help()), nil
}
