package cfntest

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"time"
)

// Drift detection: DetectStackDrift starts a detection that ends after
// Options.DriftDelay; DescribeStackDriftDetectionStatus reports it;
// DescribeStackResourceDrifts lists the resources of the stack's latest
// detection. A resource has drifted only when a test said so with
// DriftResource, as if someone had changed it outside CloudFormation.

type drift struct {
	status                 string // MODIFIED or DELETED
	path, expected, actual string
}

type detection struct {
	id      string
	st      *stack
	readyAt time.Time
	results []resourceDriftXML // sorted by logical id
	drifted int
}

type propertyDifferenceXML struct {
	PropertyPath   string
	ExpectedValue  string
	ActualValue    string
	DifferenceType string
}

type resourceDriftXML struct {
	StackId                  string
	LogicalResourceId        string
	PhysicalResourceId       string
	ResourceType             string
	StackResourceDriftStatus string
	PropertyDifferences      []propertyDifferenceXML `xml:"PropertyDifferences>member"`
	Timestamp                string
}

// DriftResource marks a resource of a live stack as changed outside
// CloudFormation: status MODIFIED (property path, the value the template
// expects, the actual one) or DELETED. A later deploy of the stack does
// not undo it, as CloudFormation's does not.
func (s *Server) DriftResource(stackName, logicalID, status, path, expected, actual string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stacks[stackName]
	if st == nil || st.resources[logicalID] == nil {
		return fmt.Errorf("cfntest: no resource %s in stack %s", logicalID, stackName)
	}
	if status != "MODIFIED" && status != "DELETED" {
		return fmt.Errorf("cfntest: drift status %q is not MODIFIED or DELETED", status)
	}
	if s.drifts[stackName] == nil {
		s.drifts[stackName] = map[string]*drift{}
	}
	s.drifts[stackName][logicalID] = &drift{status: status, path: path, expected: expected, actual: actual}
	return nil
}

func (s *Server) detectStackDrift(form url.Values) (any, error) {
	st := s.findStack(form.Get("StackName"))
	if st == nil || st.status == "REVIEW_IN_PROGRESS" {
		return nil, noStack(form.Get("StackName"))
	}
	if inProgress(st.visibleStatus(time.Now())) {
		return nil, validation("Drift detection is not supported for stack %s in status %s", st.name, st.status)
	}
	now := time.Now()
	d := &detection{id: requestID(), st: st, readyAt: now.Add(s.opts.DriftDelay)}
	for _, id := range slices.Sorted(maps.Keys(st.resources)) {
		r := st.resources[id]
		x := resourceDriftXML{StackId: st.id, LogicalResourceId: id, PhysicalResourceId: r.physical, ResourceType: r.typ,
			StackResourceDriftStatus: "IN_SYNC", Timestamp: timestamp(now)}
		if dr := s.drifts[st.name][id]; dr != nil {
			x.StackResourceDriftStatus = dr.status
			if dr.status == "MODIFIED" {
				x.PropertyDifferences = []propertyDifferenceXML{{PropertyPath: dr.path, ExpectedValue: dr.expected, ActualValue: dr.actual, DifferenceType: "NOT_EQUAL"}}
			}
			d.drifted++
		}
		d.results = append(d.results, x)
	}
	s.detections[d.id] = d
	st.lastDetection = d.id
	return struct{ StackDriftDetectionId string }{d.id}, nil
}

func (s *Server) describeDriftDetection(form url.Values) (any, error) {
	d := s.detections[form.Get("StackDriftDetectionId")]
	if d == nil {
		return nil, validation("No drift detection found with id %s", form.Get("StackDriftDetectionId"))
	}
	type result struct {
		StackId                   string
		StackDriftDetectionId     string
		StackDriftStatus          string `xml:",omitempty"`
		DetectionStatus           string
		DriftedStackResourceCount int
		Timestamp                 string
	}
	r := result{StackId: d.st.id, StackDriftDetectionId: d.id, DetectionStatus: "DETECTION_IN_PROGRESS", Timestamp: timestamp(d.readyAt)}
	if !time.Now().Before(d.readyAt) {
		r.DetectionStatus, r.StackDriftStatus, r.DriftedStackResourceCount = "DETECTION_COMPLETE", "IN_SYNC", d.drifted
		if d.drifted > 0 {
			r.StackDriftStatus = "DRIFTED"
		}
	}
	return r, nil
}

const driftsPage = 20

func (s *Server) describeResourceDrifts(form url.Values) (any, error) {
	st := s.findStack(form.Get("StackName"))
	if st == nil {
		return nil, noStack(form.Get("StackName"))
	}
	var want []string
	for _, m := range members(form, "StackResourceDriftStatusFilters") {
		want = append(want, m[""])
	}
	type result struct {
		StackResourceDrifts []resourceDriftXML `xml:"StackResourceDrifts>member"`
		NextToken           string             `xml:",omitempty"`
	}
	var r result
	d := s.detections[st.lastDetection]
	if d == nil || time.Now().Before(d.readyAt) {
		return r, nil
	}
	var match []resourceDriftXML
	for _, x := range d.results {
		if len(want) == 0 || slices.Contains(want, x.StackResourceDriftStatus) {
			match = append(match, x)
		}
	}
	start := 0
	fmt.Sscan(form.Get("NextToken"), &start)
	end := min(start+driftsPage, len(match))
	if start < end {
		r.StackResourceDrifts = match[start:end]
	}
	if end < len(match) {
		r.NextToken = fmt.Sprint(end)
	}
	return r, nil
}
