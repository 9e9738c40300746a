package gitrepo

import (
	"fmt"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// authMethod builds go-git's auth for an endpoint from the configured
// credentials and those that came in the URL (user, password).
func authMethod(ep *transport.Endpoint, a Auth, urlUser, urlPassword string) (transport.AuthMethod, error) {
	switch ep.Protocol {
	case "http", "https":
		switch {
		case a.Token != "":
			return &githttp.BasicAuth{Username: a.username(), Password: a.Token}, nil
		case urlPassword != "":
			return &githttp.BasicAuth{Username: urlUser, Password: urlPassword}, nil
		case urlUser != "":
			// https://TOKEN@host/...: the token alone, as GitHub accepts.
			return &githttp.BasicAuth{Username: urlUser}, nil
		}
		return nil, nil
	case "ssh":
		if a.SSHKeyPath == "" {
			return nil, fmt.Errorf("an SSH remote needs an SSH key (repo.ssh_key)")
		}
		user := a.SSHUser
		if user == "" {
			user = ep.User
		}
		if user == "" {
			user = "git"
		}
		keys, err := gitssh.NewPublicKeysFromFile(user, a.SSHKeyPath, a.SSHKeyPassphrase)
		if err != nil {
			return nil, fmt.Errorf("read SSH key %s: %w", a.SSHKeyPath, err)
		}
		cb, err := gitssh.NewKnownHostsCallback(a.KnownHostsPath)
		if err != nil {
			return nil, fmt.Errorf("read known_hosts %s: %w", a.KnownHostsPath, err)
		}
		keys.HostKeyCallback = cb
		return keys, nil
	}
	return nil, nil
}
