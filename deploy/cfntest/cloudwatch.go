package cfntest

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// The CloudWatch part: metric alarms and DescribeAlarms, enough for
// CloudFormation's rollback triggers and the deployer's alarm checks.
//
// The SDK's cloudwatch client (v1.76) speaks Smithy RPC v2 CBOR: POST
// /service/GraniteServiceVersion20100801/operation/<Operation> with the
// header Smithy-Protocol: rpc-v2-cbor and a CBOR map as the body; the
// answer is a CBOR map (Content-Type application/cbor), an error a CBOR
// map {__type, message} with the awsQuery-compatible X-Amzn-Query-Error
// header "Code;Sender". Timestamps are CBOR tag 1 (epoch seconds).

const cwPathPrefix = "/service/GraniteServiceVersion20100801/operation/"

// The alarm states CloudWatch knows.
const (
	AlarmOK               = "OK"
	AlarmAlarm            = "ALARM"
	AlarmInsufficientData = "INSUFFICIENT_DATA"
)

type alarm struct {
	name, arn, state, reason string
	updated                  time.Time
}

// PutAlarm creates a metric alarm in state OK, or leaves an existing one
// as it is; it returns the alarm's ARN.
func (s *Server) PutAlarm(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.alarms[name]; a != nil {
		return a.arn
	}
	a := &alarm{name: name, arn: s.AlarmARN(name), state: AlarmOK, reason: "Threshold Crossed: no datapoints were breaching", updated: time.Now()}
	s.alarms[name] = a
	return a.arn
}

// AlarmARN is the ARN an alarm of that name has (or would have).
func (s *Server) AlarmARN(name string) string {
	return fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", s.opts.Region, s.opts.Account, name)
}

// SetAlarmState changes an existing alarm's state (OK, ALARM,
// INSUFFICIENT_DATA), as CloudWatch's SetAlarmState does. A running stack
// operation whose rollback triggers name the alarm rolls back when it
// sees ALARM.
func (s *Server) SetAlarmState(name, state, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.alarms[name]
	if a == nil {
		return fmt.Errorf("cfntest: no alarm %s", name)
	}
	switch state {
	case AlarmOK, AlarmAlarm, AlarmInsufficientData:
	default:
		return fmt.Errorf("cfntest: %q is not an alarm state", state)
	}
	a.state, a.reason, a.updated = state, reason, time.Now()
	return nil
}

// alarmByARN finds an alarm by ARN; the caller holds s.mu.
func (s *Server) alarmByARN(arn string) *alarm {
	for _, a := range s.alarms {
		if a.arn == arn {
			return a
		}
	}
	return nil
}

func (s *Server) serveCloudWatch(w http.ResponseWriter, r *http.Request, key string) {
	op := strings.TrimPrefix(r.URL.Path, cwPathPrefix)
	s.mu.Lock()
	s.calls = append(s.calls, Call{Action: op, AccessKey: key, At: time.Now()})
	s.mu.Unlock()
	if r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" {
		cwError(w, &apiError{status: 400, code: "InvalidParameterValue", msg: "the Smithy-Protocol header must be rpc-v2-cbor", sender: true})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		cwError(w, &apiError{status: 400, code: "InvalidParameterValue", msg: err.Error(), sender: true})
		return
	}
	in := cbor.Map{}
	if len(body) > 0 {
		v, err := cbor.Decode(body)
		m, ok := v.(cbor.Map)
		if err != nil || !ok {
			cwError(w, &apiError{status: 400, code: "SerializationException", msg: "the body is not a CBOR map", sender: true})
			return
		}
		in = m
	}
	var out cbor.Map
	switch op {
	case "DescribeAlarms":
		out, err = s.describeAlarms(in)
	default:
		err = &apiError{status: 400, code: "UnknownOperationException", msg: "cfntest does not implement CloudWatch " + op, sender: true}
	}
	if err != nil {
		ae, ok := err.(*apiError)
		if !ok {
			ae = &apiError{status: 500, code: "InternalServiceFault", msg: err.Error()}
		}
		cwError(w, ae)
		return
	}
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("X-Amzn-RequestId", requestID())
	w.WriteHeader(http.StatusOK)
	w.Write(cbor.Encode(out))
}

func cwError(w http.ResponseWriter, e *apiError) {
	fault := "Receiver"
	if e.sender {
		fault = "Sender"
	}
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("X-Amzn-Query-Error", e.code+";"+fault)
	w.WriteHeader(e.status)
	w.Write(cbor.Encode(cbor.Map{"__type": cbor.String("com.amazonaws.cloudwatch#" + e.code), "message": cbor.String(e.msg)}))
}

const alarmsPage = 50

// describeAlarms answers DescribeAlarms: metric alarms filtered by
// AlarmNames or AlarmNamePrefix (not both) and StateValue, sorted by name,
// paged by NextToken.
func (s *Server) describeAlarms(in cbor.Map) (cbor.Map, error) {
	var names []string
	if l, ok := in["AlarmNames"].(cbor.List); ok {
		for _, v := range l {
			if n, ok := v.(cbor.String); ok {
				names = append(names, string(n))
			}
		}
	}
	prefix, _ := in["AlarmNamePrefix"].(cbor.String)
	state, _ := in["StateValue"].(cbor.String)
	next, _ := in["NextToken"].(cbor.String)
	if len(names) > 0 && prefix != "" {
		return nil, &apiError{status: 400, code: "InvalidParameterCombination", msg: "AlarmNamePrefix and AlarmNames cannot be used together", sender: true}
	}
	if len(names) > 100 {
		return nil, &apiError{status: 400, code: "InvalidParameterValue", msg: "AlarmNames: at most 100 names", sender: true}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var match []*alarm
	for _, a := range s.alarms {
		switch {
		case len(names) > 0 && !slices.Contains(names, a.name):
		case prefix != "" && !strings.HasPrefix(a.name, string(prefix)):
		case state != "" && a.state != string(state):
		default:
			match = append(match, a)
		}
	}
	slices.SortFunc(match, func(a, b *alarm) int { return strings.Compare(a.name, b.name) })
	start := 0
	if next != "" {
		i := slices.IndexFunc(match, func(a *alarm) bool { return a.name > string(next) })
		if i < 0 {
			i = len(match)
		}
		start = i
	}
	list := cbor.List{}
	end := min(start+alarmsPage, len(match))
	for _, a := range match[start:end] {
		list = append(list, cbor.Map{
			"AlarmName":             cbor.String(a.name),
			"AlarmArn":              cbor.String(a.arn),
			"StateValue":            cbor.String(a.state),
			"StateReason":           cbor.String(a.reason),
			"StateUpdatedTimestamp": &cbor.Tag{ID: 1, Value: cbor.Float64(float64(a.updated.UnixMilli()) / 1000)},
			"ActionsEnabled":        cbor.Bool(true),
		})
	}
	out := cbor.Map{"MetricAlarms": list, "CompositeAlarms": cbor.List{}}
	if end < len(match) {
		out["NextToken"] = cbor.String(match[end-1].name)
	}
	return out, nil
}
