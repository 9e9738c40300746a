package bot

import (
	"sync"

	"github.com/code-releaser/code-releaser/workflow"
)

// seenRefsKeep bounds how many message places a Notifier remembers.
const seenRefsKeep = 1000

// seenRefs is where the messages this process posted or edited are, kept
// in its memory as a fallback for the shared store: when that store lost
// its data (a Redis restarted empty), the release's message is still
// edited rather than posted again, and its place is written back. The
// oldest entries go first.
type seenRefs struct {
	mu    sync.Mutex
	refs  map[string]workflow.MessageRef
	order []string
}

func newSeenRefs() *seenRefs { return &seenRefs{refs: map[string]workflow.MessageRef{}} }

// put remembers ref at key when it names a posted message.
func (s *seenRefs) put(key string, ref workflow.MessageRef) {
	if ref.TS == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.refs[key]; !ok {
		s.order = append(s.order, key)
		if len(s.order) > seenRefsKeep {
			delete(s.refs, s.order[0])
			s.order = s.order[1:]
		}
	}
	s.refs[key] = ref
}

// get returns the place remembered at key.
func (s *seenRefs) get(key string) (workflow.MessageRef, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ref, ok := s.refs[key]
	return ref, ok
}
