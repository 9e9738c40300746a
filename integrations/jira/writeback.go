package jira

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	gojira "github.com/andygrunwald/go-jira"

	"github.com/code-releaser/code-releaser/workflow"
)

// Record implements workflow.TicketRecorder: it comments on the ticket,
// upserts the env's remote link and, after a successful release to an env
// with a configured transition, moves the ticket. Each part is tried even
// when another failed; done lists what worked, err joins what did not.
func (c *Client) Record(ctx context.Context, n workflow.TicketNote) (done string, err error) {
	const op = "jira.record"
	k, err := checkKey(op, n.Release.Ticket)
	if err != nil {
		return "", err
	}
	var did []string
	var errs []error
	if err := c.comment(ctx, k, CommentBody(n)); err != nil {
		errs = append(errs, err)
	} else {
		did = append(did, "commented on "+string(k))
	}
	if link, ok := c.remoteLink(n); ok {
		if err := c.upsertLink(ctx, k, link); err != nil {
			errs = append(errs, err)
		} else {
			did = append(did, "linked "+n.Release.Env+" on "+string(k))
		}
	}
	if target := c.cfg.Transitions[n.Release.Env]; target != "" && n.Failure == "" && n.RollbackOf == "" {
		moved, err := c.transition(ctx, k, target, n.Ticket)
		switch {
		case err != nil:
			errs = append(errs, err)
		case moved:
			did = append(did, "moved "+string(k)+" to "+target)
		}
	}
	return strings.Join(did, ", "), errors.Join(errs...)
}

// CommentBody is the comment a release leaves on its ticket, in Jira's
// wiki markup (REST v2): env, commit, result and the link to the thread.
func CommentBody(n workflow.TicketNote) string {
	r := n.Release
	var b strings.Builder
	branch := n.Env.Branch
	switch {
	case n.RollbackOf != "" && n.Failure == "":
		fmt.Fprintf(&b, "Code-Releaser rolled back *%s*: release %s of %s is undone and %s runs an earlier commit again; fix or revert %s in %s before its next release",
			r.Env, n.RollbackOf, r.Ticket, r.Env, r.Ticket, firstNonEmpty(branch, "the production branch"))
	case n.Failure == "":
		fmt.Fprintf(&b, "Code-Releaser released %s to *%s*", r.Ticket, r.Env)
	case n.RollbackOf != "":
		fmt.Fprintf(&b, "Code-Releaser's rollback of *%s* (undoing release %s of %s) failed: %s", r.Env, n.RollbackOf, r.Ticket, oneLine(n.Failure, 500))
	default:
		fmt.Fprintf(&b, "Code-Releaser's release of %s to *%s* failed: %s", r.Ticket, r.Env, oneLine(n.Failure, 500))
	}
	if n.SHA != "" {
		if branch != "" {
			fmt.Fprintf(&b, "\n* Commit: {{%s}} on {{%s}}", n.SHA, branch)
		} else {
			fmt.Fprintf(&b, "\n* Commit: {{%s}}", n.SHA)
		}
	}
	if n.Deploy.Status != "" {
		fmt.Fprintf(&b, "\n* Deploy: %s", n.Deploy.Status)
		if s := oneLine(n.Deploy.Summary, 300); s != "" {
			b.WriteString(" — " + s)
		}
	}
	fmt.Fprintf(&b, "\n* Release: %s, requested by %s", r.ID, r.By)
	if n.Ticket.Unverified != "" {
		b.WriteString("\n* Note: released without checking this ticket in Jira, which was down")
	}
	if n.Link != "" {
		fmt.Fprintf(&b, "\n* Details: [Slack thread|%s]", n.Link)
	}
	return b.String()
}

// comment posts {"body": text} and nothing else: go-jira's AddComment
// sends empty author/updateAuthor/visibility objects, which Jira Cloud
// refuses with a 400.
func (c *Client) comment(ctx context.Context, k workflow.TicketKey, text string) error {
	body := struct {
		Body string `json:"body"`
	}{text}
	return c.call(ctx, "jira.comment", string(k), http.MethodPost, issuePath(k, "/comment"), body, nil)
}

// remoteLink is the env's link on the ticket. Its globalId is stable per
// namespace and env, so that Jira updates the link on the next release
// instead of adding one. ok is false when there is nowhere to point.
func (c *Client) remoteLink(n workflow.TicketNote) (gojira.RemoteLink, bool) {
	target := firstNonEmpty(n.Link, c.cfg.LinkURL)
	if target == "" {
		return gojira.RemoteLink{}, false
	}
	title := fmt.Sprintf("%s: %s", n.Release.Env, workflow.ShortSHA(n.SHA))
	summary := "released by Code-Releaser, release " + n.Release.ID
	if n.RollbackOf != "" && n.Failure == "" {
		title += " (rolled back)"
		summary = "release " + n.RollbackOf + " rolled back by release " + n.Release.ID
	} else if n.Failure != "" {
		title += " (release failed)"
		summary = "release " + n.Release.ID + " failed: " + oneLine(n.Failure, 200)
	} else if n.Deploy.Status != "" {
		summary += ", deploy " + string(n.Deploy.Status)
	}
	return gojira.RemoteLink{
		GlobalID:     c.GlobalID(n.Release.Env),
		Application:  &gojira.RemoteLinkApplication{Type: "com.code-releaser", Name: "Code-Releaser"},
		Relationship: "released to",
		Object:       &gojira.RemoteLinkObject{URL: target, Title: title, Summary: summary},
	}, true
}

// GlobalID is the remote link id of env: the same on every release, so
// that Jira's upsert keeps one link per env and bot.
func (c *Client) GlobalID(env string) string {
	id := "code-releaser=" + c.cfg.LinkNamespace + "&env=" + env
	if len(id) > 255 { // Jira's limit
		sum := sha256.Sum256([]byte(c.cfg.LinkNamespace))
		id = "code-releaser=" + hex.EncodeToString(sum[:8]) + "&env=" + env
	}
	return id
}

// upsertLink creates or updates the link with link's globalId.
func (c *Client) upsertLink(ctx context.Context, k workflow.TicketKey, link gojira.RemoteLink) error {
	var out gojira.RemoteLink
	return c.call(ctx, "jira.link", string(k), http.MethodPost, issuePath(k, "/remotelink"), link, &out)
}

// transition moves the ticket to the status (or through the transition)
// named target; moved is false when it is there already.
func (c *Client) transition(ctx context.Context, k workflow.TicketKey, target string, t workflow.Ticket) (moved bool, err error) {
	const op = "jira.transition"
	if strings.EqualFold(t.Status, target) {
		return false, nil
	}
	var list struct {
		Transitions []gojira.Transition `json:"transitions"`
	}
	if err := c.call(ctx, op, string(k), http.MethodGet, issuePath(k, "/transitions"), nil, &list); err != nil {
		return false, err
	}
	var names []string
	for _, tr := range list.Transitions {
		if strings.EqualFold(tr.To.Name, target) || strings.EqualFold(tr.Name, target) {
			body := map[string]any{"transition": map[string]string{"id": tr.ID}}
			if err := c.call(ctx, op, string(k), http.MethodPost, issuePath(k, "/transitions"), body, nil); err != nil {
				return false, err
			}
			return true, nil
		}
		names = append(names, tr.Name+" → "+tr.To.Name)
	}
	status := t.Status
	if status == "" {
		status = "its status"
	}
	return false, workflow.Errorf(op, workflow.Invalid,
		"%s cannot move from %s to %s (jira.transitions): the transitions open to Code-Releaser are %s",
		k, status, target, firstNonEmpty(strings.Join(names, ", "), "none"))
}

// oneLine folds s onto one line of at most n bytes.
func oneLine(s string, n int) string { return clip(s, n) }
