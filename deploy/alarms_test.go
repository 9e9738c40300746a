package deploy

import "testing"

func TestTriggeredBy(t *testing.T) {
	names := map[string]string{"arn:aws:cloudwatch:eu-west-1:111111111111:alarm:dev-5xx": "dev-5xx", "arn:aws:cloudwatch:eu-west-1:111111111111:alarm:dev-db": "dev-db"}
	for _, tc := range []struct{ reason, want string }{
		{"Rollback triggered: [arn:aws:cloudwatch:eu-west-1:111111111111:alarm:dev-5xx] went to ALARM.", "dev-5xx"},
		{"breached: arn:aws:cloudwatch:eu-west-1:111111111111:alarm:other-alarm.", "other-alarm"},
		{"Alarm dev-db is in ALARM state", "dev-db"},
		{"The following resource(s) failed to update: [Topic].", ""},
	} {
		if got := triggeredBy(tc.reason, names); got != tc.want {
			t.Errorf("triggeredBy(%q) = %q, want %q", tc.reason, got, tc.want)
		}
	}
}
