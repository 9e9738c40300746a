package main

import (
	"os"
	"slices"
)

// secretEnv names the environment variables that hold secrets. The
// process reads them once at start and takes them out of its environment,
// so that nothing it starts (git, command steps) inherits them.
var secretEnv = []string{
	"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "GIT_TOKEN", "JIRA_API_TOKEN",
	"REDIS_PASSWORD", "SENTINEL_PASSWORD",
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
}

// isSecretEnv reports whether the variable name holds a secret.
func isSecretEnv(name string) bool { return slices.Contains(secretEnv, name) }

// takeSecrets moves the secret variables out of the process environment
// and returns a getenv that still answers them (and reads the rest from
// the environment). On Linux it also wipes their values from the
// environment block the kernel shows in /proc/PID/environ, then makes the
// process non-dumpable, so that another process of the same user (a
// command step) can read neither /proc/PID/environ nor /proc/PID/mem of
// the bot, nor attach to it. It returns what could not be done; the
// process goes on without it.
func takeSecrets() (getenv func(string) string, problems []error) {
	taken := map[string]string{}
	for _, name := range secretEnv {
		if v, ok := os.LookupEnv(name); ok {
			taken[name] = v
			if err := os.Unsetenv(name); err != nil {
				problems = append(problems, err)
			}
		}
	}
	problems = append(problems, protectProcess(secretEnv)...)
	return func(name string) string {
		if v, ok := taken[name]; ok {
			return v
		}
		return os.Getenv(name)
	}, problems
}
