// Package cfntest is a local AWS CloudFormation and STS for tests and the
// demo. It speaks the wire protocol the AWS SDK speaks (the query API:
// form-encoded POSTs with Action and Version, XML responses and XML
// errors), so the real SDK client runs against it unchanged: point it at
// Server.URL with config.WithBaseEndpoint, static credentials and a region.
//
// It keeps stacks, change sets, exports and imports (an export in use
// cannot change or be deleted), events with the ClientRequestToken of the
// operation, and outputs. Operations take simulated time (Options) and run
// in the background as CloudFormation's do; failures are injected per
// resource (FailResource) and rollbacks can be made to fail
// (StuckRollback). Change sets take rollback triggers: metric alarms of the
// local CloudWatch (cloudwatch.go: PutAlarm, SetAlarmState,
// DescribeAlarms) watched during the operation and its monitoring period.
// Drift detection (drift.go) reports resources a test marked as drifted.
// Only what Code-Releaser calls is implemented; anything else answers
// InvalidAction.
package cfntest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options tune the simulation.
type Options struct {
	Account string // the account of static credentials; default 123456789012
	Region  string // default us-east-1
	// ResourceDelay is how long each resource takes to create, update or
	// delete; ChangeSetDelay how long a change set takes to be created.
	ResourceDelay  time.Duration
	ChangeSetDelay time.Duration
	// ExecuteLag keeps a stack's previous status visible for this long
	// after ExecuteChangeSet, as CloudFormation sometimes does.
	ExecuteLag time.Duration
	// MonitoringMinute is how long one minute of a change set's
	// RollbackConfiguration.MonitoringTimeInMinutes lasts here (0: the
	// monitoring period is skipped; the triggers are still watched during
	// the operation).
	MonitoringMinute time.Duration
	// DriftDelay is how long a drift detection takes.
	DriftDelay time.Duration
}

// Server is the simulator. Its zero value is not usable: call New.
type Server struct {
	URL string

	opts Options
	hs   *httptest.Server

	mu         sync.Mutex
	stacks     map[string]*stack // live stacks by name
	byID       map[string]*stack // every stack ever, by id
	changeSets map[string]*changeSet
	exports    map[string]*exportEntry
	keys       map[string]identity // access key id -> identity
	calls      []Call
	failures   map[string]string // stack/logical/op -> reason
	stuck      map[string]bool   // stack -> its next rollback fails
	ops        []Operation
	buckets    map[string]map[string][]byte // S3: bucket -> key -> content
	alarms     map[string]*alarm            // CloudWatch: by name
	drifts     map[string]map[string]*drift // stack -> logical id -> its drift
	detections map[string]*detection        // drift detections by id
	wg         sync.WaitGroup
	eventSeq   int
	closed     bool
}

type identity struct{ account, arn string }

// Call is one API call the server received.
type Call struct {
	Action    string
	StackName string
	AccessKey string // of the credentials that signed it
	Bucket    string // S3 calls
	ObjectKey string
	// RollbackTriggers are the alarm ARNs of a CreateChangeSet's
	// RollbackConfiguration.
	RollbackTriggers []string
	At               time.Time
}

// Mutating reports whether the call changes anything.
func (c Call) Mutating() bool {
	switch c.Action {
	case "PutObject", "CreateChangeSet", "ExecuteChangeSet", "DeleteChangeSet", "DeleteStack", "CreateStack", "UpdateStack", "ContinueUpdateRollback", "CancelUpdateStack":
		return true
	}
	return false
}

// Operation is one stack operation the server ran (for timing checks).
type Operation struct {
	Stack       string
	Kind        string // CREATE, UPDATE, DELETE
	Start, End  time.Time
	FinalStatus string
}

// New starts a server; it is closed with the test (or by Close).
func New(opts Options) *Server {
	if opts.Account == "" {
		opts.Account = "123456789012"
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	s := &Server{
		opts: opts, stacks: map[string]*stack{}, byID: map[string]*stack{}, changeSets: map[string]*changeSet{},
		exports: map[string]*exportEntry{}, keys: map[string]identity{}, failures: map[string]string{}, stuck: map[string]bool{},
		buckets: map[string]map[string][]byte{}, alarms: map[string]*alarm{},
		drifts: map[string]map[string]*drift{}, detections: map[string]*detection{},
	}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.hs.URL
	return s
}

// Close stops the server after the operations in flight finish.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
	s.hs.Close()
}

// Account is the account of static credentials.
func (s *Server) Account() string { return s.opts.Account }

// Calls returns the API calls received so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Operations returns the stack operations run so far, finished or not.
func (s *Server) Operations() []Operation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Operation(nil), s.ops...)
}

// Wait blocks until no operation is running.
func (s *Server) Wait() { s.wg.Wait() }

// FailResource makes the next create ("create") or update ("update") of a
// resource of a stack fail with reason, which starts a rollback.
func (s *Server) FailResource(stackName, logicalID, op, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[stackName+"/"+logicalID+"/"+strings.ToLower(op)] = reason
}

// StuckRollback makes the next rollback of a stack fail, leaving it in
// UPDATE_ROLLBACK_FAILED (or ROLLBACK_FAILED for a create).
func (s *Server) StuckRollback(stackName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stuck[stackName] = true
}

// SetStackStatus forces the status of a live stack (for refusal tests).
func (s *Server) SetStackStatus(stackName, status string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stacks[stackName]
	if st == nil {
		return fmt.Errorf("cfntest: no stack %s", stackName)
	}
	st.status = status
	return nil
}

// StackStatus returns a live stack's status, "" when none.
func (s *Server) StackStatus(stackName string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.stacks[stackName]; st != nil {
		return st.visibleStatus(time.Now())
	}
	return ""
}

// Stacks returns the live stacks' statuses by name (REVIEW_IN_PROGRESS
// stacks included).
func (s *Server) Stacks() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for n, st := range s.stacks {
		out[n] = st.visibleStatus(time.Now())
	}
	return out
}

// ChangeSets returns the change sets the server holds, as
// "stack/name STATUS EXECUTION_STATUS", sorted.
func (s *Server) ChangeSets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, cs := range s.changeSets {
		out = append(out, cs.st.name+"/"+cs.name+" "+cs.status+" "+cs.execStatus)
	}
	slices.Sort(out)
	return out
}

// ChangeSetTriggers lists, for each CreateChangeSet call on a stack in
// order, its rollback triggers' ARNs joined by commas.
func (s *Server) ChangeSetTriggers(stackName string) []string {
	var out []string
	for _, c := range s.Calls() {
		if c.Action == "CreateChangeSet" && c.StackName == stackName {
			out = append(out, strings.Join(c.RollbackTriggers, ","))
		}
	}
	return out
}

// ResourceStatus returns the status of a live stack's resource as its
// newest event gives it, "" when it has none.
func (s *Server) ResourceStatus(stackName, logicalID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.stacks[stackName]; st != nil {
		for i := len(st.events) - 1; i >= 0; i-- {
			if st.events[i].LogicalResourceId == logicalID {
				return st.events[i].ResourceStatus
			}
		}
	}
	return ""
}

// StackTags returns a live stack's tags.
func (s *Server) StackTags(stackName string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	if st := s.stacks[stackName]; st != nil {
		for _, t := range st.tags {
			out[t.Key] = t.Value
		}
	}
	return out
}

// Exports returns the exports by name with their values.
func (s *Server) Exports() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for n, e := range s.exports {
		out[n] = e.value
	}
	return out
}

// apiError is an error response.
type apiError struct {
	status int
	code   string
	msg    string
	sender bool
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func validation(format string, args ...any) *apiError {
	return &apiError{status: 400, code: "ValidationError", msg: fmt.Sprintf(format, args...), sender: true}
}

const (
	cfnVersion = "2010-05-15"
	cfnNS      = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
	stsVersion = "2011-06-15"
	stsNS      = "https://sts.amazonaws.com/doc/2011-06-15/"
)

var credentialRE = regexp.MustCompile(`Credential=([^/,\s]+)/`)

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	key := ""
	if m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		key = m[1]
	}
	if r.Method != http.MethodPost {
		s.serveS3(w, r, key)
		return
	}
	if strings.HasPrefix(r.URL.Path, cwPathPrefix) {
		s.serveCloudWatch(w, r, key)
		return
	}
	if err := r.ParseForm(); err != nil {
		s.writeError(w, cfnNS, &apiError{status: 400, code: "MalformedQueryString", msg: err.Error(), sender: true})
		return
	}
	action, version := r.PostForm.Get("Action"), r.PostForm.Get("Version")
	s.mu.Lock()
	c := Call{Action: action, StackName: r.PostForm.Get("StackName"), AccessKey: key, At: time.Now()}
	for _, m := range members(r.PostForm, "RollbackConfiguration.RollbackTriggers") {
		c.RollbackTriggers = append(c.RollbackTriggers, m["Arn"])
	}
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	var (
		result any
		err    error
		ns     string
	)
	switch version {
	case cfnVersion:
		ns = cfnNS
		result, err = s.cloudFormation(action, r.PostForm)
	case stsVersion:
		ns = stsNS
		result, err = s.sts(action, r.PostForm, key)
	default:
		ns = cfnNS
		err = &apiError{status: 400, code: "InvalidAction", msg: fmt.Sprintf("unknown Version %q", version), sender: true}
	}
	if err != nil {
		ae, ok := err.(*apiError)
		if !ok {
			ae = &apiError{status: 500, code: "InternalFailure", msg: err.Error()}
		}
		s.writeError(w, ns, ae)
		return
	}
	s.writeResult(w, ns, action, result)
}

func requestID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// writeResult writes <ActionResponse xmlns><ActionResult>…</ActionResult>
// <ResponseMetadata><RequestId/></ResponseMetadata></ActionResponse>.
func (s *Server) writeResult(w http.ResponseWriter, ns, action string, result any) {
	var b strings.Builder
	b.WriteString(xml.Header)
	fmt.Fprintf(&b, `<%sResponse xmlns="%s">`, action, ns)
	enc := xml.NewEncoder(&b)
	if result == nil {
		result = struct{}{}
	}
	if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
		s.writeError(w, ns, &apiError{status: 500, code: "InternalFailure", msg: err.Error()})
		return
	}
	enc.Flush()
	fmt.Fprintf(&b, `<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>`, requestID(), action)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", requestID())
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(b.String()))
}

func (s *Server) writeError(w http.ResponseWriter, ns string, e *apiError) {
	typ := "Receiver"
	if e.sender {
		typ = "Sender"
	}
	var msg strings.Builder
	xml.EscapeText(&msg, []byte(e.msg))
	body := fmt.Sprintf(`%s<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
		xml.Header, ns, typ, e.code, msg.String(), requestID())
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.status)
	w.Write([]byte(body))
}

// members reads a query-API list: prefix.member.N[.field] = value.
func members(form map[string][]string, prefix string) []map[string]string {
	var out []map[string]string
	for i := 1; ; i++ {
		p := prefix + ".member." + strconv.Itoa(i)
		m := map[string]string{}
		for k, v := range form {
			if k == p {
				m[""] = v[0]
			} else if f, ok := strings.CutPrefix(k, p+"."); ok {
				m[f] = v[0]
			}
		}
		if len(m) == 0 {
			return out
		}
		out = append(out, m)
	}
}

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
