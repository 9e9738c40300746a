package jira

import (
	"context"

	"github.com/code-releaser/code-releaser/workflow"
)

var _ workflow.TicketCommenter = (*Client)(nil)

// Comment implements workflow.TicketCommenter: the automatic occupancy
// changes (a ticket taken out of an env at its expiry, or one that could
// not be) are written on the ticket as a comment.
func (c *Client) Comment(ctx context.Context, k workflow.TicketKey, text string) error {
	return c.comment(ctx, k, text)
}
