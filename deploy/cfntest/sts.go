package cfntest

import (
	"net/url"
	"regexp"
	"strings"
	"time"
)

var roleARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}):role/(.+)$`)

type callerIdentity struct {
	Arn     string
	UserId  string
	Account string
}

type credentialsXML struct {
	AccessKeyId     string
	SecretAccessKey string
	SessionToken    string
	Expiration      string
}

type assumedRoleUser struct {
	Arn           string
	AssumedRoleId string
}

type assumeRoleResult struct {
	Credentials     credentialsXML
	AssumedRoleUser assumedRoleUser
}

// sts answers GetCallerIdentity and AssumeRole. Static credentials belong
// to the server's account; AssumeRole hands out credentials of the role's
// account (any role is assumable).
func (s *Server) sts(action string, form url.Values, key string) (any, error) {
	switch action {
	case "GetCallerIdentity":
		s.mu.Lock()
		id, ok := s.keys[key]
		s.mu.Unlock()
		if !ok {
			id = identity{account: s.opts.Account, arn: "arn:aws:iam::" + s.opts.Account + ":user/cfntest"}
		}
		return callerIdentity{Arn: id.arn, UserId: key, Account: id.account}, nil
	case "AssumeRole":
		arn, session := form.Get("RoleArn"), form.Get("RoleSessionName")
		m := roleARNRE.FindStringSubmatch(arn)
		if m == nil {
			return nil, validation("1 validation error detected: Value '%s' at 'roleArn' failed to satisfy constraint", arn)
		}
		if session == "" {
			return nil, validation("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null")
		}
		keyID := "ASIA" + strings.ToUpper(strings.ReplaceAll(requestID(), "-", ""))[:16]
		roleName := m[2][strings.LastIndex(m[2], "/")+1:]
		assumed := "arn:aws:sts::" + m[1] + ":assumed-role/" + roleName + "/" + session
		s.mu.Lock()
		s.keys[keyID] = identity{account: m[1], arn: assumed}
		s.mu.Unlock()
		return assumeRoleResult{
			Credentials: credentialsXML{
				AccessKeyId: keyID, SecretAccessKey: "cfntest-secret-" + requestID(), SessionToken: "cfntest-session-" + requestID(),
				Expiration: timestamp(time.Now().Add(time.Hour)),
			},
			AssumedRoleUser: assumedRoleUser{Arn: assumed, AssumedRoleId: "AROA" + keyID[4:] + ":" + session},
		}, nil
	}
	return nil, &apiError{status: 400, code: "InvalidAction", msg: "cfntest does not implement STS " + action, sender: true}
}
