package cfntest

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Config returns an SDK configuration that talks to the server with
// static credentials of its account, no retries.
func (s *Server) Config(ctx context.Context) (aws.Config, error) {
	return config.LoadDefaultConfig(ctx,
		config.WithRegion(s.opts.Region),
		config.WithBaseEndpoint(s.URL),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIACFNTESTSTATIC01", "cfntest-static-secret", "")),
		config.WithRetryMaxAttempts(1),
		// Keep the host's AWS files out of tests and the demo.
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
	)
}

// Region is the server's region.
func (s *Server) Region() string { return s.opts.Region }
