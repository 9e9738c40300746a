package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/code-releaser/code-releaser/workflow"
)

// bigTemplate is a template of about size bytes: one topic with filler
// metadata.
func bigTemplate(size int) []byte {
	head := "Resources:\n  Big:\n    Type: AWS::SNS::Topic\n    Metadata:\n      Filler: "
	return []byte(head + strings.Repeat("x", max(0, size-len(head)-1)) + "\n")
}

func bigRepo(size int) fstest.MapFS {
	return fstest.MapFS{
		SpecFile:  {Data: []byte("stacks:\n  big: {name: \"{env}-big\", template: big.yml}\n")},
		"big.yml": {Data: bigTemplate(size)},
	}
}

const devRole = "arn:aws:iam::111111111111:role/deployer"

func TestLargeTemplateThroughBucket(t *testing.T) {
	f := newFixture(t)
	f.srv.CreateBucket("acme-templates")
	repo := bigRepo(60 << 10)
	f.src["c1"] = repo
	body := string(repo["big.yml"].Data)

	// Without a bucket: refused before any AWS call, naming the setting.
	_, err := f.deploy(t, f.deployer(t, func(c *Config) {
		c.Envs["dev"] = EnvAWS{Region: "eu-west-1", AccountID: "111111111111", RoleARN: devRole}
	}), "c1")
	if workflow.KindOf(err) != workflow.Invalid || !strings.Contains(err.Error(), "template_bucket") || !strings.Contains(err.Error(), "51200") {
		t.Fatalf("without a bucket: %v", err)
	}
	if n := len(f.srv.Calls()); n != 0 {
		t.Errorf("%d AWS calls before the refusal", n)
	}

	res, err := f.deploy(t, f.deployer(t, func(c *Config) {
		c.Envs["dev"] = EnvAWS{Region: "eu-west-1", AccountID: "111111111111", RoleARN: devRole, TemplateBucket: "acme-templates/cr"}
	}), "c1")
	if err != nil || res.Status != workflow.DeploySucceeded || statuses(res)["dev-big"] != "CREATE_COMPLETE" {
		t.Fatalf("with a bucket: %v %s %v", err, res.Summary, statuses(res))
	}
	sum := sha256.Sum256([]byte(body))
	key := "cr/" + hex.EncodeToString(sum[:]) + ".template"
	if got, ok := f.srv.Object("acme-templates", key); !ok || string(got) != body {
		t.Errorf("s3://acme-templates/%s: found %t, %d bytes, want the template's %d", key, ok, len(got), len(body))
	}
	for _, c := range f.srv.Calls() {
		if c.Action == "PutObject" && !strings.HasPrefix(c.AccessKey, "ASIA") {
			t.Errorf("the template was uploaded with %s, not the env's assumed credentials", c.AccessKey)
		}
	}
}

func TestHugeTemplateRefusedUnread(t *testing.T) {
	f := newFixture(t)
	f.srv.CreateBucket("acme-templates")
	huge := bigRepo(8 << 20)
	f.src["c1"] = huge
	_, err := f.deploy(t, f.deployer(t, func(c *Config) {
		c.Envs["dev"] = EnvAWS{Region: "eu-west-1", AccountID: "111111111111", RoleARN: devRole, TemplateBucket: "acme-templates"}
	}), "c1")
	if workflow.KindOf(err) != workflow.Invalid || !strings.Contains(err.Error(), "big.yml: 8388608 bytes, more than the 1048576") {
		t.Fatalf("err = %v", err)
	}
	if n := len(f.srv.Calls()); n != 0 {
		t.Errorf("%d requests reached cfntest", n)
	}
	// What refusing it costs: a measurement of the bytes allocated, not of
	// time. Reading and parsing it would take hundreds of MB.
	r := testing.Benchmark(func(b *testing.B) { loadHuge(b, huge) })
	if got := r.AllocedBytesPerOp(); got > 64<<10 {
		t.Errorf("refusing an 8 MB template allocated %d bytes", got)
	}
	t.Logf("refusing an 8 MB template: %d B/op, %d allocs/op", r.AllocedBytesPerOp(), r.AllocsPerOp())
}

func loadHuge(b *testing.B, files fstest.MapFS) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadPlan(files, Target{Env: "dev", Region: "eu-west-1", AccountID: "111111111111"}); err == nil {
			b.Fatal("an 8 MB template was accepted")
		}
	}
}

// BenchmarkHugeTemplate is the memory refusing an 8 MB template costs.
func BenchmarkHugeTemplate(b *testing.B) { loadHuge(b, bigRepo(8<<20)) }
