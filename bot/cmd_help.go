package bot

import (
	"context"

	"github.com/code-releaser/code-releaser/workflow"
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

// notYet is the answer of a command whose use case is not wired in.
func notYet(name string) error {
	return workflow.Errorf(name, workflow.Invalid, "`%s %s` is not enabled on this Code-Releaser yet; ask the operators", SlashCommand, name)
}
