package bot

import (
	"context"
	"time"

	"github.com/slack-go/slack"
)

// publishHome renders the env board and publishes it as user's Home tab.
func (b *Bot) publishHome(ctx context.Context, user string) error {
	st, err := b.d.Service.Status(ctx)
	if err != nil {
		return err
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain("Environments")),
		slack.NewActionBlock("home", button(ActionRefresh, "refresh", "Refresh", "")),
	}
	blocks = append(blocks, b.boardBlocks(ctx, st, maxHomeBlocks-len(blocks)-1)...)
	blocks = append(blocks, contextBlock("Updated "+b.d.Clock.Now().UTC().Format(time.DateTime+" MST")+" · `/release help` for the commands"))
	return b.client.publishHome(ctx, user, blocks)
}
