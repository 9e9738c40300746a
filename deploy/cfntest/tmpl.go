package cfntest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// parsedTemplate is what the simulator needs of a template.
type parsedTemplate struct {
	resources []resourceDecl
	params    map[string]*string // name -> default (nil: required)
	outputs   []outputDecl
	root      *yaml.Node
}

type resourceDecl struct {
	logicalID string
	typ       string
	props     string // canonical JSON of the properties, for diffs
}

type outputDecl struct {
	key, description string
	value, export    *yaml.Node
}

var shortTags = map[string]string{
	"!Ref": "Ref", "!Sub": "Fn::Sub", "!Join": "Fn::Join", "!GetAtt": "Fn::GetAtt", "!ImportValue": "Fn::ImportValue",
	"!Select": "Fn::Select", "!Split": "Fn::Split", "!FindInMap": "Fn::FindInMap", "!If": "Fn::If", "!Equals": "Fn::Equals",
	"!Base64": "Fn::Base64", "!GetAZs": "Fn::GetAZs", "!Cidr": "Fn::Cidr", "!Not": "Fn::Not", "!And": "Fn::And", "!Or": "Fn::Or",
	"!Condition": "Condition",
}

func parseTemplateBody(body string) (*parsedTemplate, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(body), &doc); err != nil {
		var v any
		if jerr := json.Unmarshal([]byte(body), &v); jerr != nil {
			return nil, fmt.Errorf("Template format error: unsupported structure")
		}
		var n yaml.Node
		if err := n.Encode(v); err != nil {
			return nil, err
		}
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{&n}}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("Template format error: unsupported structure")
	}
	root := doc.Content[0]
	res := field(root, "Resources")
	if res == nil || res.Kind != yaml.MappingNode || len(res.Content) == 0 {
		return nil, fmt.Errorf("Template format error: At least one Resources member must be defined.")
	}
	t := &parsedTemplate{params: map[string]*string{}, root: root}
	for i := 0; i+1 < len(res.Content); i += 2 {
		decl := res.Content[i+1]
		typ := field(decl, "Type")
		if typ == nil {
			return nil, fmt.Errorf("Template format error: [/Resources/%s] Every Resources object must contain a Type member.", res.Content[i].Value)
		}
		props, _ := json.Marshal(toValue(field(decl, "Properties")))
		t.resources = append(t.resources, resourceDecl{logicalID: res.Content[i].Value, typ: typ.Value, props: string(props)})
	}
	if ps := field(root, "Parameters"); ps != nil {
		for i := 0; i+1 < len(ps.Content); i += 2 {
			var def *string
			if d := field(ps.Content[i+1], "Default"); d != nil {
				v := d.Value
				def = &v
			}
			t.params[ps.Content[i].Value] = def
		}
	}
	if outs := field(root, "Outputs"); outs != nil {
		for i := 0; i+1 < len(outs.Content); i += 2 {
			o := outs.Content[i+1]
			od := outputDecl{key: outs.Content[i].Value, value: field(o, "Value"), export: field(field(o, "Export"), "Name")}
			if d := field(o, "Description"); d != nil {
				od.description = d.Value
			}
			t.outputs = append(t.outputs, od)
		}
	}
	return t, nil
}

func field(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// toValue turns a node into plain data, short tags into their long form.
func toValue(n *yaml.Node) any {
	if n == nil {
		return nil
	}
	if long, ok := shortTags[n.Tag]; ok {
		c := *n
		c.Tag = ""
		return map[string]any{long: toValue(&c)}
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = toValue(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		var l []any
		for _, c := range n.Content {
			l = append(l, toValue(c))
		}
		return l
	case yaml.AliasNode:
		return toValue(n.Alias)
	}
	return n.Value
}

// imports lists the export names a template imports, evaluated in env.
func (t *parsedTemplate) imports(ev *evalEnv) ([]string, error) {
	var out []string
	var walk func(v any) error
	walk = func(v any) error {
		switch x := v.(type) {
		case map[string]any:
			if arg, ok := x["Fn::ImportValue"]; ok && len(x) == 1 {
				name, err := ev.eval(arg)
				if err != nil {
					return err
				}
				out = append(out, fmt.Sprint(name))
				return nil
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if err := walk(x[k]); err != nil {
					return err
				}
			}
		case []any:
			for _, c := range x {
				if err := walk(c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return out, walk(toValue(t.root))
}

// evalEnv evaluates intrinsic functions at "deploy time".
type evalEnv struct {
	params    map[string]string
	physical  map[string]string // logical id -> physical id
	exports   func(name string) (string, bool)
	region    string
	account   string
	stackName string
	stackID   string
	root      *yaml.Node
}

func (ev *evalEnv) eval(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []any:
		out := make([]any, len(x))
		for i, c := range x {
			r, err := ev.eval(c)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		if len(x) != 1 {
			return nil, fmt.Errorf("Template format error: a mapping is not a value")
		}
		for fn, arg := range x {
			return ev.call(fn, arg)
		}
	}
	return fmt.Sprint(v), nil
}

func (ev *evalEnv) ref(name string) (string, error) {
	switch name {
	case "AWS::Region":
		return ev.region, nil
	case "AWS::AccountId":
		return ev.account, nil
	case "AWS::StackName":
		return ev.stackName, nil
	case "AWS::StackId":
		return ev.stackID, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	}
	if v, ok := ev.params[name]; ok {
		return v, nil
	}
	if v, ok := ev.physical[name]; ok {
		return v, nil
	}
	return "", fmt.Errorf("Template format error: Unresolved resource dependencies [%s] in the Resources block of the template", name)
}

func (ev *evalEnv) call(fn string, arg any) (any, error) {
	list := func() ([]any, error) {
		v, err := ev.eval(arg)
		if err != nil {
			return nil, err
		}
		l, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("Template error: %s takes a list", fn)
		}
		return l, nil
	}
	switch fn {
	case "Ref":
		return ev.ref(fmt.Sprint(arg))
	case "Fn::GetAtt":
		var parts []string
		switch a := arg.(type) {
		case string:
			parts = strings.SplitN(a, ".", 2)
		case []any:
			for _, p := range a {
				parts = append(parts, fmt.Sprint(p))
			}
		}
		if len(parts) != 2 {
			return nil, fmt.Errorf("Template error: bad Fn::GetAtt")
		}
		phys, err := ev.ref(parts[0])
		if err != nil {
			return nil, err
		}
		return phys + "." + parts[1], nil
	case "Fn::ImportValue":
		name, err := ev.eval(arg)
		if err != nil {
			return nil, err
		}
		v, ok := ev.exports(fmt.Sprint(name))
		if !ok {
			return nil, fmt.Errorf("No export named %s found.", name)
		}
		return v, nil
	case "Fn::Join":
		l, err := list()
		if err != nil || len(l) != 2 {
			return nil, fmt.Errorf("Template error: bad Fn::Join")
		}
		items, _ := l[1].([]any)
		parts := make([]string, len(items))
		for i, it := range items {
			parts[i] = fmt.Sprint(it)
		}
		return strings.Join(parts, fmt.Sprint(l[0])), nil
	case "Fn::Select":
		l, err := list()
		if err != nil || len(l) != 2 {
			return nil, fmt.Errorf("Template error: bad Fn::Select")
		}
		var i int
		fmt.Sscan(fmt.Sprint(l[0]), &i)
		items, _ := l[1].([]any)
		if i < 0 || i >= len(items) {
			return nil, fmt.Errorf("Template error: Fn::Select cannot select nonexistent value at index %d", i)
		}
		return items[i], nil
	case "Fn::Split":
		l, err := list()
		if err != nil || len(l) != 2 {
			return nil, fmt.Errorf("Template error: bad Fn::Split")
		}
		var out []any
		for _, p := range strings.Split(fmt.Sprint(l[1]), fmt.Sprint(l[0])) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::Sub":
		format, vars := arg, map[string]any{}
		if l, ok := arg.([]any); ok && len(l) == 2 {
			format = l[0]
			if m, ok := l[1].(map[string]any); ok {
				for k, v := range m {
					r, err := ev.eval(v)
					if err != nil {
						return nil, err
					}
					vars[k] = r
				}
			}
		}
		s := fmt.Sprint(format)
		var b strings.Builder
		for {
			i := strings.Index(s, "${")
			if i < 0 {
				b.WriteString(s)
				break
			}
			b.WriteString(s[:i])
			j := strings.IndexByte(s[i:], '}')
			if j < 0 {
				return nil, fmt.Errorf("Template error: unclosed ${ in Fn::Sub")
			}
			name := s[i+2 : i+j]
			s = s[i+j+1:]
			switch {
			case strings.HasPrefix(name, "!"):
				b.WriteString("${" + name[1:] + "}")
			case vars[name] != nil:
				b.WriteString(fmt.Sprint(vars[name]))
			case strings.Contains(name, "."):
				r, err := ev.call("Fn::GetAtt", name)
				if err != nil {
					return nil, err
				}
				b.WriteString(fmt.Sprint(r))
			default:
				r, err := ev.ref(name)
				if err != nil {
					return nil, err
				}
				b.WriteString(r)
			}
		}
		return b.String(), nil
	case "Fn::FindInMap":
		l, err := list()
		if err != nil || len(l) < 3 {
			return nil, fmt.Errorf("Template error: bad Fn::FindInMap")
		}
		v := field(field(field(field(ev.root, "Mappings"), fmt.Sprint(l[0])), fmt.Sprint(l[1])), fmt.Sprint(l[2]))
		if v == nil {
			return nil, fmt.Errorf("Template error: Unable to get mapping for %v::%v::%v", l[0], l[1], l[2])
		}
		return ev.eval(toValue(v))
	}
	return nil, fmt.Errorf("Template error: cfntest does not evaluate %s", fn)
}
