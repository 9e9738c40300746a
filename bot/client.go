package bot

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/code-releaser/code-releaser/workflow"
)

// ClientConfig is how to reach Slack.
type ClientConfig struct {
	BotToken string // xoxb-…: the Web API
	AppToken string // xapp-… with connections:write: Socket Mode
	// APIURL is the Web API's base URL, ending with "/"; "" is Slack's.
	// Tests point it at bot/slacktest.
	APIURL string
	// HTTPClient makes the Web API calls; nil is a client with a 30 s
	// timeout.
	HTTPClient *http.Client
	// PingInterval is how long the socket may go without a ping from
	// Slack before it reconnects; 0 is slack-go's 30 s.
	PingInterval time.Duration
	// MaxRateLimitWaits bounds how many 429s one call waits out; 0 is 3.
	MaxRateLimitWaits int
}

// LogValue keeps the tokens out of logs.
func (c ClientConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("api_url", c.APIURL),
		slog.Bool("bot_token_set", c.BotToken != ""),
		slog.Bool("app_token_set", c.AppToken != ""),
	)
}

// CheckTokens checks the tokens' kinds by their prefixes, naming the
// environment variables they come from.
func CheckTokens(bot, app string) error {
	var errs []error
	switch {
	case bot == "":
		errs = append(errs, errors.New("SLACK_BOT_TOKEN is not set (the bot token, xoxb-…)"))
	case !strings.HasPrefix(bot, "xoxb-"):
		errs = append(errs, errors.New("SLACK_BOT_TOKEN is not a bot token: it must start with xoxb-"))
	}
	switch {
	case app == "":
		errs = append(errs, errors.New("SLACK_APP_TOKEN is not set (the app-level token with connections:write, xapp-…)"))
	case !strings.HasPrefix(app, "xapp-"):
		errs = append(errs, errors.New("SLACK_APP_TOKEN is not an app-level token: it must start with xapp-"))
	}
	return errors.Join(errs...)
}

// Client is the bot's Slack connection: the Web API with the bot token,
// Socket Mode with the app token. Its calls wait out 429s.
type Client struct {
	log     *slog.Logger
	api     *slack.Client
	http    *http.Client
	cfg     ClientConfig
	metrics Metrics
}

// NewClient checks cfg and returns a Client. metrics may be nil.
func NewClient(log *slog.Logger, cfg ClientConfig, metrics Metrics) (*Client, error) {
	if err := CheckTokens(cfg.BotToken, cfg.AppToken); err != nil {
		return nil, err
	}
	if cfg.APIURL == "" {
		cfg.APIURL = slack.APIURL
	}
	if !strings.HasSuffix(cfg.APIURL, "/") {
		cfg.APIURL += "/" // slack-go joins method names to it
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.MaxRateLimitWaits <= 0 {
		cfg.MaxRateLimitWaits = 3
	}
	if metrics == nil {
		metrics = nopMetrics{}
	}
	api := slack.New(cfg.BotToken,
		slack.OptionAppLevelToken(cfg.AppToken),
		slack.OptionAPIURL(cfg.APIURL),
		slack.OptionHTTPClient(cfg.HTTPClient),
		slack.OptionLog(slogLogger{log}),
	)
	return &Client{log: log, api: api, http: cfg.HTTPClient, cfg: cfg, metrics: metrics}, nil
}

// call runs one Web API call, waiting out rate limits (429 Retry-After)
// up to MaxRateLimitWaits times, and translates the failure into a
// workflow error.
func (c *Client) call(ctx context.Context, method string, f func(ctx context.Context) error) error {
	for attempt := 0; ; attempt++ {
		err := f(ctx)
		var rl *slack.RateLimitedError
		switch {
		case err == nil:
			c.metrics.APICall(method, "ok")
			return nil
		case errors.As(err, &rl) && attempt < c.cfg.MaxRateLimitWaits:
			c.metrics.APICall(method, "rate_limited")
			wait := min(max(rl.RetryAfter, 100*time.Millisecond), time.Minute)
			c.log.Debug("slack rate limit", slog.String("method", method), slog.Duration("retry_after", wait))
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return workflow.Wrap("slack."+method, workflow.Unavailable, "Slack did not take the message in time", ctx.Err())
			case <-t.C:
			}
		default:
			c.metrics.APICall(method, "error")
			return slackError(method, err)
		}
	}
}

// slackError translates a Web API failure: the one place that reads
// slack-go's error values and Slack's error codes.
func slackError(method string, err error) error {
	op := "slack." + method
	var rl *slack.RateLimitedError
	var se slack.SlackErrorResponse
	var sc slack.StatusCodeError
	switch {
	case errors.As(err, &rl):
		return workflow.Wrap(op, workflow.Unavailable, "Slack is rate-limiting the bot", err)
	case errors.As(err, &se):
		switch se.Err {
		case "channel_not_found", "not_in_channel", "is_archived":
			return workflow.Wrap(op, workflow.Invalid, "the bot cannot post in that channel: invite it with /invite @Code-Releaser", err)
		case "invalid_auth", "not_authed", "token_revoked", "account_inactive":
			return workflow.Wrap(op, workflow.Unavailable, "Slack refused the bot's token", err)
		}
		return workflow.Wrap(op, workflow.Internal, "", err)
	case errors.As(err, &sc):
		return workflow.Wrap(op, workflow.Unavailable, "Slack is not answering", err)
	}
	return workflow.Wrap(op, workflow.Unavailable, "Slack is not answering", err)
}

// message is one message to post or update.
type message struct {
	channel, ts string // ts: the message to update, or empty to post
	thread      string // post as a reply in this thread
	broadcast   bool   // a thread reply also shown in the channel
	text        string
	blocks      []slack.Block
}

func (m message) options() []slack.MsgOption {
	opts := []slack.MsgOption{slack.MsgOptionText(m.text, false), slack.MsgOptionDisableLinkUnfurl()}
	if len(m.blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(m.blocks...))
	}
	if m.thread != "" {
		opts = append(opts, slack.MsgOptionTS(m.thread))
		if m.broadcast {
			opts = append(opts, slack.MsgOptionBroadcast())
		}
	}
	return opts
}

// post posts m and returns its ts.
func (c *Client) post(ctx context.Context, m message) (string, error) {
	var ts string
	err := c.call(ctx, "chat.postMessage", func(ctx context.Context) error {
		var err error
		_, ts, err = c.api.PostMessageContext(ctx, m.channel, m.options()...)
		return err
	})
	return ts, err
}

// update replaces the message m.ts.
func (c *Client) update(ctx context.Context, m message) error {
	return c.call(ctx, "chat.update", func(ctx context.Context) error {
		_, _, _, err := c.api.UpdateMessageContext(ctx, m.channel, m.ts, m.options()...)
		return err
	})
}

// ephemeral shows m to user only.
func (c *Client) ephemeral(ctx context.Context, user string, m message) error {
	return c.call(ctx, "chat.postEphemeral", func(ctx context.Context) error {
		_, err := c.api.PostEphemeralContext(ctx, m.channel, user, m.options()...)
		return err
	})
}

// respond answers through a response_url (usable 5 times in 30 minutes).
func (c *Client) respond(ctx context.Context, url string, r Reply) error {
	msg := &slack.WebhookMessage{Text: r.Text, ResponseType: slack.ResponseTypeEphemeral, ReplaceOriginal: r.ReplaceOriginal}
	if r.Public {
		msg.ResponseType = slack.ResponseTypeInChannel
	}
	if len(r.Blocks) > 0 {
		msg.Blocks = &slack.Blocks{BlockSet: r.Blocks}
	}
	return c.call(ctx, "response_url", func(ctx context.Context) error {
		return slack.PostWebhookCustomHTTPContext(ctx, url, c.http, msg)
	})
}

// publishHome publishes user's Home tab.
func (c *Client) publishHome(ctx context.Context, user string, blocks []slack.Block) error {
	return c.call(ctx, "views.publish", func(ctx context.Context) error {
		_, err := c.api.PublishViewContext(ctx, slack.PublishViewContextRequest{
			UserID: user,
			View:   slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: blocks}},
		})
		return err
	})
}

// groupMembers lists a user group's members (usergroups.users.list,
// scope usergroups:read).
func (c *Client) groupMembers(ctx context.Context, group string) ([]string, error) {
	var users []string
	err := c.call(ctx, "usergroups.users.list", func(ctx context.Context) error {
		var err error
		users, err = c.api.GetUserGroupMembersContext(ctx, group)
		return err
	})
	return users, err
}

// permalink asks Slack for the link to the message ts in channel
// (chat.getPermalink; no scope needed).
func (c *Client) permalink(ctx context.Context, channel, ts string) (string, error) {
	var link string
	err := c.call(ctx, "chat.getPermalink", func(ctx context.Context) error {
		var err error
		link, err = c.api.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: channel, Ts: ts})
		return err
	})
	return link, err
}

// identity is who the tokens belong to.
type identity struct{ Team, User, BotID string }

// authTest asks Slack who the bot token is.
func (c *Client) authTest(ctx context.Context) (identity, error) {
	var id identity
	err := c.call(ctx, "auth.test", func(ctx context.Context) error {
		r, err := c.api.AuthTestContext(ctx)
		if err != nil {
			return err
		}
		id = identity{Team: r.TeamID, User: r.UserID, BotID: r.BotID}
		return nil
	})
	return id, err
}

// slogLogger adapts slack-go's logger to slog at debug level.
type slogLogger struct{ log *slog.Logger }

func (l slogLogger) Output(_ int, s string) error {
	l.log.Debug("slack-go", slog.String("msg", strings.TrimSpace(s)))
	return nil
}

// Scopes are the bot token scopes the bot uses: chat:write for
// chat.postMessage, chat.update and chat.postEphemeral; commands for
// /release; usergroups:read for usergroups.users.list (user groups in
// allow lists and approvers). views.publish, chat.getPermalink and
// auth.test need none; the app-level token needs connections:write for
// apps.connections.open.
func Scopes() []string { return []string{"chat:write", "commands", "usergroups:read", "im:write"} }

// Events are the bot events the bot subscribes to.
func Events() []string { return []string{"app_home_opened"} }

// openDM opens (or finds) the direct-message channel with user and
// returns its ID.
func (c *Client) openDM(ctx context.Context, user string) (string, error) {
	var id string
	err := c.call(ctx, "conversations.open", func(ctx context.Context) error {
		ch, _, _, err := c.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{user}})
		if err == nil && ch != nil {
			id = ch.ID
		}
		return err
	})
	return id, err
}
