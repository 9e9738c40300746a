package deploy

import (
	"context"
	"slices"
	"sync"
)

// task is one node of the deploy graph.
type task struct {
	id    string
	after []string
	// early tasks start once every task they wait for is ready (see run),
	// not only done, but for those in full.
	early bool
	full  []string
	// run does the work and reports success. It is not called when a task
	// it waits for failed or was skipped; skip is called instead. run may
	// call ready once, before it returns, when what the early tasks that
	// wait for it need is there and its success is settled (a stack whose
	// update is cleaning up: its exports are the new ones, and a cleanup
	// that fails leaves the stack UPDATE_COMPLETE all the same).
	run  func(ctx context.Context, ready func()) bool
	skip func(because string)
}

// runGraph runs tasks as their dependencies finish (or, for early tasks,
// are ready), at most parallel at a time. A failed or skipped task skips
// everything that waits for it and has not started; the others go on.
// When ctx ends, tasks not yet started are skipped.
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
	type event struct {
		id    string
		ok    bool
		ready bool // the task is ready, not done
	}
	results := make(chan event)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	bad := map[string]string{} // failed or skipped task -> the root cause
	started := map[string]bool{}
	counted := map[[2]string]bool{} // {dependent, task}: no longer waited for
	remaining := len(tasks)
	var ready []string
	for _, t := range tasks {
		if waiting[t.id] == 0 {
			ready = append(ready, t.id)
		}
	}
	// count stops d waiting for id; d is ready when it waits for nothing.
	count := func(d, id string) {
		if k := [2]string{d, id}; !counted[k] {
			counted[k] = true
			if waiting[d]--; waiting[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	// release starts what waits early for id.
	release := func(id string) {
		for _, d := range dependents[id] {
			if t := byID[d]; t.early && !slices.Contains(t.full, id) {
				count(d, id)
			}
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
			if !ok && !started[d] {
				if _, set := bad[d]; !set {
					bad[d] = bad[id]
				}
			}
			count(d, id)
		}
	}
	for remaining > 0 {
		for len(ready) > 0 {
			id := ready[0]
			ready = ready[1:]
			t := byID[id]
			started[id] = true
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
					results <- event{id: id}
					return
				}
				var once sync.Once
				ok := t.run(ctx, func() { once.Do(func() { results <- event{id: id, ready: true} }) })
				<-sem
				results <- event{id: id, ok: ok}
			}()
		}
		if remaining == 0 {
			break
		}
		if ev := <-results; ev.ready {
			release(ev.id)
		} else {
			finish(ev.id, ev.ok)
		}
	}
	wg.Wait()
}
