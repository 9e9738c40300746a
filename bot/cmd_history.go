package bot

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// historyCommand is /release history ENV [N].
func (b *Bot) historyCommand() Command {
	return Command{
		Name:    "history",
		Args:    []Arg{ArgEnv, ArgCountOpt},
		Summary: "the env's last N actions (default 10)",
		Run:     b.history,
	}
}

func (b *Bot) history(ctx context.Context, req *Request) (Reply, error) {
	n := req.Args.N
	if n == 0 {
		n = 10
	}
	evs, err := b.d.Service.History(ctx, req.Args.Env, n)
	if err != nil {
		return Reply{}, err
	}
	if len(evs) == 0 {
		return textReply(fmt.Sprintf("Nothing has happened in *%s* yet.", req.Args.Env)), nil
	}
	var s strings.Builder
	fmt.Fprintf(&s, "*Last %d in %s*\n", len(evs), req.Args.Env)
	for _, e := range evs {
		fmt.Fprintf(&s, "• %s %s %s", e.At.UTC().Format(time.DateTime), mention(e.Actor), e.Action)
		if e.Ticket != "" {
			fmt.Fprintf(&s, " *%s*", e.Ticket)
		}
		if e.SHA != "" {
			fmt.Fprintf(&s, " `%s`", shortSHA(e.SHA))
		}
		if e.Detail != "" {
			fmt.Fprintf(&s, " — %s", people(escape(truncate(e.Detail, 120))))
		}
		s.WriteString("\n")
	}
	return textReply(truncate(s.String(), maxSectionText)), nil
}
