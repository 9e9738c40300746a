package deploy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// evaluator evaluates the intrinsic functions whose value is known before
// a deploy: Ref of parameters and pseudo parameters, Fn::Sub, Fn::Join,
// Fn::Select, Fn::Split and Fn::FindInMap. Anything else (a resource's Ref
// or attribute, Fn::If, another import) is an error: the bot must know the
// graph before it deploys.
type evaluator struct {
	t         *template
	params    map[string]string // the values deployed (spec, else default)
	region    string
	accountID string
	stackName string
}

// errUnknown is wrapped by values known only at deploy time.
var errUnknown = errors.New("known only at deploy time")

func (ev *evaluator) pseudo(name string) (string, bool) {
	switch name {
	case "AWS::Region":
		return ev.region, true
	case "AWS::AccountId":
		return ev.accountID, true
	case "AWS::StackName":
		return ev.stackName, true
	case "AWS::Partition":
		switch {
		case strings.HasPrefix(ev.region, "cn-"):
			return "aws-cn", true
		case strings.HasPrefix(ev.region, "us-gov-"):
			return "aws-us-gov", true
		}
		return "aws", true
	case "AWS::URLSuffix":
		if strings.HasPrefix(ev.region, "cn-") {
			return "amazonaws.com.cn", true
		}
		return "amazonaws.com", true
	}
	return "", false
}

// ref evaluates Ref name.
func (ev *evaluator) ref(name string) (any, error) {
	if v, ok := ev.pseudo(name); ok {
		return v, nil
	}
	if strings.HasPrefix(name, "AWS::") {
		return nil, fmt.Errorf("Ref %s is %w", name, errUnknown)
	}
	if p, ok := ev.t.params[name]; ok {
		v, ok := ev.params[name]
		if !ok {
			return nil, fmt.Errorf("parameter %s has no value", name)
		}
		if p.isList {
			return splitList(v), nil
		}
		return v, nil
	}
	return nil, fmt.Errorf("Ref %s (a resource, not a parameter) is %w", name, errUnknown)
}

func splitList(v string) []any {
	var out []any
	for _, s := range strings.Split(v, ",") {
		out = append(out, s)
	}
	return out
}

// str evaluates n to a string.
func (ev *evaluator) str(n *yaml.Node) (string, error) {
	v, err := ev.eval(n)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("line %d: want a string, got a list", n.Line)
	}
	return s, nil
}

// eval evaluates n to a string or a []any.
func (ev *evaluator) eval(n *yaml.Node) (any, error) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if fn, arg, ok := intrinsic(n); ok {
		return ev.call(fn, arg)
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return n.Value, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := ev.eval(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("line %d: a mapping is not a value", n.Line)
}

// args returns the items of a sequence argument, checking their count.
func args(fn string, arg *yaml.Node, min, max int) ([]*yaml.Node, error) {
	if arg.Kind != yaml.SequenceNode || len(arg.Content) < min || len(arg.Content) > max {
		if min == max {
			return nil, fmt.Errorf("line %d: %s takes a list of %d items", arg.Line, fn, min)
		}
		return nil, fmt.Errorf("line %d: %s takes a list of %d to %d items", arg.Line, fn, min, max)
	}
	return arg.Content, nil
}

func (ev *evaluator) call(fn string, arg *yaml.Node) (any, error) {
	switch fn {
	case "Ref":
		return ev.ref(arg.Value)
	case "Fn::Sub":
		return ev.sub(arg)
	case "Fn::Join":
		a, err := args(fn, arg, 2, 2)
		if err != nil {
			return nil, err
		}
		list, err := ev.eval(a[1])
		if err != nil {
			return nil, err
		}
		items, ok := list.([]any)
		if !ok {
			return nil, fmt.Errorf("line %d: Fn::Join needs a list to join", arg.Line)
		}
		parts := make([]string, len(items))
		for i, it := range items {
			s, ok := it.(string)
			if !ok {
				return nil, fmt.Errorf("line %d: Fn::Join of a nested list", arg.Line)
			}
			parts[i] = s
		}
		return strings.Join(parts, a[0].Value), nil
	case "Fn::Select":
		a, err := args(fn, arg, 2, 2)
		if err != nil {
			return nil, err
		}
		is, err := ev.str(a[0])
		if err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(is)
		if err != nil {
			return nil, fmt.Errorf("line %d: Fn::Select index %q is not a number", arg.Line, is)
		}
		list, err := ev.eval(a[1])
		if err != nil {
			return nil, err
		}
		items, ok := list.([]any)
		if !ok || i < 0 || i >= len(items) {
			return nil, fmt.Errorf("line %d: Fn::Select index %d out of range", arg.Line, i)
		}
		return items[i], nil
	case "Fn::Split":
		a, err := args(fn, arg, 2, 2)
		if err != nil {
			return nil, err
		}
		s, err := ev.str(a[1])
		if err != nil {
			return nil, err
		}
		var out []any
		for _, p := range strings.Split(s, a[0].Value) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::FindInMap":
		a, err := args(fn, arg, 3, 4)
		if err != nil {
			return nil, err
		}
		keys := make([]string, 3)
		for i := range keys {
			if keys[i], err = ev.str(a[i]); err != nil {
				return nil, err
			}
		}
		v := get(get(get(get(ev.t.root, "Mappings"), keys[0]), keys[1]), keys[2])
		if v == nil {
			return nil, fmt.Errorf("line %d: Fn::FindInMap %s.%s.%s: no such entry in Mappings", arg.Line, keys[0], keys[1], keys[2])
		}
		return ev.eval(v)
	}
	return nil, fmt.Errorf("line %d: %s is %w", arg.Line, fn, errUnknown)
}

// sub evaluates Fn::Sub in its two forms.
func (ev *evaluator) sub(arg *yaml.Node) (any, error) {
	format := arg
	vars := map[string]string{}
	if arg.Kind == yaml.SequenceNode {
		if len(arg.Content) != 2 {
			return nil, fmt.Errorf("line %d: Fn::Sub takes a string or [string, {vars}]", arg.Line)
		}
		format = arg.Content[0]
		m := arg.Content[1]
		if m.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("line %d: Fn::Sub's variables must be a mapping", m.Line)
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			v, err := ev.str(m.Content[i+1])
			if err != nil {
				return nil, fmt.Errorf("Fn::Sub variable %s: %w", m.Content[i].Value, err)
			}
			vars[m.Content[i].Value] = v
		}
	}
	if format.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("line %d: Fn::Sub's format must be a string", format.Line)
	}
	s := format.Value
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
			return nil, fmt.Errorf("line %d: Fn::Sub: unclosed ${ in %q", format.Line, format.Value)
		}
		name := strings.TrimSpace(s[i+2 : i+j])
		s = s[i+j+1:]
		if strings.HasPrefix(name, "!") { // ${!Literal}
			b.WriteString("${" + name[1:] + "}")
			continue
		}
		if v, ok := vars[name]; ok {
			b.WriteString(v)
			continue
		}
		if strings.Contains(name, ".") {
			return nil, fmt.Errorf("line %d: Fn::Sub ${%s} (an attribute) is %w", format.Line, name, errUnknown)
		}
		v, err := ev.ref(name)
		if err != nil {
			return nil, fmt.Errorf("line %d: Fn::Sub ${%s}: %w", format.Line, name, err)
		}
		vs, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("line %d: Fn::Sub ${%s} is a list", format.Line, name)
		}
		b.WriteString(vs)
	}
	return b.String(), nil
}
