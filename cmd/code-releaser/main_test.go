package main

import (
	"os"
	"testing"
)

// TestMain lets tests start this test binary as other processes: as the
// code-releaser command itself (argument code-releaser-main, through
// main, as a real process starts) or as a hostile command step
// (attack-step).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "code-releaser-main":
			os.Args = append(os.Args[:1], os.Args[2:]...)
			main()
			return
		case "attack-step":
			attackStep(os.Args[2:])
			os.Exit(0)
		}
	}
	os.Exit(m.Run())
}
