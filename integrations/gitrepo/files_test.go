package gitrepo

import (
	"context"
	"io/fs"
	"testing"

	"github.com/code-releaser/code-releaser/workflow"
)

func TestFiles(t *testing.T) {
	r, w := seed(t)
	w.Commit(t, "second", map[string]string{"code-releaser.yml": "stacks: {}\n", "stacks/app.yml": "a: 2\n"})
	w.Push(t, "master")
	m := openMirror(t, r.URL(), Auth{})
	ctx := context.Background()
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	files, err := m.Files(ctx, r.Tip(t, "master"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"README.md": "infra\n", "stacks/app.yml": "a: 2\n", "code-releaser.yml": "stacks: {}\n"} {
		got, err := fs.ReadFile(files, name)
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	if ents, err := fs.ReadDir(files, "stacks"); err != nil || len(ents) != 1 {
		t.Errorf("ReadDir(stacks) = %v, %v", ents, err)
	}
	_, err = m.Files(ctx, "0123456789012345678901234567890123456789")
	wantKind(t, err, workflow.NotFound)
	_, err = m.Files(ctx, "--upload-pack")
	wantKind(t, err, workflow.Invalid)
}
