package bot

import (
	"strings"

	"github.com/code-releaser/code-releaser/workflow"
)

// stepMark is the mark of a step in a release's step line: a cross for a
// verification that failed (the step itself or a check whose detail says
// FAILED), an hourglass while checks run, a tick otherwise.
func stepMark(s workflow.Step) string {
	switch {
	case s.Name == workflow.StepVerifyFailed,
		strings.HasPrefix(s.Name, "verify:") && strings.HasPrefix(s.Detail, "FAILED"):
		return ":x:"
	case s.Name == workflow.StepVerifying:
		return ":hourglass_flowing_sand:"
	}
	return ":white_check_mark:"
}
