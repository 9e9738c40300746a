package cfntest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

const stackType = "AWS::CloudFormation::Stack"

// run executes a change set in the background, one resource at a time.
func (s *Server) run(cs *changeSet, token string, opIndex int) {
	defer s.wg.Done()
	st := cs.st
	lock := func() { s.mu.Lock() }
	unlock := func() { s.mu.Unlock() }
	// Resources follow one another on a fixed clock: each ends
	// ResourceDelay after the previous one did, whatever the simulator's
	// own bookkeeping and the host's scheduling take in between, so that
	// an operation of n resources lasts n×ResourceDelay as the model says
	// (sleeping ResourceDelay each time added that overhead n times).
	clock := resourceClock(s.opts.ResourceDelay)
	sleep := clock.next
	ev := func(logical, physical, typ, status, reason string) {
		s.event(st, logical, physical, typ, status, reason, token)
	}
	failure := func(logical, op string) (string, bool) {
		k := st.name + "/" + logical + "/" + op
		r, ok := s.failures[k]
		if ok {
			delete(s.failures, k)
		}
		return r, ok
	}
	finish := func(status string) {
		s.ops[opIndex].End, s.ops[opIndex].FinalStatus = time.Now(), status
		if strings.HasSuffix(status, "_COMPLETE") && (status == "CREATE_COMPLETE" || status == "UPDATE_COMPLETE") {
			cs.execStatus = "EXECUTE_COMPLETE"
		} else {
			cs.execStatus = "EXECUTE_FAILED"
		}
	}
	creating := cs.typ == "CREATE"
	// breached lists the rollback triggers in ALARM (or missing); the
	// caller holds the lock.
	breach := ""
	breached := func() bool {
		var arns []string
		for _, arn := range cs.triggers {
			if a := s.alarmByARN(arn); a == nil || a.state == AlarmAlarm {
				arns = append(arns, arn)
			}
		}
		if len(arns) > 0 && breach == "" {
			breach = "Rollback triggered: the rollback trigger(s) [" + strings.Join(arns, ", ") + "] went to ALARM state (or are missing)."
		}
		return breach != ""
	}

	lock()
	if creating {
		ev(st.name, st.id, stackType, "CREATE_IN_PROGRESS", "User Initiated")
	} else {
		ev(st.name, st.id, stackType, "UPDATE_IN_PROGRESS", "User Initiated")
	}
	unlock()

	// Forward: add and modify resources in template order.
	var added, modified []string
	var failed []string
	oldResources := map[string]resource{}
	for id, r := range st.resources {
		oldResources[id] = *r
	}
	for _, ch := range cs.changes {
		rc := ch.ResourceChange
		if rc.Action == "Remove" {
			continue
		}
		op, verb := "create", "CREATE"
		if rc.Action == "Modify" {
			op, verb = "update", "UPDATE"
		}
		lock()
		if breached() {
			unlock()
			break
		}
		ev(rc.LogicalResourceId, rc.PhysicalResourceId, rc.ResourceType, verb+"_IN_PROGRESS", "")
		unlock()
		sleep()
		lock()
		if reason, ok := failure(rc.LogicalResourceId, op); ok {
			ev(rc.LogicalResourceId, rc.PhysicalResourceId, rc.ResourceType, verb+"_FAILED", reason)
			failed = append(failed, rc.LogicalResourceId)
			unlock()
			break
		}
		phys := rc.PhysicalResourceId
		if rc.Action == "Add" {
			phys = fmt.Sprintf("%s-%s-%s", st.name, rc.LogicalResourceId, strings.ToUpper(requestID()[:12]))
			added = append(added, rc.LogicalResourceId)
		} else {
			modified = append(modified, rc.LogicalResourceId)
		}
		props := ""
		for _, r := range cs.parsed.resources {
			if r.logicalID == rc.LogicalResourceId {
				props = r.props
			}
		}
		st.resources[rc.LogicalResourceId] = &resource{typ: rc.ResourceType, physical: phys, props: props}
		ev(rc.LogicalResourceId, phys, rc.ResourceType, verb+"_COMPLETE", "")
		unlock()
	}
	// The monitoring period: the triggers are watched for
	// MonitoringTimeInMinutes once every resource is deployed.
	lock()
	watch := len(failed) == 0 && !breached() && len(cs.triggers) > 0
	unlock()
	if end := time.Now().Add(time.Duration(cs.monitoring) * s.opts.MonitoringMinute); watch {
		for time.Now().Before(end) {
			time.Sleep(min(time.Until(end), max(s.opts.MonitoringMinute/10, time.Millisecond)))
			lock()
			stop := breached()
			unlock()
			if stop {
				break
			}
		}
		clock.reset()
	}

	lock()
	var outputs []outputXML
	var newExports map[string]string
	stackReason := ""
	if breach != "" {
		stackReason = breach
	} else if len(failed) == 0 {
		var err error
		outputs, newExports, err = s.evalOutputs(st, cs)
		if err == nil {
			err = s.checkExports(st, newExports)
		}
		if err != nil {
			stackReason = err.Error()
		}
	} else if creating {
		stackReason = fmt.Sprintf("The following resource(s) failed to create: [%s]. Rollback requested by user.", strings.Join(failed, ", "))
	} else {
		stackReason = fmt.Sprintf("The following resource(s) failed to update: [%s]. ", strings.Join(failed, ", "))
	}
	if stackReason == "" {
		// Success: apply the new state, clean up removed resources.
		for n, e := range s.exports {
			if e.stackID == st.id {
				if _, keep := newExports[n]; !keep {
					delete(s.exports, n)
				}
			}
		}
		for n, v := range newExports {
			s.exports[n] = &exportEntry{stackID: st.id, stackName: st.name, value: v}
		}
		st.template, st.parsed, st.params, st.given, st.tags, st.caps = cs.template, cs.parsed, cs.params, cs.given, cs.tags, cs.caps
		st.outputs, st.imports = outputs, cs.imports
		st.description = ""
		if d := field(cs.parsed.root, "Description"); d != nil {
			st.description = d.Value
		}
		if creating {
			ev(st.name, st.id, stackType, "CREATE_COMPLETE", "")
			finish("CREATE_COMPLETE")
			unlock()
			return
		}
		st.updated = time.Now()
		ev(st.name, st.id, stackType, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "")
		unlock()
		for _, ch := range cs.changes {
			if ch.ResourceChange.Action == "Remove" {
				rc := ch.ResourceChange
				lock()
				ev(rc.LogicalResourceId, rc.PhysicalResourceId, rc.ResourceType, "DELETE_IN_PROGRESS", "")
				unlock()
				sleep()
				lock()
				delete(st.resources, rc.LogicalResourceId)
				ev(rc.LogicalResourceId, rc.PhysicalResourceId, rc.ResourceType, "DELETE_COMPLETE", "")
				unlock()
			}
		}
		lock()
		ev(st.name, st.id, stackType, "UPDATE_COMPLETE", "")
		finish("UPDATE_COMPLETE")
		unlock()
		return
	}

	// Failure: roll back.
	stuck := s.stuck[st.name]
	delete(s.stuck, st.name)
	// rollBack undoes ids, newest first, one at a time: verb_IN_PROGRESS,
	// a wait, undo, verb_COMPLETE. When stuck the first one fails instead
	// (it "could not be <done>"), the stack ends in stackFailed and
	// rollBack returns false. It is called, and returns, without the lock.
	rollBack := func(ids []string, verb string, stuck bool, done, stackFailed string, undo func(id string)) bool {
		for i := len(ids) - 1; i >= 0; i-- {
			id := ids[i]
			lock()
			r := st.resources[id]
			ev(id, r.physical, r.typ, verb+"_IN_PROGRESS", "")
			unlock()
			sleep()
			lock()
			if stuck {
				ev(id, r.physical, r.typ, verb+"_FAILED", "Resource handler returned message: \"simulated: the resource could not be "+done+"\"")
				ev(st.name, st.id, stackType, stackFailed, "The following resource(s) failed to "+strings.ToLower(verb)+": ["+id+"]. ")
				finish(stackFailed)
				unlock()
				return false
			}
			undo(id)
			ev(id, r.physical, r.typ, verb+"_COMPLETE", "")
			unlock()
		}
		return true
	}
	remove := func(id string) { delete(st.resources, id) }
	if creating {
		if cs.onFailure == "DO_NOTHING" {
			ev(st.name, st.id, stackType, "CREATE_FAILED", stackReason)
			finish("CREATE_FAILED")
			unlock()
			return
		}
		ev(st.name, st.id, stackType, "ROLLBACK_IN_PROGRESS", stackReason)
		unlock()
		if !rollBack(added, "DELETE", stuck, "deleted", "ROLLBACK_FAILED", remove) {
			return
		}
		lock()
		ev(st.name, st.id, stackType, "ROLLBACK_COMPLETE", "")
		if cs.onFailure != "DELETE" {
			finish("ROLLBACK_COMPLETE")
			unlock()
			return
		}
		ev(st.name, st.id, stackType, "DELETE_IN_PROGRESS", "")
		ev(st.name, st.id, stackType, "DELETE_COMPLETE", "")
		delete(s.stacks, st.name)
		finish("DELETE_COMPLETE")
		unlock()
		return
	}
	ev(st.name, st.id, stackType, "UPDATE_ROLLBACK_IN_PROGRESS", stackReason)
	unlock()
	restore := func(id string) {
		old := oldResources[id]
		st.resources[id] = &old
	}
	if !rollBack(modified, "UPDATE", stuck, "rolled back", "UPDATE_ROLLBACK_FAILED", restore) {
		return
	}
	lock()
	ev(st.name, st.id, stackType, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "")
	unlock()
	rollBack(added, "DELETE", false, "deleted", "", remove)
	lock()
	ev(st.name, st.id, stackType, "UPDATE_ROLLBACK_COMPLETE", "")
	finish("UPDATE_ROLLBACK_COMPLETE")
	unlock()
}

// evalOutputs evaluates the change set's outputs with the stack's
// resources as they now are.
func (s *Server) evalOutputs(st *stack, cs *changeSet) ([]outputXML, map[string]string, error) {
	ev := &evalEnv{params: cs.params, physical: map[string]string{}, region: s.opts.Region, account: s.opts.Account,
		stackName: st.name, stackID: st.id, root: cs.parsed.root,
		exports: func(n string) (string, bool) { e, ok := s.exports[n]; return e.valueOr(), ok }}
	for id, r := range st.resources {
		ev.physical[id] = r.physical
	}
	var outs []outputXML
	exports := map[string]string{}
	for _, o := range cs.parsed.outputs {
		if o.value == nil {
			return nil, nil, fmt.Errorf("Template format error: Every Outputs member must contain a Value object")
		}
		v, err := ev.eval(toValue(o.value))
		if err != nil {
			return nil, nil, err
		}
		x := outputXML{OutputKey: o.key, OutputValue: fmt.Sprint(v), Description: o.description}
		if o.export != nil {
			n, err := ev.eval(toValue(o.export))
			if err != nil {
				return nil, nil, err
			}
			x.ExportName = fmt.Sprint(n)
			exports[x.ExportName] = x.OutputValue
		}
		outs = append(outs, x)
	}
	return outs, exports, nil
}

// importers lists the live stacks other than self importing name.
func (s *Server) importers(name, self string) []string {
	var out []string
	for _, n := range slices.Sorted(maps.Keys(s.stacks)) {
		st := s.stacks[n]
		if st.id != self && slices.Contains(st.imports, name) {
			out = append(out, n)
		}
	}
	return out
}

// checkExports applies the export rules to a stack's new exports: unique
// per account and region; one in use cannot change or go away.
func (s *Server) checkExports(st *stack, newExports map[string]string) error {
	for _, n := range slices.Sorted(maps.Keys(newExports)) {
		if e := s.exports[n]; e != nil && e.stackID != st.id {
			return fmt.Errorf("Export with name %s is already exported by stack %s", n, e.stackName)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(s.exports)) {
		e := s.exports[n]
		if e.stackID != st.id {
			continue
		}
		users := s.importers(n, st.id)
		if len(users) == 0 {
			continue
		}
		v, kept := newExports[n]
		switch {
		case !kept:
			return fmt.Errorf("Export %s cannot be deleted as it is in use by %s", n, strings.Join(users, ", "))
		case v != e.value:
			return fmt.Errorf("Cannot update export %s as it is in use by %s", n, strings.Join(users, ", "))
		}
	}
	return nil
}

// deleteStack deletes a stack (only an empty one or one under review
// runs synchronously; others take ResourceDelay per resource).
func (s *Server) deleteStack(name, token string) error {
	st := s.findStack(name)
	if st == nil || s.stacks[st.name] != st {
		return nil // DeleteStack of a missing stack succeeds
	}
	name = st.name
	for n, e := range s.exports {
		if e.stackID == st.id {
			if users := s.importers(n, st.id); len(users) > 0 {
				return validation("Export %s cannot be deleted as it is in use by %s", n, strings.Join(users, ", "))
			}
		}
	}
	if inProgress(st.status) && st.status != "REVIEW_IN_PROGRESS" {
		return validation("Stack [%s] cannot be deleted while in status %s", name, st.status)
	}
	s.ops = append(s.ops, Operation{Stack: name, Kind: "DELETE", Start: time.Now()})
	op := len(s.ops) - 1
	s.event(st, st.name, st.id, stackType, "DELETE_IN_PROGRESS", "User Initiated", token)
	finish := func() {
		for n, e := range s.exports {
			if e.stackID == st.id {
				delete(s.exports, n)
			}
		}
		for id, cs := range s.changeSets {
			if cs.st == st {
				delete(s.changeSets, id)
			}
		}
		s.event(st, st.name, st.id, stackType, "DELETE_COMPLETE", "", token)
		delete(s.stacks, name)
		s.ops[op].End, s.ops[op].FinalStatus = time.Now(), "DELETE_COMPLETE"
	}
	if len(st.resources) == 0 {
		finish()
		return nil
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ids := slices.Sorted(maps.Keys(st.resources))
		clock := resourceClock(s.opts.ResourceDelay)
		for _, id := range ids {
			s.mu.Lock()
			r := st.resources[id]
			s.event(st, id, r.physical, r.typ, "DELETE_IN_PROGRESS", "", token)
			s.mu.Unlock()
			clock.next()
			s.mu.Lock()
			delete(st.resources, id)
			s.event(st, id, r.physical, r.typ, "DELETE_COMPLETE", "", token)
			s.mu.Unlock()
		}
		s.mu.Lock()
		finish()
		s.mu.Unlock()
	}()
	return nil
}

// clock paces an operation's resources: next waits until the current
// resource's end, ResourceDelay after the previous end (or the start).
type clock struct {
	delay time.Duration
	at    time.Time
}

func resourceClock(delay time.Duration) *clock { return &clock{delay: delay, at: time.Now()} }

func (c *clock) next() {
	c.at = c.at.Add(c.delay)
	if d := time.Until(c.at); d > 0 {
		time.Sleep(d)
	}
}

// reset starts the clock again now (after a wait of another kind).
func (c *clock) reset() { c.at = time.Now() }
