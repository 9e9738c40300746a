// Package jira is Code-Releaser's Jira adapter, on go-jira's REST v2
// client: it looks tickets up for the workflow (workflow.Tickets), writes
// releases back to them (workflow.TicketRecorder: a comment, a remote link
// per env upserted by a stable globalId, an optional transition) and checks
// its credentials at start (Preflight).
//
// It speaks to Jira Cloud with an account's email and API token (basic
// auth), either at the site URL or through the api.atlassian.com gateway
// (https://api.atlassian.com/ex/jira/<cloudId>, which scoped tokens need),
// and to Jira Server or Data Center with a personal access token (bearer).
//
// Every failure is a *workflow.Error classified by the HTTP status of
// Jira's answer, with a message a person can act on. A 429 (and a 503 on
// a read) is retried after its Retry-After, within bounds.
package jira
