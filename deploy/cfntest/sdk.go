package cfntest

import (
	"bytes"
	"context"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Config returns an SDK configuration that talks to the server with
// static credentials of its account, no retries.
//
// It is built here rather than by config.LoadDefaultConfig so that
// nothing of the host's AWS set-up reaches tests and the demo: no shared
// files, no AWS_* variables (an AWS_ENDPOINT_URL_* would redirect a
// client; an AWS_CA_BUNDLE was parsed on every call, some 3 ms of each
// deploy here, for a server that speaks plain HTTP).
//
// Its HTTP client sends request bodies from memory (see inMemoryBodies):
// without retries, the SDK's own request bodies made calls fail now and
// then with "use of closed network connection".
func (s *Server) Config(ctx context.Context) (aws.Config, error) {
	return s.config(awshttp.NewBuildableClient()), nil
}

// config is Config over the HTTP client hc.
func (s *Server) config(hc aws.HTTPClient) aws.Config {
	return aws.Config{
		Region:           s.opts.Region,
		BaseEndpoint:     aws.String(s.URL),
		Credentials:      aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("AKIACFNTESTSTATIC01", "cfntest-static-secret", "")),
		HTTPClient:       inMemoryBodies{hc},
		RetryMaxAttempts: 1,
	}
}

// inMemoryBodies is an SDK HTTP client that hands net/http each request
// body as a bytes.Reader of its own, read from the SDK's body first.
//
// The SDK (smithy-go's ClientHandler) closes the body it gave net/http as
// soon as the response arrives, and that body's WriteTo returns io.EOF as
// an error once closed. net/http's write loop reads a body once more after
// writing its Content-Length bytes (to find any excess), and for a body of
// a type it does not know to be in memory it flushes the headers first and
// writes the body straight to the socket: the server may answer, and the
// SDK close the body, before that last read. The write loop then takes
// the io.EOF for a write error and closes the connection under the
// response being read ("deserialization failed, read tcp ...: use of
// closed network connection"). The SDK's standard retryer retries that
// error, but this configuration makes one attempt. A bytes.Reader behind
// io.NopCloser is a body net/http knows: it writes it with the headers in
// one flush and its last read finds our reader, which nobody closes.
type inMemoryBodies struct{ next aws.HTTPClient }

func (c inMemoryBodies) Do(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody || req.ContentLength <= 0 {
		return c.next.Do(req)
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(b))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return c.next.Do(out)
}

// Region is the server's region.
func (s *Server) Region() string { return s.opts.Region }
