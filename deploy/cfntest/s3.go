package cfntest

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The S3 part: PutObject on path-style URLs (PUT /bucket/key, the form the
// SDK uses with a base endpoint and UsePathStyle), enough for templates
// passed to CreateChangeSet by TemplateURL. Bodies may come in the
// aws-chunked encoding the SDK uses for streamed checksums. Buckets exist
// only once CreateBucket made them.

// maxObject bounds an object; CloudFormation reads templates of 1 MB.
const maxObject = 16 << 20

// CreateBucket makes an empty bucket.
func (s *Server) CreateBucket(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets[name] == nil {
		s.buckets[name] = map[string][]byte{}
	}
}

// Object returns an object's content.
func (s *Server) Object(bucket, key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[bucket][key]
	return b, ok
}

func (s *Server) serveS3(w http.ResponseWriter, r *http.Request, accessKey string) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	s.mu.Lock()
	s.calls = append(s.calls, Call{Action: "PutObject", Bucket: bucket, ObjectKey: key, AccessKey: accessKey, At: time.Now()})
	s.mu.Unlock()
	if r.Method != http.MethodPut || key == "" {
		s3Error(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "cfntest's S3 takes PutObject (PUT /bucket/key) only")
		return
	}
	body, err := readObject(r)
	if err != nil {
		s3Error(w, http.StatusBadRequest, "IncompleteBody", err.Error())
		return
	}
	s.mu.Lock()
	objects := s.buckets[bucket]
	if objects != nil {
		objects[key] = body
	}
	s.mu.Unlock()
	if objects == nil {
		s3Error(w, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
		return
	}
	sum := md5.Sum(body)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
	w.Header().Set("x-amz-request-id", requestID())
	w.WriteHeader(http.StatusOK)
}

// readObject reads a PutObject body, plain or aws-chunked
// ("<hex size>[;chunk-signature=…]\r\n<data>\r\n" … "0\r\n<trailers>\r\n").
func readObject(r *http.Request) ([]byte, error) {
	src := io.LimitReader(r.Body, maxObject+1)
	chunked := strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") ||
		strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-")
	if !chunked {
		b, err := io.ReadAll(src)
		if len(b) > maxObject {
			return nil, fmt.Errorf("object over %d bytes", maxObject)
		}
		return b, err
	}
	br := bufio.NewReader(src)
	var out []byte
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("aws-chunked: %w", err)
		}
		sizeHex, _, _ := strings.Cut(strings.TrimSpace(line), ";")
		n, err := strconv.ParseInt(sizeHex, 16, 64)
		if err != nil || n < 0 || int64(len(out))+n > maxObject {
			return nil, fmt.Errorf("aws-chunked: bad chunk size %q", sizeHex)
		}
		if n == 0 {
			return out, nil // trailers (checksums) follow; not checked
		}
		chunk := make([]byte, n)
		if _, err := io.ReadFull(br, chunk); err != nil {
			return nil, fmt.Errorf("aws-chunked: %w", err)
		}
		out = append(out, chunk...)
		if _, err := br.Discard(2); err != nil { // \r\n
			return nil, fmt.Errorf("aws-chunked: %w", err)
		}
	}
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>%s</RequestId></Error>`, code, msg, requestID())
}

// templateAt is the template a TemplateURL names: an S3 URL in the path
// style (https://s3.REGION.amazonaws.com/BUCKET/KEY) or the virtual-hosted
// one (https://BUCKET.s3.REGION.amazonaws.com/KEY). Called under s.mu.
func (s *Server) templateAt(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || !strings.HasSuffix(u.Host, ".amazonaws.com") {
		return "", validation("TemplateURL must be a supported URL.")
	}
	path := strings.TrimPrefix(u.Path, "/")
	var bucket, key string
	if strings.HasPrefix(u.Host, "s3.") || strings.HasPrefix(u.Host, "s3-") {
		bucket, key, _ = strings.Cut(path, "/")
	} else if b, _, ok := strings.Cut(u.Host, ".s3"); ok {
		bucket, key = b, path
	}
	body, ok := s.buckets[bucket][key]
	if !ok {
		return "", validation("S3 error: Access Denied (no object %s in bucket %q)", key, bucket)
	}
	if len(body) > 1<<20 {
		return "", validation("Template may not exceed 1048576 bytes in size.")
	}
	return string(body), nil
}
