package deploy

import (
	"context"
	"sync"
)

// task is one node of the deploy graph.
type task struct {
	id    string
	after []string
	// run does the work and reports success. It is not called when a task
	// it waits for failed or was skipped; skip is called instead.
	run  func(ctx context.Context) bool
	skip func(because string)
}

// runGraph runs tasks as their dependencies finish, at most parallel at a
// time. A failed or skipped task skips everything that waits for it; the
// others go on. When ctx ends, tasks not yet started are skipped.
func runGraph(ctx context.Context, tasks []*task, parallel int) {
	if parallel < 1 {
		parallel = 1
	}
	byID := map[string]*task{}
	waiting := map[string]int{}
	dependents := map[string][]string{}
	for _, t := range tasks {
		byID[t.id] = t
	}
	for _, t := range tasks {
		for _, a := range t.after {
			if byID[a] == nil {
				continue
			}
			waiting[t.id]++
			dependents[a] = append(dependents[a], t.id)
		}
	}
	type done struct {
		id string
		ok bool
	}
	results := make(chan done)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	bad := map[string]string{} // failed or skipped task -> the root cause
	remaining := len(tasks)
	var ready []string
	for _, t := range tasks {
		if waiting[t.id] == 0 {
			ready = append(ready, t.id)
		}
	}
	// finish records a task's end and returns the tasks it made ready.
	finish := func(id string, ok bool) {
		remaining--
		if !ok {
			if _, set := bad[id]; !set {
				bad[id] = id
			}
		}
		for _, d := range dependents[id] {
			if !ok {
				if _, set := bad[d]; !set {
					bad[d] = bad[id]
				}
			}
			waiting[d]--
			if waiting[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	for remaining > 0 {
		for len(ready) > 0 {
			id := ready[0]
			ready = ready[1:]
			t := byID[id]
			if cause, isBad := bad[id]; isBad {
				t.skip(cause)
				finish(id, false)
				continue
			}
			if ctx.Err() != nil {
				t.skip("")
				bad[id] = ""
				finish(id, false)
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					t.skip("")
					results <- done{id, false}
					return
				}
				ok := t.run(ctx)
				<-sem
				results <- done{id, ok}
			}()
		}
		if remaining == 0 {
			break
		}
		r := <-results
		finish(r.id, r.ok)
	}
	wg.Wait()
}
