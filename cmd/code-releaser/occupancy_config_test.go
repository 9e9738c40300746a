package main

import (
	"strings"
	"testing"
	"time"

	"github.com/code-releaser/code-releaser/workflow"
)

func TestOccupancyConfig(t *testing.T) {
	base := "repo: {url: file:///tmp/r.git, cache_dir: /tmp/c}\n"
	c, err := parseConfig([]byte(base+`environments:
  - {name: dev, occupancy: {remind_after: 3d, expire_after: 7d, extend_by: 1d12h, max_extensions: 0, remove_when_done: true}}
  - {name: stg, occupancy: {remind_after: 36h, expire_after: 14d}}
  - {name: prod, production: true}
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	envs := c.workflowConfig().Envs
	want := workflow.OccupancyPolicy{RemindAfter: 72 * time.Hour, ExpireAfter: 7 * 24 * time.Hour, ExtendBy: 36 * time.Hour, MaxExtensions: -1, RemoveWhenDone: true}
	if envs[0].Occupancy != want {
		t.Errorf("dev's occupancy: %+v, want %+v (max_extensions: 0 allows no Keep)", envs[0].Occupancy, want)
	}
	if got := envs[1].Occupancy; got.RemindAfter != 36*time.Hour || got.ExpireAfter != 14*24*time.Hour || got.MaxExtensions != 0 {
		t.Errorf("stg's occupancy: %+v", got)
	}
	if envs[2].Occupancy.Enabled() {
		t.Errorf("prod's occupancy: %+v, want none", envs[2].Occupancy)
	}

	for _, tc := range []struct{ name, yaml, want string }{
		{"bad duration", "{name: dev, occupancy: {expire_after: 7days}}", `environments[0].occupancy: expire_after: "7days" is not a duration like 3d`},
		{"remind after expiry", "{name: dev, occupancy: {remind_after: 8d, expire_after: 7d}}", "environments[0].occupancy: remind_after (8d) must come before expire_after (7d)"},
		{"remind without expiry", "{name: dev, occupancy: {remind_after: 3d}}", "remind_after needs expire_after"},
		{"negative keeps", "{name: dev, occupancy: {expire_after: 7d, max_extensions: -1}}", "max_extensions must not be negative"},
		{"production", "{name: prod, production: true, occupancy: {expire_after: 7d}}", "prod is a production env"},
		{"unknown key", "{name: dev, occupancy: {expire: 7d}}", "field expire not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig([]byte(base+"environments: ["+tc.yaml+"]"), noEnv)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
