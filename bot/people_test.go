package bot

import "testing"

// TestPeople: the workflow's sentences name people and groups by ID;
// people makes those mentions and leaves words that only look alike.
func TestPeople(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"approved by U09APPROVR", "approved by <@U09APPROVR>"},
		{"asked S0614TZR7, U024BE7LH for 2 approvals", "asked <!subteam^S0614TZR7>, <@U024BE7LH> for 2 approvals"},
		{"U3 removed OPS-1 of U1", "U3 removed OPS-1 of U1"}, // too short to be Slack's
		{"W012A3CDE held dev", "<@W012A3CDE> held dev"},
		{"sha256 SHA256 UTF8 S3 W3C US-EAST-1 UPDATE_COMPLETE", "sha256 SHA256 UTF8 S3 W3C US-EAST-1 UPDATE_COMPLETE"},
		{"already <@U024BE7LH> and <!subteam^S0614TZR7|ops>", "already <@U024BE7LH> and <!subteam^S0614TZR7|ops>"},
		{"branch release/U024BE7LH and `U024BE7LH`", "branch release/U024BE7LH and `U024BE7LH`"},
		{"OPS-12 by U024BE7LH.", "OPS-12 by <@U024BE7LH>."},
		{`there is no env "U024BE7LH"`, `there is no env "U024BE7LH"`}, // what someone typed
	} {
		if got := people(tc.in); got != tc.want {
			t.Errorf("people(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
