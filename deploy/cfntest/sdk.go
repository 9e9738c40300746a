package cfntest

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
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
func (s *Server) Config(ctx context.Context) (aws.Config, error) {
	return aws.Config{
		Region:           s.opts.Region,
		BaseEndpoint:     aws.String(s.URL),
		Credentials:      aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("AKIACFNTESTSTATIC01", "cfntest-static-secret", "")),
		RetryMaxAttempts: 1,
	}, nil
}

// Region is the server's region.
func (s *Server) Region() string { return s.opts.Region }
