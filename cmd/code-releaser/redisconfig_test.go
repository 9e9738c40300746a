package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/store/redistest"
	"github.com/code-releaser/code-releaser/workflow"
)

// withRedis is goodConfig with its redis section replaced by section.
func withRedis(section string) []byte {
	return []byte(strings.Replace(goodConfig, "redis: {url: redis://127.0.0.1:6379/0}", section, 1))
}

func TestRedisSectionErrorsNameTheField(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "not-a-ca.pem")
	if err := os.WriteFile(ca, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, section string
		env           map[string]string
		want          []string // every one in the error; none: no error
	}{
		{"url", "redis: {url: rediss://cache.internal:6379/0, tls: {server_name: cache.internal}}", nil, nil},
		{"sentinel", "redis: {sentinel: {master: mymaster, addrs: [h1:26379, h2:26379, h3:26379]}}",
			map[string]string{"REDIS_PASSWORD": "p", "SENTINEL_PASSWORD": "s"}, nil},
		{"cluster", "redis: {cluster: {addrs: [h1:7000, h2:7001, h3:7002]}, tls: {}}", nil, nil},
		{"none", "", nil, nil},
		{"url and cluster", "redis: {url: redis://h:6379, cluster: {addrs: [h1:7000]}}", nil,
			[]string{"redis: set one of url, sentinel or cluster, not url and cluster"}},
		{"all three", "redis: {url: redis://h:6379, sentinel: {master: m, addrs: [h:1]}, cluster: {addrs: [h1:7000]}}", nil,
			[]string{"not url and sentinel and cluster"}},
		{"sentinel without master", "redis: {sentinel: {addrs: [h1:26379]}}", nil, []string{"redis.sentinel.master: is required"}},
		{"sentinel without addrs", "redis: {sentinel: {master: mymaster}}", nil, []string{"redis.sentinel.addrs: is required"}},
		{"sentinel bad addr", "redis: {sentinel: {master: m, addrs: [h1:26379, h2]}}", nil, []string{`redis.sentinel.addrs[1]: "h2" is not host:port`}},
		{"cluster without addrs", "redis: {cluster: {}}", nil, []string{"redis.cluster.addrs: is required"}},
		{"cluster bad port", "redis: {cluster: {addrs: [\"h1:70000\"]}}", nil, []string{`redis.cluster.addrs[0]: "h1:70000" is not host:port`}},
		{"tls alone", "redis: {tls: {server_name: x}}", nil, []string{"redis.tls: needs redis.url, redis.sentinel or redis.cluster"}},
		{"tls on redis://", "redis: {url: redis://h:6379, tls: {}}", nil, []string{"redis.tls: redis.url is redis:// (no TLS): write rediss://"}},
		{"bad ca file", "redis: {cluster: {addrs: [h1:7000]}, tls: {ca_file: " + ca + "}}", nil, []string{"redis.tls.ca_file:", "holds no PEM certificate"}},
		{"missing ca file", "redis: {cluster: {addrs: [h1:7000]}, tls: {ca_file: /nonexistent/ca.pem}}", nil, []string{"redis.tls.ca_file: cannot read"}},
		{"unknown field", "redis: {sentinel: {master: m, addrs: [h:1], password: x}}", nil, []string{"field password not found"}},
		{"sentinel password without sentinel", "redis: {url: redis://h:6379}", map[string]string{"SENTINEL_PASSWORD": "s"},
			[]string{"SENTINEL_PASSWORD is set but there is no redis.sentinel section"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig(withRedis(tc.section), func(k string) string { return tc.env[k] })
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("parseConfig: %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("parseConfig accepted %s", tc.section)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			for _, secret := range tc.env {
				if strings.Contains(err.Error(), secret+"\n") {
					t.Errorf("error %q holds a password", err)
				}
			}
		})
	}
}

// The redis section reaches a real Sentinel set-up and a real cluster,
// with the passwords from the environment; a wrong password is an error
// that names the variables, without their values.
func TestOpenStoreSentinelAndCluster(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	sen := redistest.DedicatedSentinel(t, redistest.SentinelOptions{Password: "data-pw-1", SentinelPassword: "sentinel-pw-1", NoFailover: true})
	cl := redistest.DedicatedCluster(t, redistest.ClusterOptions{Password: "data-pw-1"})
	for _, tc := range []struct {
		name, section string
	}{
		{"sentinel", "redis: {sentinel: {master: " + sen.Master + ", addrs: [" + strings.Join(sen.SentinelAddrs(), ", ") + "]}, prefix: 'cli:'}"},
		{"cluster", "redis: {cluster: {addrs: [" + cl.Nodes[0].Addr + "]}, prefix: 'cli:'}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			open := func(redisPW, sentinelPW string) (workflow.Store, func(), error) {
				cfg, err := parseConfig(withRedis(tc.section), func(k string) string {
					switch {
					case k == "REDIS_PASSWORD":
						return redisPW
					case k == "SENTINEL_PASSWORD" && tc.name == "sentinel":
						return sentinelPW
					}
					return ""
				})
				if err != nil {
					t.Fatal(err)
				}
				return openStore(ctx, cfg)
			}
			st, closeStore, err := open("data-pw-1", "sentinel-pw-1")
			if err != nil {
				t.Fatal(err)
			}
			for _, env := range []string{"dev", "stg", "qa", "prod"} {
				if _, ok, err := st.AcquireLease(ctx, env, workflow.Lease{Token: "t"}, time.Minute); err != nil || !ok {
					t.Errorf("AcquireLease(%s): %v, %v", env, ok, err)
				}
			}
			closeStore()

			for _, pw := range [][2]string{{"wrong-pw-2", "sentinel-pw-1"}, {"data-pw-1", "wrong-pw-2"}} {
				if tc.name == "cluster" && pw[1] != "sentinel-pw-1" {
					continue
				}
				_, _, err := open(pw[0], pw[1])
				if err == nil {
					t.Fatalf("passwords %v: opened", pw)
				}
				msg := workflow.UserMessage(err)
				want := "REDIS_PASSWORD"
				if pw[1] != "sentinel-pw-1" {
					want = "SENTINEL_PASSWORD"
				}
				if !strings.Contains(msg, "refused the password") || !strings.Contains(msg, want) {
					t.Errorf("passwords %v: %q, want it to say the password was refused and name %s", pw, msg, want)
				}
				if strings.Contains(err.Error(), "wrong-pw-2") {
					t.Errorf("passwords %v: the error %q holds the password", pw, err)
				}
			}
		})
	}
}

// tlsFiles writes a CA and a server certificate for name (signed by it)
// into dir and returns the paths of the CA, the certificate and its key.
func tlsFiles(t *testing.T, dir, name string) (ca, cert, key string) {
	t.Helper()
	write := func(file, typ string, der []byte) string {
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, caTmpl, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", srvDER), write("server.key", "EC PRIVATE KEY", keyDER)
}

// redis.tls reaches a real redis-server over TLS: its CA from ca_file and
// the name in its certificate from server_name; without either the
// connection is refused.
func TestOpenStoreTLS(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	ca, cert, key := tlsFiles(t, dir, "redis.internal")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	redistest.Dedicated(t, redistest.Options{Password: "tls-pw-1", Args: []string{
		"--tls-port", strconv.Itoa(port), "--tls-cert-file", cert, "--tls-key-file", key,
		"--tls-ca-cert-file", ca, "--tls-auth-clients", "no",
	}})
	url := fmt.Sprintf("rediss://127.0.0.1:%d/0", port)
	for _, tc := range []struct {
		tls   string
		opens bool
	}{
		{"{ca_file: " + ca + ", server_name: redis.internal}", true},
		{"{ca_file: " + ca + "}", false},         // 127.0.0.1 is not in the certificate
		{"{server_name: redis.internal}", false}, // the system roots do not know the CA
	} {
		cfg, err := parseConfig(withRedis("redis: {url: '"+url+"', tls: "+tc.tls+"}"), func(k string) string {
			if k == "REDIS_PASSWORD" {
				return "tls-pw-1"
			}
			return ""
		})
		if err != nil {
			t.Fatal(err)
		}
		st, closeStore, err := openStore(ctx, cfg)
		if !tc.opens {
			if workflow.KindOf(err) != workflow.Unavailable || !strings.Contains(err.Error(), "certificate") {
				t.Errorf("tls %s: err %v, want the store unavailable for its certificate", tc.tls, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("tls %s: %v", tc.tls, err)
		}
		if _, ok, err := st.AcquireLease(ctx, "dev", workflow.Lease{Token: "t"}, time.Minute); err != nil || !ok {
			t.Errorf("AcquireLease over TLS: %v, %v", ok, err)
		}
		closeStore()
	}
}
