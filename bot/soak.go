package bot

import (
	"context"
	"fmt"
	"strings"

	"github.com/code-releaser/code-releaser/workflow"
)

// overrideSoakFlag is the release command's break-glass flag: an approver
// of a production env may release before its soak, with a reason.
const overrideSoakFlag = "--override-soak"

// parseOverrideSoak reads "--override-soak reason..." (Slack may have
// turned the dashes into one em dash); the reason is the rest of the text.
func parseOverrideSoak(toks []string, usage string) (string, error) {
	if strings.TrimLeft(strings.ToLower(toks[0]), "-") != strings.TrimLeft(overrideSoakFlag, "-") || !strings.HasPrefix(toks[0], "-") {
		return "", workflow.Errorf("parse", workflow.Invalid, "too many words: %q. Usage: `%s`", truncate(strings.Join(toks, " "), 40), usage)
	}
	reason := truncate(strings.Join(toks[1:], " "), maxReason)
	if reason == "" {
		return "", workflow.Errorf("parse", workflow.Invalid, "%s needs a reason, like `%s OPS-123 prod %s \"payments are down\"`", overrideSoakFlag, SlashCommand, overrideSoakFlag)
	}
	return reason, nil
}

// soakText is the approval preview's lines on the soak: each ticket's time
// in the required env and, when the gate was overridden, by whom and why.
func soakText(r *workflow.SoakReport) string {
	if r == nil {
		return ""
	}
	var s strings.Builder
	fmt.Fprintf(&s, ":hourglass: Soak of %s in *%s*:", workflow.Human(r.Need), r.Env)
	if len(r.Tickets) == 0 {
		s.WriteString(" no ticket to soak.")
	}
	s.WriteString("\n")
	for _, t := range r.Tickets {
		mark := ":white_check_mark:"
		if t.For(r.At) < r.Need {
			mark = ":warning:"
		}
		fmt.Fprintf(&s, "%s %s\n", mark, escape(r.Describe(t)))
	}
	if r.Override != "" {
		fmt.Fprintf(&s, ":rotating_light: The soak was overridden by %s: _%s_\n", mention(r.OverrideBy), escape(r.OverrideReason))
	}
	return s.String()
}

// SoakOverridden implements workflow.Notifier: the release's thread
// says who overrode the soak, why, and which tickets were short of it.
func (n *Notifier) SoakOverridden(ctx context.Context, r workflow.Release, rep workflow.SoakReport) error {
	ref, err := n.ref(ctx, r.ID)
	if err != nil || ref.TS == "" {
		return err
	}
	var s strings.Builder
	fmt.Fprintf(&s, ":rotating_light: %s overrode *%s*'s soak of %s in *%s*", mention(r.By), r.Env, workflow.Human(rep.Need), rep.Env)
	if rep.OverrideReason != "" {
		fmt.Fprintf(&s, ": _%s_", escape(rep.OverrideReason))
	}
	s.WriteString("\n")
	for _, t := range rep.Short() {
		fmt.Fprintf(&s, "• %s\n", escape(rep.Describe(t)))
	}
	return n.thread(ctx, ref, strings.TrimSuffix(s.String(), "\n"), nil)
}
