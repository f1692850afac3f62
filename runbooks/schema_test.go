package runbooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/repli-dr/repli/runbooks/examples"
)

// compiledSchema compiles Schema with a draft-07 validator, which also
// checks the schema against the draft-07 meta-schema.
func compiledSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatalf("the schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("runbook.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("runbook.schema.json")
	if err != nil {
		t.Fatalf("the schema is not a valid JSON Schema: %v", err)
	}
	return sch
}

// yamlToJSON turns a YAML document into the JSON value an editor's
// yaml-language-server validates: mappings become objects, scalars take
// their resolved YAML type.
func yamlToJSON(t *testing.T, src []byte) any {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatalf("not YAML: %v", err)
	}
	var conv func(n *yaml.Node) any
	conv = func(n *yaml.Node) any {
		switch n.Kind {
		case yaml.DocumentNode:
			return conv(n.Content[0])
		case yaml.AliasNode:
			return conv(n.Alias)
		case yaml.MappingNode:
			m := map[string]any{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				m[n.Content[i].Value] = conv(n.Content[i+1])
			}
			return m
		case yaml.SequenceNode:
			l := []any{}
			for _, c := range n.Content {
				l = append(l, conv(c))
			}
			return l
		}
		switch n.Tag {
		case "!!null":
			return nil
		case "!!bool":
			return n.Value == "true"
		case "!!int", "!!float":
			return json.Number(n.Value)
		}
		return n.Value
	}
	return conv(&doc)
}

func TestSchemaIsDraft07(t *testing.T) {
	t.Parallel()
	var doc map[string]any
	if err := json.Unmarshal(Schema(), &doc); err != nil {
		t.Fatalf("the schema is not JSON: %v", err)
	}
	if doc["$schema"] != "http://json-schema.org/draft-07/schema#" {
		t.Errorf("$schema is %v", doc["$schema"])
	}
	compiledSchema(t)
}

// TestSchemaKeysAreTheParsersKeys keeps the schema and the parser on the
// same language: every documented key is one the parser reads (Schema
// itself panics on a key the parser reads and the schema does not know).
func TestSchemaKeysAreTheParsersKeys(t *testing.T) {
	t.Parallel()
	lists := map[string][]string{
		"runbook": runbookKeys, "site": siteKeys, "step": stepKeys(), "origin": originKeys, "*": targetKeys,
		// A copy's volumes are mappings of their own.
		"volume": volumeKeys,
	}
	docs := map[string]any{}
	for k, d := range keyDocs {
		docs[k] = d
	}
	for _, k := range Kinds {
		sp := SpecOf(k)
		if sp.Keys != nil {
			lists[string(k)] = sp.Keys
		}
		docs["step."+string(k)], _ = sp.Schema()
		for key, d := range sp.Docs {
			if _, dup := docs[key]; dup {
				t.Errorf("kind %s documents %s, which is documented already", k, key)
			}
			docs[key] = d
		}
	}
	// Power kinds take a plain target: their keys are the shared ones.
	lists["target"] = targetKeys
	for k := range docs {
		where, key, _ := strings.Cut(k, ".")
		if !contains(lists[where], key) {
			t.Errorf("the schema documents %s, which the parser does not read", k)
		}
	}
	for where, keys := range lists {
		for _, key := range keys {
			_, own := docs[where+"."+key]
			_, shared := docs["*."+key]
			if !own && !shared {
				t.Errorf("the parser reads %s key %q, which the schema does not document", where, key)
			}
		}
	}
}

// TestSchemaDescribesEveryKey: an editor shows the description when the key
// is hovered or completed, so no key may go without one.
func TestSchemaDescribesEveryKey(t *testing.T) {
	t.Parallel()
	var doc map[string]any
	if err := json.Unmarshal(Schema(), &doc); err != nil {
		t.Fatal(err)
	}
	defs := doc["definitions"].(map[string]any)
	described := func(s any) bool {
		m, ok := s.(map[string]any)
		if !ok {
			return false
		}
		if d, ok := m["description"].(string); ok && d != "" {
			return true
		}
		if r, ok := m["$ref"].(string); ok {
			target, _ := defs[strings.TrimPrefix(r, "#/definitions/")].(map[string]any)
			d, _ := target["description"].(string)
			return d != ""
		}
		return false
	}
	count := 0
	var walk func(path string, s any)
	walk = func(path string, s any) {
		switch v := s.(type) {
		case map[string]any:
			if p, ok := v["properties"].(map[string]any); ok && v["type"] == "object" {
				for k, ps := range p {
					count++
					if !described(ps) {
						t.Errorf("%s.%s has no description", path, k)
					}
				}
			}
			for k, c := range v {
				walk(path+"/"+k, c)
			}
		case []any:
			for i, c := range v {
				walk(fmt.Sprintf("%s/%d", path, i), c)
			}
		}
	}
	walk("#", doc)
	if count < 60 {
		t.Errorf("only %d keys found in the schema", count)
	}
}

// goodRunbooks is every bundled runbook and every file of the good corpus.
func goodRunbooks(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, name := range examples.Names() {
		file, src, err := examples.Source(name)
		if err != nil {
			t.Fatal(err)
		}
		out[file] = src
	}
	files, _ := filepath.Glob("../testdata/runbooks/good/*.yaml")
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = src
	}
	if len(out) < 8 {
		t.Fatalf("only %d good runbooks", len(out))
	}
	return out
}

func TestSchemaAcceptsEveryGoodRunbook(t *testing.T) {
	t.Parallel()
	sch := compiledSchema(t)
	for file, src := range goodRunbooks(t) {
		if rb, diags := Parse(file, src); rb == nil {
			t.Fatalf("%s is not a good runbook:\n%v", file, diags)
		}
		if err := sch.Validate(yamlToJSON(t, src)); err != nil {
			t.Errorf("the schema refuses %s, which repli accepts:\n%v", file, err)
		}
	}
}

// TestSchemaRejectsBadRunbooks: each runbook is refused by the parser and by
// the schema, so that an editor flags the mistake as it is typed.
func TestSchemaRejectsBadRunbooks(t *testing.T) {
	t.Parallel()
	sch := compiledSchema(t)
	const head = "version: 1\nname: bad\nsites:\n  primary: {uri: sim://primary}\n  secondary: {uri: sim://secondary}\nsteps:\n"
	tests := []struct{ name, src string }{
		{"unknown top-level key", "version: 1\nname: bad\nowner: me\nsites:\n  primary: {uri: sim://p}\nsteps:\n  - {id: a, manual: hi}\n"},
		{"unknown step key", head + "  - id: a\n    titel: A\n    manual: hi\n"},
		{"unknown key in a kind", head + "  - id: a\n    shutdown: {site: primary, domains: [db-01], timout: 2m}\n"},
		{"two kinds", head + "  - id: a\n    shutdown: {site: primary, domains: [db-01]}\n    start: {site: primary, domains: [db-01]}\n"},
		{"no kind", head + "  - id: a\n    title: does nothing\n"},
		{"no id", head + "  - manual: hi\n"},
		{"missing version", "name: bad\nsites:\n  primary: {uri: sim://p}\nsteps:\n  - {id: a, manual: hi}\n"},
		{"version 2", "version: 2\nname: bad\nsites:\n  primary: {uri: sim://p}\nsteps:\n  - {id: a, manual: hi}\n"},
		{"name with capitals", "version: 1\nname: Bad Name\nsites:\n  primary: {uri: sim://p}\nsteps:\n  - {id: a, manual: hi}\n"},
		{"steps not a list", "version: 1\nname: bad\nsites:\n  primary: {uri: sim://p}\nsteps: {a: b}\n"},
		{"sites list of mappings", "version: 1\nname: bad\nsites: [{uri: sim://p}]\nsteps:\n  - {id: a, manual: hi}\n"},
		{"sites list with a duplicate", "version: 1\nname: bad\nsites: [primary, primary]\nsteps:\n  - {id: a, manual: hi}\n"},
		{"sites list empty", "version: 1\nname: bad\nsites: []\nsteps:\n  - {id: a, manual: hi}\n"},
		{"site with uri and uris", "version: 1\nname: bad\nsites:\n  primary: {uri: a, uris: [b]}\nsteps:\n  - {id: a, manual: hi}\n"},
		{"max_per_host zero", "version: 1\nname: bad\nsites:\n  primary: {uri: a, max_per_host: 0}\nsteps:\n  - {id: a, manual: hi}\n"},
		{"max_per_host text", "version: 1\nname: bad\nsites:\n  primary: {uris: [a, b], max_per_host: many}\nsteps:\n  - {id: a, manual: hi}\n"},
		{"bad role", "version: 1\nname: bad\nsites:\n  primary: {uri: a, role: main}\nsteps:\n  - {id: a, manual: hi}\n"},
		{"force is not a boolean", head + "  - id: a\n    shutdown: {site: primary, domains: [db-01], force: yes please}\n"},
		{"retries is text", head + "  - id: a\n    retries: many\n    manual: hi\n"},
		{"approvers out of range", head + "  - id: a\n    gate: confirm\n    approvers: 9\n    manual: hi\n"},
		{"approvers without a gate", head + "  - id: a\n    approvers: 2\n    manual: hi\n"},
		{"unknown gate", head + "  - id: a\n    gate: maybe\n    manual: hi\n"},
		{"unknown mode", head + "  - id: a\n    modes: [tset]\n    manual: hi\n"},
		{"bad duration", head + "  - id: a\n    wait: 5 minutes\n"},
		{"domains as one name", head + "  - id: a\n    destroy: {site: primary, domains: db-01}\n"},
		{"domains empty", head + "  - id: a\n    destroy: {site: primary, domains: []}\n"},
		{"domains twice", head + "  - id: a\n    destroy: {site: primary, domains: [db-01, db-01]}\n"},
		{"target without site", head + "  - id: a\n    destroy: {domains: [db-01]}\n"},
		{"check with two probes", head + "  - id: a\n    check: {site: primary, domains: [db-01], state: running, tcp: 'db:5432'}\n"},
		{"check with no probe", head + "  - id: a\n    check: {site: primary, domains: [db-01]}\n"},
		{"check unknown state", head + "  - id: a\n    check: {site: primary, domains: [db-01], state: runing}\n"},
		{"agent false", head + "  - id: a\n    check: {site: primary, domains: [db-01], agent: false}\n"},
		{"tcp without port", head + "  - id: a\n    check: {tcp: db.example}\n"},
		{"tcp with domains", head + "  - id: a\n    check: {tcp: 'db:5432', site: primary, domains: [db-01]}\n"},
		{"file without max_age", head + "  - id: a\n    check: {file: /srv/dump}\n"},
		{"command string without shell", head + "  - id: a\n    exec: {command: pg_restore dump.sql}\n"},
		{"shell with several arguments", head + "  - id: a\n    exec: {command: [echo, hi], shell: true}\n"},
		{"exec without command", head + "  - id: a\n    exec: {dir: /tmp}\n"},
		{"bad env name", head + "  - id: a\n    exec: {command: [env], env: {1X: y}}\n"},
		{"start with groups and domains", head + "  - id: a\n    start: {site: secondary, groups: [[a]], domains: [b]}\n"},
		{"start with neither", head + "  - id: a\n    start: {site: secondary}\n"},
		{"start wait unknown", head + "  - id: a\n    start: {site: secondary, domains: [a], wait: ping}\n"},
		{"max_parallel zero", head + "  - id: a\n    start: {site: secondary, domains: [a], max_parallel: 0}\n"},
		{"define with xml and copy_from", head + "  - id: a\n    define: {site: secondary, xml: a.xml, copy_from: primary, domains: [a]}\n"},
		{"define with neither", head + "  - id: a\n    define: {site: secondary}\n"},
		{"copy_from without domains", head + "  - id: a\n    define: {site: secondary, copy_from: primary}\n"},
		{"snapshot without name", head + "  - id: a\n    snapshot: {site: primary, domains: [a]}\n"},
		{"snapshot unknown action", head + "  - id: a\n    snapshot: {site: primary, domains: [a], name: s, action: restore}\n"},
		{"autostart without enabled", head + "  - id: a\n    autostart: {site: primary, domains: [a]}\n"},
		{"wait with duration and until", head + "  - id: a\n    wait: {duration: 1m, until: {tcp: 'db:5432'}}\n"},
		{"wait with nothing", head + "  - id: a\n    wait: {timeout: 1m}\n"},
		{"checklist on a check", head + "  - id: a\n    checklist: [x]\n    check: {tcp: 'db:5432'}\n"},
		{"empty manual", head + "  - id: a\n    manual: ''\n"},
		{"text over 64 KiB", head + "  - id: a\n    manual: hi\n    description: " + strings.Repeat("x", 70000) + "\n"},
		{"var refers to a var", "version: 1\nname: bad\nvars:\n  a: x\n  b: ${a}-y\nsites:\n  primary: {uri: sim://p}\nsteps:\n  - {id: a, manual: hi}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if rb, diags := Parse("bad.yaml", []byte(tt.src)); rb != nil {
				t.Fatalf("the parser accepts it (diagnostics: %v); the test is wrong", diags)
			}
			if err := sch.Validate(yamlToJSON(t, []byte(tt.src))); err == nil {
				t.Errorf("the schema accepts a runbook repli refuses:\n%s", tt.src)
			}
		})
	}
}

// TestSchemaFileIsCurrent: runbooks/runbook.schema.json, the file editors
// point at, is what repli schema prints (refresh it with repli schema >
// runbooks/runbook.schema.json).
func TestSchemaFileIsCurrent(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("runbook.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(b)) != strings.TrimSpace(string(Schema())) {
		t.Fatal("runbooks/runbook.schema.json is out of date: run repli schema > runbooks/runbook.schema.json")
	}
}
