package bot_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/code-releaser/code-releaser/bot"
	"github.com/code-releaser/code-releaser/store"
	"github.com/code-releaser/code-releaser/workflow"
	"github.com/code-releaser/code-releaser/workflow/workflowtest"
)

func readManifest(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile("../manifest.yml")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatalf("manifest.yml: %v", err)
	}
	return m
}

// get walks a path of keys.
func get(m any, path ...string) any {
	for _, k := range path {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[k]
	}
	return m
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// TestManifestMatchesTheBot checks manifest.yml against the command table,
// the events and the scopes the bot uses.
func TestManifestMatchesTheBot(t *testing.T) {
	m := readManifest(t)
	client, err := bot.NewClient(slog.New(slog.DiscardHandler), bot.ClientConfig{BotToken: "xoxb-x", AppToken: "xapp-x", APIURL: "http://127.0.0.1:1/api/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	notifier := bot.NewNotifier(slog.New(slog.DiscardHandler), client, bot.NotifierConfig{}, store.NewMemory(nil))
	svc, err := workflow.NewService(nil, workflow.Config{Envs: []workflow.Env{{Name: "dev"}, {Name: "prod", Production: true}}},
		workflow.Deps{Repo: workflowtest.NewRepo(), Store: store.NewMemory(nil), Notifier: notifier})
	if err != nil {
		t.Fatal(err)
	}
	b, err := bot.New(slog.New(slog.DiscardHandler), client, bot.Config{}, bot.Deps{
		Service: nil, Claims: store.NewMemory(nil), Notifier: notifier, Lifecycle: svc, Approvals: svc, Occupancy: svc,
	})
	if err == nil || b != nil {
		t.Fatal("bot.New without a Service succeeded")
	}
	b, err = bot.New(slog.New(slog.DiscardHandler), client, bot.Config{}, bot.Deps{
		Service: svc, Claims: store.NewMemory(nil), Notifier: notifier, Lifecycle: svc, Approvals: svc,
	})
	if err == nil || b != nil {
		t.Fatal("bot.New without an Occupancy succeeded")
	}
	b, err = bot.New(slog.New(slog.DiscardHandler), client, bot.Config{}, bot.Deps{
		Service: svc, Claims: store.NewMemory(nil), Notifier: notifier, Lifecycle: svc, Approvals: svc, Occupancy: svc,
	})
	if err != nil {
		t.Fatal(err)
	}
	tab := b.Table()

	cmds, _ := get(m, "features", "slash_commands").([]any)
	if len(cmds) != 1 {
		t.Fatalf("manifest has %d slash commands, want 1 (%s)", len(cmds), bot.SlashCommand)
	}
	sc := cmds[0].(map[string]any)
	if sc["command"] != bot.SlashCommand {
		t.Errorf("slash command %v, want %s", sc["command"], bot.SlashCommand)
	}
	hint := fmt.Sprint(sc["usage_hint"])
	for _, c := range tab.Commands() {
		usage := strings.TrimPrefix(tab.UsageOf(c.Name), bot.SlashCommand+" ")
		if !strings.Contains(hint, usage) {
			t.Errorf("usage_hint %q lacks %q from the command table", hint, usage)
		}
	}
	for _, part := range strings.Split(hint, "|") {
		word := strings.Fields(part)[0]
		if _, ok := tab.Lookup(word); !ok && word != "TICKET" {
			t.Errorf("usage_hint names %q, which is not in the command table", word)
		}
	}
	if sc["should_escape"] != false {
		t.Errorf("should_escape is %v; the parser reads raw text (it also unwraps escapes)", sc["should_escape"])
	}
	for _, c := range []struct {
		path []string
		want any
	}{
		{[]string{"settings", "socket_mode_enabled"}, true},
		{[]string{"settings", "interactivity", "is_enabled"}, true},
		{[]string{"features", "app_home", "home_tab_enabled"}, true},
	} {
		if got := get(m, c.path...); got != c.want {
			t.Errorf("%s = %v, want %v", strings.Join(c.path, "."), got, c.want)
		}
	}
	if got := strs(get(m, "settings", "event_subscriptions", "bot_events")); !slices.Equal(sorted(got), sorted(bot.Events())) {
		t.Errorf("bot_events %v, want %v", got, bot.Events())
	}
	if got := strs(get(m, "oauth_config", "scopes", "bot")); !slices.Equal(sorted(got), sorted(bot.Scopes())) {
		t.Errorf("bot scopes %v, want exactly the scopes used: %v", got, bot.Scopes())
	}
	if ids := b.ActionIDs(); !slices.Contains(ids, bot.ActionApprove) || !slices.Contains(ids, bot.ActionReject) ||
		!slices.Contains(ids, bot.ActionConfirm) || !slices.Contains(ids, bot.ActionCancel) {
		t.Errorf("action ids %v lack approve/reject/confirm/cancel", ids)
	}
}

func sorted(s []string) []string { s = slices.Clone(s); sort.Strings(s); return s }

// TestManifestMatchesSlackSchema validates manifest.yml against Slack's
// published JSON schema (a copy in ../shared/slack), with a small draft-07
// validator for the keywords that schema uses.
func TestManifestMatchesSlackSchema(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "slack")
	if _, err := os.Stat(filepath.Join(dir, "manifest.schema.json")); err != nil {
		t.Skipf("Slack's manifest schema is not beside the repo: %v", err)
	}
	v := &validator{dir: dir, docs: map[string]map[string]any{}}
	root := v.doc(t, "manifest.schema.json")
	m := readManifest(t)
	inst := jsonish(m)
	v.check(t, root, root, "$", inst)
	for _, e := range v.errs {
		t.Error(e)
	}
	for p := range v.skipped {
		t.Logf("pattern not checked (not RE2): %s", p)
	}

	// The validator itself catches each mistake.
	for name, breakIt := range map[string]func(m map[string]any){
		"bool as string": func(m map[string]any) { get(m, "settings").(map[string]any)["socket_mode_enabled"] = "yes" },
		"command pattern": func(m map[string]any) {
			asSlice(get(m, "features", "slash_commands"))[0].(map[string]any)["command"] = "release"
		},
		"unknown key":  func(m map[string]any) { get(m, "display_information").(map[string]any)["nmae"] = "x" },
		"missing name": func(m map[string]any) { delete(get(m, "display_information").(map[string]any), "name") },
	} {
		bad := jsonish(m).(map[string]any)
		breakIt(bad)
		v2 := &validator{dir: dir, docs: v.docs}
		v2.check(t, root, root, "$", bad)
		if len(v2.errs) == 0 {
			t.Errorf("a manifest with a %s passed the schema check", name)
		}
	}
}

// jsonish turns YAML values into what encoding/json would give.
func jsonish(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

type validator struct {
	dir     string
	docs    map[string]map[string]any
	errs    []string
	skipped map[string]bool
}

func (v *validator) doc(t *testing.T, name string) map[string]any {
	if d, ok := v.docs[name]; ok {
		return d
	}
	data, err := os.ReadFile(filepath.Join(v.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	v.docs[name] = d
	return d
}

func (v *validator) fail(path, format string, args ...any) {
	v.errs = append(v.errs, path+": "+fmt.Sprintf(format, args...))
}

// valid reports whether x passes s without recording errors.
func (v *validator) valid(t *testing.T, doc, s map[string]any, path string, x any) bool {
	sub := &validator{dir: v.dir, docs: v.docs, skipped: v.skipped}
	sub.check(t, doc, s, path, x)
	if v.skipped == nil {
		v.skipped = sub.skipped
	}
	return len(sub.errs) == 0
}

func (v *validator) check(t *testing.T, doc, s map[string]any, path string, x any) {
	if ref, ok := s["$ref"].(string); ok {
		if strings.HasPrefix(ref, "#/definitions/") {
			def, _ := get(doc, "definitions", strings.TrimPrefix(ref, "#/definitions/")).(map[string]any)
			if def == nil {
				t.Fatalf("%s: unresolved $ref %s", path, ref)
			}
			v.check(t, doc, def, path, x)
		} else { // a published schema's URL: the copy beside it
			d := v.doc(t, ref[strings.LastIndex(ref, "/")+1:])
			v.check(t, d, d, path, x)
		}
		return
	}
	for _, sub := range list(s["allOf"]) {
		v.check(t, doc, sub, path, x)
	}
	if anyOf := list(s["anyOf"]); len(anyOf) > 0 && !slices.ContainsFunc(anyOf, func(sub map[string]any) bool { return v.valid(t, doc, sub, path, x) }) {
		v.fail(path, "matches none of anyOf")
	}
	if one := list(s["oneOf"]); len(one) > 0 {
		n := 0
		for _, sub := range one {
			if v.valid(t, doc, sub, path, x) {
				n++
			}
		}
		if n != 1 {
			v.fail(path, "matches %d of oneOf, want 1", n)
		}
	}
	if not, ok := s["not"].(map[string]any); ok && v.valid(t, doc, not, path, x) {
		v.fail(path, "matches a not")
	}
	if c, ok := s["const"]; ok && !reflect.DeepEqual(c, x) {
		v.fail(path, "is %v, want %v", x, c)
	}
	if e, ok := s["enum"].([]any); ok && !slices.ContainsFunc(e, func(c any) bool { return reflect.DeepEqual(c, x) }) {
		v.fail(path, "%v is not one of %v", x, e)
	}
	if ty, ok := s["type"]; ok && !typeOK(ty, x) {
		v.fail(path, "%v is not of type %v", x, ty)
		return
	}
	switch x := x.(type) {
	case map[string]any:
		v.object(t, doc, s, path, x)
	case []any:
		if n, ok := s["minItems"].(float64); ok && float64(len(x)) < n {
			v.fail(path, "%d items, at least %v", len(x), n)
		}
		if n, ok := s["maxItems"].(float64); ok && float64(len(x)) > n {
			v.fail(path, "%d items, at most %v", len(x), n)
		}
		if s["uniqueItems"] == true {
			for i := range x {
				for j := i + 1; j < len(x); j++ {
					if reflect.DeepEqual(x[i], x[j]) {
						v.fail(path, "items %d and %d are equal", i, j)
					}
				}
			}
		}
		if it, ok := s["items"].(map[string]any); ok {
			for i, e := range x {
				v.check(t, doc, it, fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	case string:
		n := float64(utf8.RuneCountInString(x))
		if m, ok := s["minLength"].(float64); ok && n < m {
			v.fail(path, "%q is shorter than %v", x, m)
		}
		if m, ok := s["maxLength"].(float64); ok && n > m {
			v.fail(path, "%q is longer than %v", x, m)
		}
		if p, ok := s["pattern"].(string); ok {
			re, err := regexp.Compile(p)
			if err != nil {
				if v.skipped == nil {
					v.skipped = map[string]bool{}
				}
				v.skipped[p] = true
			} else if !re.MatchString(x) {
				v.fail(path, "%q does not match %s", x, p)
			}
		}
	}
}

func (v *validator) object(t *testing.T, doc, s map[string]any, path string, x map[string]any) {
	for _, r := range asSlice(s["required"]) {
		if _, ok := x[r.(string)]; !ok {
			v.fail(path, "%s is required", r)
		}
	}
	if n, ok := s["minProperties"].(float64); ok && float64(len(x)) < n {
		v.fail(path, "%d properties, at least %v", len(x), n)
	}
	if n, ok := s["maxProperties"].(float64); ok && float64(len(x)) > n {
		v.fail(path, "%d properties, at most %v", len(x), n)
	}
	props, _ := s["properties"].(map[string]any)
	pats, _ := s["patternProperties"].(map[string]any)
	for k, val := range x {
		matched := false
		if ps, ok := props[k].(map[string]any); ok {
			v.check(t, doc, ps, path+"."+k, val)
			matched = true
		}
		for p, ps := range pats {
			if re, err := regexp.Compile(p); err == nil && re.MatchString(k) {
				v.check(t, doc, ps.(map[string]any), path+"."+k, val)
				matched = true
			}
		}
		if matched {
			continue
		}
		switch ap := s["additionalProperties"].(type) {
		case bool:
			if !ap {
				v.fail(path, "unknown property %q", k)
			}
		case map[string]any:
			v.check(t, doc, ap, path+"."+k, val)
		}
	}
}

func list(v any) []map[string]any {
	var out []map[string]any
	for _, x := range asSlice(v) {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func typeOK(ty, x any) bool {
	if l, ok := ty.([]any); ok {
		return slices.ContainsFunc(l, func(t any) bool { return typeOK(t, x) })
	}
	switch ty {
	case "object":
		_, ok := x.(map[string]any)
		return ok
	case "array":
		_, ok := x.([]any)
		return ok
	case "string":
		_, ok := x.(string)
		return ok
	case "boolean":
		_, ok := x.(bool)
		return ok
	case "null":
		return x == nil
	case "number":
		_, ok := x.(float64)
		return ok
	case "integer":
		f, ok := x.(float64)
		return ok && f == math.Trunc(f)
	}
	return true
}
