package main

import (
	"strings"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/store/redistest"
	"github.com/code-releaser/code-releaser/workflow"
)

func TestRedisConfig(t *testing.T) {
	bad := strings.Replace(goodConfig, "redis://127.0.0.1:6379/0", "http://127.0.0.1:6379", 1)
	if _, err := parseConfig([]byte(bad), noEnv); err == nil || !strings.Contains(err.Error(), "redis.url") {
		t.Errorf("parseConfig with an http redis.url: err = %v, want one naming redis.url", err)
	}
	c, err := parseConfig([]byte(goodConfig), func(k string) string {
		if k == "REDIS_PASSWORD" {
			return "s3cret"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.RedisPassword != "s3cret" || strings.Contains(c.String(), "s3cret") {
		t.Errorf("REDIS_PASSWORD: read %q, String() = %s", c.RedisPassword, c)
	}
}

func TestOpenStore(t *testing.T) {
	ctx := t.Context()
	st, closeStore, err := openStore(ctx, config{})
	if err != nil {
		t.Fatal(err)
	}
	closeStore()
	if rs, ok := st.(redactingStore); !ok {
		t.Errorf("the store is %T, want it behind redactingStore", st)
	} else if _, ok := rs.Store.(*store.Memory); !ok {
		t.Errorf("without redis.url the store is %T, want *store.Memory", rs.Store)
	}

	srv := redistest.Dedicated(t, redistest.Options{})
	cfg := config{Redis: redisConfig{URL: "redis://" + srv.Addr + "/0", Prefix: "cli-test:"}}
	st, closeStore, err = openStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	if _, ok, err := st.AcquireLease(ctx, "dev", workflow.Lease{Token: "t"}, time.Minute); err != nil || !ok {
		t.Errorf("AcquireLease on Redis: %v, %v", ok, err)
	}
	keys, err := srv.Client(t).Keys(ctx, "*").Result() // a test may scan; the store never does
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "cli-test:") {
			t.Errorf("key %q outside the configured prefix", k)
		}
	}

	srv.Stop()
	if _, _, err := openStore(ctx, cfg); workflow.KindOf(err) != workflow.Unavailable {
		t.Errorf("openStore with Redis down: err = %v, want kind unavailable", err)
	}
}
