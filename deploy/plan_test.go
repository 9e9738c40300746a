package deploy

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func readTestdata(t *testing.T, name string) *fstest.MapFile {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return &fstest.MapFile{Data: b}
}

func goodRepo(t *testing.T) fstest.MapFS {
	return fstest.MapFS{
		SpecFile:                  {Data: []byte(goodSpec)},
		"stacks/network.yml":      readTestdata(t, "network.yml"),
		"stacks/app.json":         readTestdata(t, "app.json"),
		"params/dev/app.json":     {Data: []byte(`[{"ParameterKey": "Env", "ParameterValue": "{env}"}]`)},
		"params/prod/app.json":    {Data: []byte(`{"Env": "prod"}`)},
		"inventories/dev/hosts":   {Data: []byte("app ansible_host=127.0.0.1\n")},
		"site.yml":                {Data: []byte("- hosts: all\n")},
		"unrelated/readme.md":     {Data: []byte("hi")},
		"stacks/not-template.yml": {Data: []byte("Resources: [\n")},
	}
}

func mustPlan(t *testing.T, files fstest.MapFS, env string) *Plan {
	t.Helper()
	spec, err := ParseSpec(SpecFile, files[SpecFile].Data)
	if err != nil {
		t.Fatal(err)
	}
	p, err := BuildPlan(files, spec, Target{Env: env, Region: "eu-west-1", AccountID: "111111111111"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBuildPlan(t *testing.T) {
	p := mustPlan(t, goodRepo(t), "dev")
	var got []string
	for _, s := range p.Stacks {
		got = append(got, s.ID+"="+s.Name+" after "+strings.Join(s.After, ","))
	}
	want := []string{"network=dev-network after ", "app=dev-app after network"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stacks (-want +got):\n%s", diff)
	}
	net, app := p.Stacks[0], p.Stacks[1]
	if diff := cmp.Diff([]string{"dev-network-VpcId", "dev-network:region"}, net.Exports); diff != "" {
		t.Errorf("exports (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"dev-app-SgId"}, app.Exports); diff != "" {
		t.Errorf("app exports (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"Env": "dev"}, app.Parameters); diff != "" {
		t.Errorf("app parameters (-want +got):\n%s", diff)
	}
	if app.Why["network"] != "imports dev-network-VpcId" {
		t.Errorf("why: %v", app.Why)
	}
	if len(p.External) != 0 {
		t.Errorf("external imports: %v", p.External)
	}
	if c := p.Commands[0]; !cmp.Equal(c.AfterStacks, []string{"app"}) || c.Argv[2] != "inventories/dev" {
		t.Errorf("command: %+v", c)
	}
	// stg: the app stack is filtered out; prod takes the per-env parameter.
	if p := mustPlan(t, goodRepo(t), "stg"); len(p.Stacks) != 1 || len(p.Commands[0].AfterStacks) != 0 {
		t.Errorf("stg plan: %d stacks, command after %v", len(p.Stacks), p.Commands[0].AfterStacks)
	}
	prod := mustPlan(t, goodRepo(t), "prod")
	if got := prod.Stacks[0].Parameters["VpcCidr"]; got != "10.1.0.0/16" {
		t.Errorf("prod VpcCidr = %q", got)
	}
	if prod.Stacks[0].Digest == net.Digest {
		t.Error("prod and dev network digests are equal")
	}
}

func TestBuildPlanShortTags(t *testing.T) {
	files := fstest.MapFS{
		SpecFile: {Data: []byte("stacks:\n  a: {name: a, template: a.yml}\n  b: {name: b, template: b.yml}\n")},
		"a.yml": {Data: []byte(`Parameters:
  Prefix: {Type: String, Default: acme}
  Zones: {Type: CommaDelimitedList, Default: "a,b,c"}
Mappings:
  Names: {eu-west-1: {Short: euw1}}
Resources: {R: {Type: AWS::SNS::Topic}}
Outputs:
  O1: {Value: x, Export: {Name: !Sub "${Prefix}-${AWS::AccountId}-${!Literal}"}}
  O2: {Value: x, Export: {Name: !Join ["-", [!Ref Prefix, !Select [1, !Ref Zones], !FindInMap [Names, !Ref "AWS::Region", Short]]]}}
  O3: {Value: x, Export: {Name: !Sub ["${P}-${AWS::Partition}", {P: !Ref Prefix}]}}
`)},
		"b.yml": {Data: []byte(`Resources:
  R:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Join
        - ","
        - - Fn::ImportValue: !Sub "acme-${AWS::AccountId}-${!Literal}"
          - !ImportValue acme-b-euw1
          - {"Fn::ImportValue": "acme-aws"}
          - !ImportValue elsewhere
`)},
	}
	p := mustPlan(t, files, "dev")
	if diff := cmp.Diff([]string{"acme-111111111111-${Literal}", "acme-b-euw1", "acme-aws"}, p.Stacks[0].Exports); diff != "" {
		t.Errorf("exports (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{"elsewhere": {"b"}}, p.External); diff != "" {
		t.Errorf("external (-want +got):\n%s", diff)
	}
	if got := p.Stacks[1].After; !cmp.Equal(got, []string{"a"}) {
		t.Errorf("b after %v", got)
	}
}

func TestBuildPlanErrors(t *testing.T) {
	tmpl := func(exports, imports string) []byte {
		s := "Resources:\n  R:\n    Type: AWS::SNS::Topic\n"
		if imports != "" {
			s += "    Properties: {TopicName: " + imports + "}\n"
		}
		if exports != "" {
			s += "Outputs:\n  O: {Value: x, Export: {Name: " + exports + "}}\n"
		}
		return []byte(s)
	}
	for _, tc := range []struct {
		name  string
		files fstest.MapFS
		env   string
		want  []string
	}{
		{"not a template", fstest.MapFS{
			SpecFile: {Data: []byte("stacks:\n  a: {name: a, template: a.yml}\n")},
			"a.yml":  {Data: []byte("Resources:\n  R: [\n")},
		}, "dev", []string{"a.yml:2: not a valid YAML or JSON template"}},
		{"bad json", fstest.MapFS{
			SpecFile: {Data: []byte("stacks:\n  a: {name: a, template: a.json}\n")},
			"a.json": {Data: []byte("{\n\"Resources\": {},\n}\n")},
		}, "dev", []string{"a.json:3: not valid JSON"}},
		{"no resources", fstest.MapFS{
			SpecFile: {Data: []byte("stacks:\n  a: {name: a, template: a.yml}\n")},
			"a.yml":  {Data: []byte("Outputs: {}\n")},
		}, "dev", []string{"a.yml:1: not a CloudFormation template"}},
		{"missing template", fstest.MapFS{
			SpecFile: {Data: []byte("stacks:\n  a: {name: a, template: a.yml}\n")},
		}, "dev", []string{"code-releaser.yml:2: stacks.a.template: a.yml: no such file in the commit"}},
		{"cycle", fstest.MapFS{
			SpecFile: {Data: []byte("stacks:\n  a: {name: a, template: a.yml}\n  b: {name: b, template: b.yml}\n  c: {name: c, template: c.yml, depends_on: [b]}\n")},
			"a.yml":  {Data: tmpl("ea", "!ImportValue eb")},
			"b.yml":  {Data: tmpl("eb", "!ImportValue ea")},
			"c.yml":  {Data: tmpl("", "")},
		}, "dev", []string{"dependency cycle between stacks: a needs b (imports eb); b needs a (imports ea)"}},
		{"duplicate export", fstest.MapFS{
			SpecFile: {Data: []byte("stacks:\n  a: {name: a, template: a.yml}\n  b: {name: b, template: b.yml}\n")},
			"a.yml":  {Data: tmpl("same", "")},
			"b.yml":  {Data: tmpl("same", "")},
		}, "dev", []string{`b.yml:5: Outputs.O.Export.Name: export "same" is also exported by stack a (a.yml:5)`}},
		{"unresolvable import", fstest.MapFS{
			SpecFile: {Data: []byte("stacks:\n  a: {name: a, template: a.yml}\n")},
			"a.yml":  {Data: tmpl("", "!ImportValue {\"Fn::GetAtt\": [R, Arn]}")},
		}, "dev", []string{"a.yml:4: Fn::ImportValue: cannot be evaluated before deploying", "Fn::GetAtt is known only at deploy time"}},
		{"unresolvable export", fstest.MapFS{
			SpecFile: {Data: []byte("stacks:\n  a: {name: a, template: a.yml}\n")},
			"a.yml":  {Data: tmpl("!Sub '${R}-x'", "")},
		}, "dev", []string{"a.yml:5: Outputs.O.Export.Name: cannot be evaluated", "Ref R (a resource, not a parameter)"}},
		{"parameter file missing for env", fstest.MapFS{
			SpecFile:     {Data: []byte("stacks:\n  a: {name: a, template: a.yml, parameter_file: \"p/{env}.json\"}\n")},
			"a.yml":      {Data: tmpl("", "")},
			"p/dev.json": {Data: []byte("{}")},
		}, "stg", []string{"code-releaser.yml:2: stacks.a.parameter_file: p/stg.json (for env stg): no such file in the commit"}},
		{"stack name for env", fstest.MapFS{
			SpecFile: {Data: []byte("stacks:\n  a: {name: \"{env}-" + strings.Repeat("x", 122) + "\", template: a.yml}\n")},
			"a.yml":  {Data: tmpl("", "")},
		}, "staging", []string{"code-releaser.yml:2: stacks.a.name: for env staging: stack name", "longer than 128"}},
		{"parameters", fstest.MapFS{
			SpecFile: {Data: []byte("stacks:\n  a: {name: a, template: a.yml, parameters: {Nope: 1}}\n")},
			"a.yml":  {Data: []byte("Parameters: {Need: {Type: String}}\nResources: {R: {Type: AWS::SNS::Topic}}\n")},
		}, "dev", []string{"stacks.a.parameters: Nope is not a parameter of a.yml", "a.yml needs a value for Need in env dev"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := ParseSpec(SpecFile, tc.files[SpecFile].Data)
			if err != nil {
				t.Fatal(err)
			}
			_, err = BuildPlan(tc.files, spec, Target{Env: tc.env, Region: "eu-west-1", AccountID: "111111111111"})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}
