package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// CloudFormation's limits on a template: in a request's TemplateBody, and
// read from S3 through TemplateURL.
const (
	maxTemplateBody = 51200
	maxTemplateURL  = 1 << 20
)

// defaultTemplatePrefix is where templates go in a template_bucket that
// names no prefix.
const defaultTemplatePrefix = "code-releaser/templates/"

var (
	bucketRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	keyPrefixRE = regexp.MustCompile(`^[A-Za-z0-9._/-]*$`)
)

// splitBucket splits template_bucket ("bucket" or "bucket/prefix/") into
// the bucket and a key prefix ending in "/".
func splitBucket(s string) (bucket, prefix string) {
	bucket, prefix, ok := strings.Cut(s, "/")
	if !ok || prefix == "" {
		return bucket, defaultTemplatePrefix
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return bucket, prefix
}

func validateBucket(s string) error {
	bucket, prefix := splitBucket(s)
	if !bucketRE.MatchString(bucket) || strings.Contains(bucket, "..") {
		return fmt.Errorf("template_bucket: %q is not an S3 bucket name (lower-case letters, digits, . and -; optionally /key/prefix/)", bucket)
	}
	if !keyPrefixRE.MatchString(prefix) || strings.Contains(prefix, "//") || strings.HasPrefix(prefix, "/") {
		return fmt.Errorf("template_bucket: the key prefix %q may hold letters, digits, . _ - and single /", prefix)
	}
	return nil
}

// s3API is the part of the S3 client the template store calls.
type s3API interface {
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// templateStore puts templates too large for a request's TemplateBody in
// the env's bucket, under their content hash (as `aws cloudformation
// deploy --s3-bucket` does), with the env's credentials.
type templateStore struct {
	s3             s3API
	bucket, prefix string
	region         string

	mu   sync.Mutex
	urls map[string]string // content hash -> TemplateURL, uploaded
}

// newTemplateStore is the store of env a on its SDK config cfg. With a
// base endpoint (a local S3 such as cfntest), the client addresses
// buckets in the path style; AWS's own endpoints take the virtual-hosted
// one.
func newTemplateStore(cfg aws.Config, a EnvAWS) *templateStore {
	bucket, prefix := splitBucket(a.TemplateBucket)
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = cfg.BaseEndpoint != nil
	})
	return &templateStore{s3: client, bucket: bucket, prefix: prefix, region: a.Region, urls: map[string]string{}}
}

// url uploads body (once per deploy) and returns its TemplateURL.
func (t *templateStore) url(ctx context.Context, body string) (string, error) {
	sum := sha256.Sum256([]byte(body))
	hash := hex.EncodeToString(sum[:])
	t.mu.Lock()
	u, ok := t.urls[hash]
	t.mu.Unlock()
	if ok {
		return u, nil
	}
	key := t.prefix + hash + ".template"
	if _, err := t.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(t.bucket), Key: aws.String(key), Body: strings.NewReader(body),
		ContentType: aws.String("text/plain"),
	}); err != nil {
		return "", fmt.Errorf("upload to s3://%s/%s: %s", t.bucket, key, apiMessage(err))
	}
	// CloudFormation reads it from S3 itself: the path-style URL works for
	// every bucket name, dotted ones included.
	u = "https://s3." + t.region + ".amazonaws.com/" + t.bucket + "/" + key
	t.mu.Lock()
	t.urls[hash] = u
	t.mu.Unlock()
	return u, nil
}
