package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// template is a CloudFormation template read for analysis. The body sent
// to CloudFormation is the file as it is.
type template struct {
	path   string
	body   []byte
	root   *yaml.Node // the top-level mapping
	params map[string]templateParam
	order  []string // parameter names in file order
}

type templateParam struct {
	typ        string
	def        *string
	line       int
	isList     bool
	hasDefault bool
}

// shortTags maps the YAML short forms to their long names.
var shortTags = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition",
	"!Base64": "Fn::Base64", "!Cidr": "Fn::Cidr", "!FindInMap": "Fn::FindInMap", "!GetAtt": "Fn::GetAtt",
	"!GetAZs": "Fn::GetAZs", "!ImportValue": "Fn::ImportValue", "!Join": "Fn::Join", "!Select": "Fn::Select",
	"!Split": "Fn::Split", "!Sub": "Fn::Sub", "!Transform": "Fn::Transform", "!And": "Fn::And",
	"!Equals": "Fn::Equals", "!If": "Fn::If", "!Not": "Fn::Not", "!Or": "Fn::Or", "!ToJsonString": "Fn::ToJsonString",
	"!Length": "Fn::Length", "!ForEach": "Fn::ForEach",
}

// parseTemplate reads a YAML or JSON template. Errors are *SpecError
// naming the template file.
func parseTemplate(path string, body []byte) (*template, error) {
	fail := func(line int, format string, args ...any) error {
		return &SpecError{File: path, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, fail(0, "the template is empty")
	}
	var doc yaml.Node
	yerr := yaml.Unmarshal(body, &doc)
	if trimmed[0] == '{' {
		// JSON: report JSON's own errors, and read it through encoding/json
		// if YAML cannot (tabs, for one).
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			line := 0
			var se *json.SyntaxError
			if errors.As(err, &se) {
				line = 1 + bytes.Count(body[:se.Offset], []byte("\n"))
			}
			return nil, fail(line, "not valid JSON: %v", err)
		}
		if yerr != nil {
			doc = yaml.Node{}
			var n yaml.Node
			if err := n.Encode(v); err != nil {
				return nil, fail(0, "cannot read the JSON template: %v", err)
			}
			doc.Kind = yaml.DocumentNode
			doc.Content = []*yaml.Node{&n}
			yerr = nil
		}
	}
	if yerr != nil {
		se := yamlError(path, yerr).(*SpecError)
		se.Msg = strings.Replace(se.Msg, "not valid YAML", "not a valid YAML or JSON template", 1)
		return nil, se
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fail(1, "not a CloudFormation template: the top level must be a mapping")
	}
	t := &template{path: path, body: body, root: doc.Content[0], params: map[string]templateParam{}}
	if get(t.root, "Resources") == nil {
		return nil, fail(1, "not a CloudFormation template: it has no Resources section")
	}
	if ps := get(t.root, "Parameters"); ps != nil {
		if ps.Kind != yaml.MappingNode {
			return nil, fail(ps.Line, "Parameters must be a mapping")
		}
		for i := 0; i+1 < len(ps.Content); i += 2 {
			name, decl := ps.Content[i].Value, ps.Content[i+1]
			p := templateParam{line: ps.Content[i].Line}
			if typ := get(decl, "Type"); typ != nil {
				p.typ = typ.Value
			}
			p.isList = p.typ == "CommaDelimitedList" || strings.HasPrefix(p.typ, "List<")
			if d := get(decl, "Default"); d != nil {
				v := d.Value
				if d.Kind == yaml.SequenceNode { // not CloudFormation's form, but seen
					var parts []string
					for _, c := range d.Content {
						parts = append(parts, c.Value)
					}
					v = strings.Join(parts, ",")
				}
				p.def, p.hasDefault = &v, true
			}
			t.params[name] = p
			t.order = append(t.order, name)
		}
	}
	return t, nil
}

// get returns the value of key in mapping n, nil if none.
func get(n *yaml.Node, key string) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := n.Content[i+1]
			if v.Kind == yaml.AliasNode {
				v = v.Alias
			}
			return v
		}
	}
	return nil
}

// intrinsic recognises a function call: a short tag (!Sub ...) or a
// one-key mapping (Fn::Sub: ..., Ref: ...). arg is the argument node.
func intrinsic(n *yaml.Node) (fn string, arg *yaml.Node, ok bool) {
	if n == nil {
		return "", nil, false
	}
	if long, ok := shortTags[n.Tag]; ok {
		c := *n
		c.Tag = ""
		c.Style &^= yaml.TaggedStyle
		return long, &c, true
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		k := n.Content[0].Value
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			v := n.Content[1]
			if v.Kind == yaml.AliasNode {
				v = v.Alias
			}
			return k, v, true
		}
	}
	return "", nil, false
}

// export is an export a template declares.
type export struct {
	name   string
	output string
	line   int
}

// importRef is an Fn::ImportValue found in a template.
type importRef struct {
	name string
	line int
}

// exports evaluates the export names of the template's outputs.
func (t *template) exports(ev *evaluator) ([]export, error) {
	outs := get(t.root, "Outputs")
	if outs == nil || outs.Kind != yaml.MappingNode {
		return nil, nil
	}
	var out []export
	var errs []error
	for i := 0; i+1 < len(outs.Content); i += 2 {
		name := get(get(outs.Content[i+1], "Export"), "Name")
		if name == nil {
			continue
		}
		v, err := ev.str(name)
		if err != nil {
			errs = append(errs, &SpecError{File: t.path, Line: name.Line, Field: "Outputs." + outs.Content[i].Value + ".Export.Name", Msg: "cannot be evaluated before deploying: " + err.Error()})
			continue
		}
		out = append(out, export{name: v, output: outs.Content[i].Value, line: name.Line})
	}
	return out, errors.Join(errs...)
}

// imports finds and evaluates every Fn::ImportValue of the template.
func (t *template) imports(ev *evaluator) ([]importRef, error) {
	var out []importRef
	var errs []error
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil {
			return
		}
		if fn, arg, ok := intrinsic(n); ok && fn == "Fn::ImportValue" {
			v, err := ev.str(arg)
			if err != nil {
				errs = append(errs, &SpecError{File: t.path, Line: n.Line, Field: "Fn::ImportValue", Msg: "cannot be evaluated before deploying: " + err.Error()})
				return
			}
			out = append(out, importRef{name: v, line: n.Line})
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(t.root)
	return out, errors.Join(errs...)
}
