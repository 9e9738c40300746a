package cfntest

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
)

// lateWriteConn is a connection whose writes return only once the answer
// has started to arrive (or after 200ms), and a little later still, and
// whose further reads wait for that write to return: net/http's write
// loop goes on after the response was taken and while its body is being
// read, as it does now and then on a loaded machine.
type lateWriteConn struct {
	net.Conn
	writing atomic.Bool
	reads   atomic.Int64 // reads that returned data
}

func (c *lateWriteConn) Read(p []byte) (int, error) {
	if c.writing.Load() && c.reads.Load() > 0 {
		for c.writing.Load() {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
	}
	n, err := c.Conn.Read(p)
	if n > 0 && c.writing.Load() {
		c.reads.Add(1)
	}
	return n, err
}

func (c *lateWriteConn) Write(p []byte) (int, error) {
	c.reads.Store(0)
	c.writing.Store(true)
	defer c.writing.Store(false)
	n, err := c.Conn.Write(p)
	for end := time.Now().Add(200 * time.Millisecond); c.reads.Load() == 0 && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	return n, err
}

// TestConfigSurvivesLateWrites: the SDK closes a request's body once the
// response arrives; when net/http's write loop reads that body after it
// (its check for excess bytes), it used to close the connection under the
// response being read, and the call failed with "use of closed network
// connection" (seen in deploy's TestResumeWaitsForAnotherOperation). The
// answer must be longer than the transport's read buffer (4 KiB) for the
// body to be read from the connection after the close.
func TestConfigSurvivesLateWrites(t *testing.T) {
	s := New(Options{Account: "111111111111", Region: "eu-west-1", ResourceDelay: time.Millisecond})
	t.Cleanup(s.Close)
	var body strings.Builder
	body.WriteString("Resources:\n")
	for _, r := range strings.Split("ABCDEFGHIJKLMNOPQRST", "") {
		body.WriteString("  Topic" + r + ": {Type: AWS::SNS::Topic}\n")
	}
	cfg, err := s.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, status := deploy(t, s, cloudformation.NewFromConfig(cfg), "big", body.String(), "CREATE"); status != "CREATE_COMPLETE" {
		t.Fatalf("big: %s", status)
	}
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		var dialer net.Dialer
		tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &lateWriteConn{Conn: conn}, nil
		}}
		t.Cleanup(tr.CloseIdleConnections)
		c := cloudformation.NewFromConfig(s.config(&http.Client{Transport: tr}))
		out, err := c.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String("big")})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if n := len(out.StackEvents); n < 40 {
			t.Fatalf("%d events, want at least 40 (an answer over 4 KiB)", n)
		}
	}
}
