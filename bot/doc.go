// Package bot is Code-Releaser's Slack adapter: Socket Mode through
// slack-go's socketmode, one wrapper that acks, dedupes, tracks and logs
// every envelope, a pure parser and a command table for the /release
// grammar, Block Kit rendering of releases, conflicts and the App Home
// board, interactive buttons, and the Slack workflow.Notifier.
//
// slack-go's types stay inside this package: handlers have one shape,
// func(ctx, *Request) (Reply, error), and the composition root only sees
// Client, Bot and Notifier.
package bot
