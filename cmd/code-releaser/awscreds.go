package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/code-releaser/code-releaser/deploy"
)

// envAWSLoader keeps the SDK's default chain but for the static keys: the
// process took AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN out of its environment at start (see takeSecrets), so
// it hands them to the SDK itself. nil when the keys are not set: the
// chain's other sources (shared files, web identity, container and
// instance roles) apply as usual.
func envAWSLoader(getenv func(string) string) deploy.LoadAWS {
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return nil
	}
	static := credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN"))
	return func(ctx context.Context, region string) (aws.Config, error) {
		return awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region), awsconfig.WithCredentialsProvider(static))
	}
}
