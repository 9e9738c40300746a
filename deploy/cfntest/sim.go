package cfntest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

type stack struct {
	id, name         string
	status, reason   string
	lagStatus        string
	lagUntil         time.Time
	created, updated time.Time
	description      string
	template         string
	parsed           *parsedTemplate
	params           map[string]string // as deployed, defaults included
	given            []string          // parameter keys passed, in order
	tags             []tagXML
	caps             []string
	outputs          []outputXML
	resources        map[string]*resource
	imports          []string
	events           []eventXML // oldest first
	lastChangeSetID  string
	disableRollback  bool
	lastDetection    string // id of the latest drift detection
}

type resource struct {
	typ, physical, props string
}

type changeSet struct {
	id, name       string
	st             *stack
	typ            string
	status, reason string
	execStatus     string
	readyAt        time.Time
	created        time.Time
	description    string
	template       string
	parsed         *parsedTemplate
	params         map[string]string
	given          []string
	tags           []tagXML
	caps           []string
	onFailure      string
	changes        []changeXML
	imports        []string
	triggers       []string // rollback triggers: alarm ARNs
	monitoring     int      // MonitoringTimeInMinutes
}

type exportEntry struct {
	stackID, stackName, value string
}

// XML shapes, as the query API returns them.
type paramXML struct {
	ParameterKey   string
	ParameterValue string
}

type tagXML struct {
	Key   string
	Value string
}

type outputXML struct {
	OutputKey   string
	OutputValue string
	Description string `xml:",omitempty"`
	ExportName  string `xml:",omitempty"`
}

type stackXML struct {
	StackId                     string
	StackName                   string
	ChangeSetId                 string     `xml:",omitempty"`
	Description                 string     `xml:",omitempty"`
	Parameters                  []paramXML `xml:"Parameters>member"`
	CreationTime                string
	LastUpdatedTime             string `xml:",omitempty"`
	StackStatus                 string
	StackStatusReason           string `xml:",omitempty"`
	DisableRollback             bool
	Capabilities                []string    `xml:"Capabilities>member"`
	Outputs                     []outputXML `xml:"Outputs>member"`
	Tags                        []tagXML    `xml:"Tags>member"`
	EnableTerminationProtection bool
}

type eventXML struct {
	StackId              string
	EventId              string
	StackName            string
	LogicalResourceId    string
	PhysicalResourceId   string `xml:",omitempty"`
	ResourceType         string
	Timestamp            string
	ResourceStatus       string
	ResourceStatusReason string `xml:",omitempty"`
	ClientRequestToken   string `xml:",omitempty"`
}

type resourceChangeXML struct {
	Action             string
	LogicalResourceId  string
	PhysicalResourceId string `xml:",omitempty"`
	ResourceType       string
	Replacement        string      `xml:",omitempty"`
	Scope              []string    `xml:"Scope>member"`
	Details            []detailXML `xml:"Details>member"`
}

// detailXML is a ResourceChangeDetail: which property changes and whether
// that recreates the resource.
type detailXML struct {
	Target struct {
		Attribute          string
		Name               string `xml:",omitempty"`
		RequiresRecreation string
	}
	Evaluation   string
	ChangeSource string
}

type changeXML struct {
	Type           string
	ResourceChange resourceChangeXML
}

type describeChangeSetXML struct {
	ChangeSetName   string
	ChangeSetId     string
	StackId         string
	StackName       string
	Description     string     `xml:",omitempty"`
	Parameters      []paramXML `xml:"Parameters>member"`
	CreationTime    string
	ExecutionStatus string
	Status          string
	StatusReason    string      `xml:",omitempty"`
	Capabilities    []string    `xml:"Capabilities>member"`
	Tags            []tagXML    `xml:"Tags>member"`
	Changes         []changeXML `xml:"Changes>member"`
	OnStackFailure  string      `xml:",omitempty"`
}

type exportXML struct {
	ExportingStackId string
	Name             string
	Value            string
}

// visibleStatus is the status a describe shows at now.
func (st *stack) visibleStatus(now time.Time) string {
	if now.Before(st.lagUntil) {
		return st.lagStatus
	}
	return st.status
}

func (s *Server) arn(kind, name string) string {
	return fmt.Sprintf("arn:aws:cloudformation:%s:%s:%s/%s/%s", s.opts.Region, s.opts.Account, kind, name, requestID())
}

// findStack finds a live stack by name or any stack by id.
func (s *Server) findStack(nameOrID string) *stack {
	if st := s.stacks[nameOrID]; st != nil {
		return st
	}
	return s.byID[nameOrID]
}

func noStack(name string) *apiError { return validation("Stack with id %s does not exist", name) }

func (s *Server) cloudFormation(action string, form url.Values) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, &apiError{status: 503, code: "ServiceUnavailable", msg: "cfntest is shutting down"}
	}
	switch action {
	case "DescribeStacks":
		return s.describeStacks(form.Get("StackName"))
	case "DescribeStackEvents":
		return s.describeStackEvents(form.Get("StackName"), form.Get("NextToken"))
	case "CreateChangeSet":
		return s.createChangeSet(form)
	case "DescribeChangeSet":
		cs, err := s.findChangeSet(form.Get("ChangeSetName"), form.Get("StackName"))
		if err != nil {
			return nil, err
		}
		return s.describeChangeSet(cs), nil
	case "ExecuteChangeSet":
		return s.executeChangeSet(form)
	case "DeleteChangeSet":
		cs, err := s.findChangeSet(form.Get("ChangeSetName"), form.Get("StackName"))
		if err != nil {
			return nil, err
		}
		if cs.execStatus == "EXECUTE_IN_PROGRESS" {
			return nil, &apiError{status: 400, code: "InvalidChangeSetStatus", msg: fmt.Sprintf("ChangeSet [%s] cannot be deleted in its current status of [EXECUTE_IN_PROGRESS]", cs.id), sender: true}
		}
		delete(s.changeSets, cs.id)
		return nil, nil
	case "ListExports":
		return s.listExports(form.Get("NextToken"))
	case "DetectStackDrift":
		return s.detectStackDrift(form)
	case "DescribeStackDriftDetectionStatus":
		return s.describeDriftDetection(form)
	case "DescribeStackResourceDrifts":
		return s.describeResourceDrifts(form)
	case "DeleteStack":
		return nil, s.deleteStack(form.Get("StackName"), form.Get("ClientRequestToken"))
	case "ContinueUpdateRollback":
		st := s.findStack(form.Get("StackName"))
		if st == nil {
			return nil, noStack(form.Get("StackName"))
		}
		if st.status != "UPDATE_ROLLBACK_FAILED" {
			return nil, validation("Stack %s is in %s state and can not continue update rollback", st.id, st.status)
		}
		s.event(st, st.name, st.id, "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_COMPLETE", "", form.Get("ClientRequestToken"))
		return nil, nil
	}
	return nil, &apiError{status: 400, code: "InvalidAction", msg: "cfntest does not implement CloudFormation " + action, sender: true}
}

func (s *Server) stackXML(st *stack) stackXML {
	x := stackXML{
		StackId: st.id, StackName: st.name, ChangeSetId: st.lastChangeSetID, Description: st.description,
		CreationTime: timestamp(st.created), StackStatus: st.visibleStatus(time.Now()), StackStatusReason: st.reason,
		DisableRollback: st.disableRollback, Capabilities: st.caps, Outputs: st.outputs, Tags: st.tags,
	}
	if !st.updated.IsZero() {
		x.LastUpdatedTime = timestamp(st.updated)
	}
	for _, k := range st.given {
		x.Parameters = append(x.Parameters, paramXML{k, st.params[k]})
	}
	if x.StackStatus != st.status {
		x.StackStatusReason = ""
	}
	return x
}

func (s *Server) describeStacks(name string) (any, error) {
	type result struct {
		Stacks []stackXML `xml:"Stacks>member"`
	}
	var r result
	if name == "" {
		names := slices.Sorted(maps.Keys(s.stacks))
		for _, n := range names {
			r.Stacks = append(r.Stacks, s.stackXML(s.stacks[n]))
		}
		return r, nil
	}
	st := s.findStack(name)
	if st == nil {
		return nil, noStack(name)
	}
	r.Stacks = []stackXML{s.stackXML(st)}
	return r, nil
}

const eventsPage = 50

func (s *Server) describeStackEvents(name, next string) (any, error) {
	st := s.findStack(name)
	if st == nil {
		return nil, noStack(name)
	}
	type result struct {
		StackEvents []eventXML `xml:"StackEvents>member"`
		NextToken   string     `xml:",omitempty"`
	}
	start, _ := strconv.Atoi(next)
	var r result
	for i := len(st.events) - 1 - start; i >= 0 && len(r.StackEvents) < eventsPage; i-- {
		r.StackEvents = append(r.StackEvents, st.events[i])
	}
	if start+eventsPage < len(st.events) {
		r.NextToken = strconv.Itoa(start + eventsPage)
	}
	return r, nil
}

func (s *Server) listExports(next string) (any, error) {
	type result struct {
		Exports   []exportXML `xml:"Exports>member"`
		NextToken string      `xml:",omitempty"`
	}
	names := slices.Sorted(maps.Keys(s.exports))
	start, _ := strconv.Atoi(next)
	var r result
	for i := start; i < len(names) && len(r.Exports) < 100; i++ {
		e := s.exports[names[i]]
		r.Exports = append(r.Exports, exportXML{e.stackID, names[i], e.value})
	}
	if start+100 < len(names) {
		r.NextToken = strconv.Itoa(start + 100)
	}
	return r, nil
}

func (s *Server) findChangeSet(nameOrID, stackName string) (*changeSet, error) {
	if cs := s.changeSets[nameOrID]; cs != nil {
		return cs, nil
	}
	for _, cs := range s.changeSets {
		if cs.name == nameOrID && (cs.st.name == stackName || cs.st.id == stackName) {
			return cs, nil
		}
	}
	return nil, &apiError{status: 404, code: "ChangeSetNotFound", msg: fmt.Sprintf("ChangeSet [%s] does not exist", nameOrID), sender: true}
}

func (s *Server) describeChangeSet(cs *changeSet) describeChangeSetXML {
	x := describeChangeSetXML{
		ChangeSetName: cs.name, ChangeSetId: cs.id, StackId: cs.st.id, StackName: cs.st.name, Description: cs.description,
		CreationTime: timestamp(cs.created), ExecutionStatus: cs.execStatus, Status: cs.status, StatusReason: cs.reason,
		Capabilities: cs.caps, Tags: cs.tags, OnStackFailure: cs.onFailure,
	}
	for _, k := range cs.given {
		x.Parameters = append(x.Parameters, paramXML{k, cs.params[k]})
	}
	if time.Now().Before(cs.readyAt) {
		x.Status, x.StatusReason, x.ExecutionStatus = "CREATE_IN_PROGRESS", "", "UNAVAILABLE"
	} else {
		x.Changes = cs.changes
	}
	return x
}

var inProgress = func(status string) bool { return strings.HasSuffix(status, "_IN_PROGRESS") }

func (s *Server) createChangeSet(form url.Values) (any, error) {
	name, csName, typ := form.Get("StackName"), form.Get("ChangeSetName"), form.Get("ChangeSetType")
	if typ == "" {
		typ = "UPDATE"
	}
	if name == "" || csName == "" {
		return nil, validation("StackName and ChangeSetName are required")
	}
	st := s.stacks[name]
	switch {
	case typ == "CREATE" && st != nil && st.status != "REVIEW_IN_PROGRESS":
		return nil, &apiError{status: 400, code: "AlreadyExistsException", msg: fmt.Sprintf("Stack [%s] already exists and cannot be created again with the changeSet [%s].", name, csName), sender: true}
	case typ == "UPDATE" && st == nil:
		return nil, validation("Stack [%s] does not exist", name)
	case typ == "UPDATE" && st.status == "REVIEW_IN_PROGRESS":
		return nil, validation("Stack [%s] does not exist", name)
	case typ == "UPDATE" && (inProgress(st.visibleStatus(time.Now())) || st.status == "ROLLBACK_COMPLETE" || st.status == "ROLLBACK_FAILED" ||
		st.status == "UPDATE_ROLLBACK_FAILED" || st.status == "CREATE_FAILED" || st.status == "DELETE_FAILED"):
		return nil, validation("Stack:%s is in %s state and can not be updated.", st.id, st.visibleStatus(time.Now()))
	}
	body := form.Get("TemplateBody")
	if u := form.Get("TemplateURL"); u != "" && body == "" {
		var err error
		if body, err = s.templateAt(u); err != nil {
			return nil, err
		}
	} else if body == "" {
		if form.Get("UsePreviousTemplate") == "true" && st != nil {
			body = st.template
		} else {
			return nil, validation("Either Template URL or Template Body must be specified.")
		}
	}
	if len(form.Get("TemplateBody")) > 51200 {
		return nil, validation("1 validation error detected: Value at 'templateBody' failed to satisfy constraint: Member must have length less than or equal to 51200")
	}
	parsed, err := parseTemplateBody(body)
	if err != nil {
		return nil, validation("%s", err.Error())
	}
	params := map[string]string{}
	var given, unknown, missing []string
	for _, m := range members(form, "Parameters") {
		k := m["ParameterKey"]
		if _, ok := parsed.params[k]; !ok {
			unknown = append(unknown, k)
			continue
		}
		v := m["ParameterValue"]
		if m["UsePreviousValue"] == "true" && st != nil {
			v = st.params[k]
		}
		params[k] = v
		given = append(given, k)
	}
	if len(unknown) > 0 {
		return nil, validation("Parameters: [%s] do not exist in the template", strings.Join(unknown, ", "))
	}
	for k, def := range parsed.params {
		if _, ok := params[k]; ok {
			continue
		}
		if def == nil {
			missing = append(missing, k)
		} else {
			params[k] = *def
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, validation("Parameters: [%s] must have values", strings.Join(missing, ", "))
	}
	var caps []string
	for _, m := range members(form, "Capabilities") {
		caps = append(caps, m[""])
	}
	for _, r := range parsed.resources {
		if strings.HasPrefix(r.typ, "AWS::IAM::") && !slices.Contains(caps, "CAPABILITY_IAM") && !slices.Contains(caps, "CAPABILITY_NAMED_IAM") {
			return nil, &apiError{status: 400, code: "InsufficientCapabilitiesException", msg: "Requires capabilities : [CAPABILITY_IAM]", sender: true}
		}
	}
	var tags []tagXML
	for _, m := range members(form, "Tags") {
		tags = append(tags, tagXML{m["Key"], m["Value"]})
	}
	triggers, monitoring, err := rollbackConfiguration(form)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if st == nil {
		st = &stack{id: s.arn("stack", name), name: name, status: "REVIEW_IN_PROGRESS", created: now, resources: map[string]*resource{}}
		s.stacks[name], s.byID[st.id] = st, st
		s.event(st, name, st.id, "AWS::CloudFormation::Stack", "REVIEW_IN_PROGRESS", "User Initiated", "")
	}
	cs := &changeSet{
		id: s.arn("changeSet", csName), name: csName, st: st, typ: typ, status: "CREATE_COMPLETE", execStatus: "AVAILABLE",
		created: now, readyAt: now.Add(s.opts.ChangeSetDelay), description: form.Get("Description"), template: body, parsed: parsed,
		params: params, given: given, tags: tags, caps: caps, onFailure: form.Get("OnStackFailure"),
		triggers: triggers, monitoring: monitoring,
	}
	if cs.onFailure == "" {
		cs.onFailure = "ROLLBACK"
	}
	ev := &evalEnv{params: params, physical: map[string]string{}, region: s.opts.Region, account: s.opts.Account, stackName: name, stackID: st.id, root: parsed.root,
		exports: func(n string) (string, bool) { e, ok := s.exports[n]; return e.valueOr(), ok }}
	for _, r := range parsed.resources {
		ev.physical[r.logicalID] = "pending"
	}
	imps, err := parsed.imports(ev)
	cs.imports = imps
	for _, imp := range imps {
		if err == nil && s.exports[imp] == nil {
			err = fmt.Errorf("No export named %s found.", imp)
		}
	}
	if err != nil {
		cs.status, cs.execStatus, cs.reason = "FAILED", "UNAVAILABLE", err.Error()
	} else {
		cs.changes = diffResources(st, parsed, params, tags)
		if typ == "UPDATE" && body == st.template && maps.Equal(params, st.params) && slices.Equal(tags, st.tags) {
			cs.status, cs.execStatus = "FAILED", "UNAVAILABLE"
			cs.reason = "The submitted information didn't contain changes. Submit different information to create a change set."
			cs.changes = nil
		}
	}
	s.changeSets[cs.id] = cs
	type result struct {
		Id      string
		StackId string
	}
	return result{cs.id, st.id}, nil
}

// rollbackConfiguration reads CreateChangeSet's RollbackConfiguration:
// at most 5 triggers of type AWS::CloudWatch::Alarm or
// AWS::CloudWatch::CompositeAlarm, and 0 to 180 minutes of monitoring.
func rollbackConfiguration(form url.Values) ([]string, int, error) {
	var arns []string
	for _, m := range members(form, "RollbackConfiguration.RollbackTriggers") {
		switch m["Type"] {
		case "AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm":
		default:
			return nil, 0, validation("Rollback trigger type %q is not supported: use AWS::CloudWatch::Alarm or AWS::CloudWatch::CompositeAlarm", m["Type"])
		}
		if !strings.HasPrefix(m["Arn"], "arn:aws:cloudwatch:") || !strings.Contains(m["Arn"], ":alarm:") {
			return nil, 0, validation("Rollback trigger ARN %q is not a CloudWatch alarm ARN", m["Arn"])
		}
		arns = append(arns, m["Arn"])
	}
	if len(arns) > 5 {
		return nil, 0, validation("1 validation error detected: Value at 'rollbackConfiguration.rollbackTriggers' failed to satisfy constraint: Member must have length less than or equal to 5")
	}
	minutes := 0
	if v := form.Get("RollbackConfiguration.MonitoringTimeInMinutes"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 180 {
			return nil, 0, validation("1 validation error detected: Value '%s' at 'rollbackConfiguration.monitoringTimeInMinutes' failed to satisfy constraint: Member must have value between 0 and 180", v)
		}
		minutes = n
	}
	return arns, minutes, nil
}

func (e *exportEntry) valueOr() string {
	if e == nil {
		return ""
	}
	return e.value
}

// diffResources lists the changes from st's resources to the template's.
func diffResources(st *stack, t *parsedTemplate, params map[string]string, tags []tagXML) []changeXML {
	var out []changeXML
	paramsChanged := !maps.Equal(params, st.params) || !slices.Equal(tags, st.tags)
	for _, r := range t.resources {
		old := st.resources[r.logicalID]
		switch {
		case old == nil:
			out = append(out, changeXML{"Resource", resourceChangeXML{Action: "Add", LogicalResourceId: r.logicalID, ResourceType: r.typ}})
		case old.typ != r.typ:
			out = append(out, changeXML{"Resource", resourceChangeXML{Action: "Modify", LogicalResourceId: r.logicalID, PhysicalResourceId: old.physical, ResourceType: r.typ, Replacement: "True", Scope: []string{"Properties"}}})
		case old.props != r.props:
			rc := resourceChangeXML{Action: "Modify", LogicalResourceId: r.logicalID, PhysicalResourceId: old.physical, ResourceType: r.typ, Replacement: "False", Scope: []string{"Properties"}}
			for _, name := range changedProperties(old.props, r.props) {
				d := detailXML{Evaluation: "Static", ChangeSource: "DirectModification"}
				d.Target.Attribute, d.Target.Name, d.Target.RequiresRecreation = "Properties", name, "Never"
				if slices.Contains(replacementProperties[r.typ], name) {
					d.Target.RequiresRecreation, rc.Replacement = "Always", "True"
				}
				rc.Details = append(rc.Details, d)
			}
			out = append(out, changeXML{"Resource", rc})
		case paramsChanged:
			// Which properties depend on the parameters is not worked out:
			// CloudFormation's answer for a value it cannot know is Dynamic.
			out = append(out, changeXML{"Resource", resourceChangeXML{Action: "Modify", LogicalResourceId: r.logicalID, PhysicalResourceId: old.physical, ResourceType: r.typ, Replacement: "Conditional", Scope: []string{"Properties"}}})
		}
	}
	kept := map[string]bool{}
	for _, r := range t.resources {
		kept[r.logicalID] = true
	}
	for _, id := range slices.Sorted(maps.Keys(st.resources)) {
		if !kept[id] {
			out = append(out, changeXML{"Resource", resourceChangeXML{Action: "Remove", LogicalResourceId: id, PhysicalResourceId: st.resources[id].physical, ResourceType: st.resources[id].typ}})
		}
	}
	return out
}

// replacementProperties are, by resource type, properties whose update
// requires replacement ("Update requires: Replacement" in the CloudFormation
// resource reference). Changing another property is an update in place.
var replacementProperties = map[string][]string{
	"AWS::SNS::Topic":             {"TopicName", "FifoTopic"},
	"AWS::SQS::Queue":             {"QueueName", "FifoQueue"},
	"AWS::S3::Bucket":             {"BucketName"},
	"AWS::DynamoDB::Table":        {"TableName", "KeySchema"},
	"AWS::Lambda::Function":       {"FunctionName"},
	"AWS::IAM::Role":              {"RoleName", "Path"},
	"AWS::EC2::VPC":               {"CidrBlock"},
	"AWS::EC2::Subnet":            {"CidrBlock", "VpcId", "AvailabilityZone"},
	"AWS::EC2::SecurityGroup":     {"GroupName", "GroupDescription", "VpcId"},
	"AWS::Logs::LogGroup":         {"LogGroupName"},
	"AWS::ECR::Repository":        {"RepositoryName"},
	"AWS::RDS::DBInstance":        {"DBInstanceIdentifier"},
	"AWS::KMS::Alias":             {"AliasName"},
	"AWS::CloudWatch::Alarm":      {"AlarmName"},
	"AWS::SSM::Parameter":         {"Name"},
	"AWS::SecretsManager::Secret": {"Name"},
}

// changedProperties lists, sorted, the top-level properties that differ
// between two canonical JSON property objects.
func changedProperties(before, after string) []string {
	var a, b map[string]json.RawMessage
	json.Unmarshal([]byte(before), &a)
	json.Unmarshal([]byte(after), &b)
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok || string(v) != string(w) {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// event appends an event and applies a stack-level status.
func (s *Server) event(st *stack, logical, physical, typ, status, reason, token string) {
	s.eventSeq++
	now := time.Now()
	e := eventXML{
		StackId: st.id, EventId: fmt.Sprintf("%s-%s-%d", logical, status, s.eventSeq), StackName: st.name,
		LogicalResourceId: logical, PhysicalResourceId: physical, ResourceType: typ, Timestamp: timestamp(now),
		ResourceStatus: status, ResourceStatusReason: reason, ClientRequestToken: token,
	}
	st.events = append(st.events, e)
	if typ == "AWS::CloudFormation::Stack" && logical == st.name {
		st.status, st.reason = status, reason
	}
}

func (s *Server) executeChangeSet(form url.Values) (any, error) {
	cs, err := s.findChangeSet(form.Get("ChangeSetName"), form.Get("StackName"))
	if err != nil {
		return nil, err
	}
	if time.Now().Before(cs.readyAt) || cs.status != "CREATE_COMPLETE" || cs.execStatus != "AVAILABLE" {
		status := cs.status
		if time.Now().Before(cs.readyAt) {
			status = "CREATE_IN_PROGRESS"
		}
		return nil, &apiError{status: 400, code: "InvalidChangeSetStatus", msg: fmt.Sprintf("ChangeSet [%s] cannot be executed in its current status of [%s]", cs.id, status), sender: true}
	}
	st := cs.st
	if inProgress(st.status) && st.status != "REVIEW_IN_PROGRESS" {
		return nil, validation("Stack:%s is in %s state and can not be updated.", st.id, st.status)
	}
	cs.execStatus = "EXECUTE_IN_PROGRESS"
	st.lastChangeSetID = cs.id
	st.lagStatus, st.lagUntil = st.status, time.Now().Add(s.opts.ExecuteLag)
	token := form.Get("ClientRequestToken")
	st.disableRollback = form.Get("DisableRollback") == "true"
	kind := "UPDATE"
	if cs.typ == "CREATE" {
		kind = "CREATE"
	}
	s.ops = append(s.ops, Operation{Stack: st.name, Kind: kind, Start: time.Now()})
	opIndex := len(s.ops) - 1
	s.wg.Add(1)
	go s.run(cs, token, opIndex)
	return nil, nil
}
