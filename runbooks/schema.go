package runbooks

import (
	"encoding/json"
	"fmt"
	"strings"
)

// SchemaDraft is the JSON Schema dialect of Schema: draft-07, the one that
// yaml-language-server (VS Code, Neovim, Helix…) and the JetBrains IDEs
// support best.
const SchemaDraft = "http://json-schema.org/draft-07/schema#"

// Schema returns a JSON Schema of the runbook format, for editors: with it,
// yaml-language-server completes keys, shows their documentation and flags
// most mistakes while the runbook is typed.
//
// The schema is built from the key lists and constants the parser uses, so
// it cannot drift from the language: a key the parser knows and the schema
// does not describe makes Schema panic, which its tests catch.
//
// It is an aid, not the authority: some rules need the whole runbook (site
// references, var types, duplicate ids, the RTO marks), and repli validate
// remains the judge. The schema is stricter in a few corners only: shell or
// max_age on a check that does not use them (the parser ignores them), and
// ids or enum values written as numbers.
func Schema() []byte {
	out, err := json.MarshalIndent(schemaDoc(), "", "  ")
	if err != nil {
		panic(fmt.Sprintf("runbooks: marshal the schema: %v", err))
	}
	return append(out, '\n')
}

type obj = map[string]any

func ref(name string) obj { return obj{"$ref": "#/definitions/" + name} }

// described documents a use of a definition. Draft-07 ignores the siblings
// of $ref, so the reference goes inside allOf, where editors still show the
// description.
func described(desc, name string) obj {
	return obj{"description": desc, "allOf": []any{ref(name)}}
}

func strs[T ~string](list []T) []any {
	out := make([]any, len(list))
	for i, v := range list {
		out[i] = string(v)
	}
	return out
}

// withVar lets a value be written as text that holds a ${var}: the parser
// substitutes vars before it checks the value.
func withVar(s obj, desc string) obj {
	return obj{"description": desc, "anyOf": []any{s, ref("var_text")}}
}

func enumOf(desc string, values []any) obj {
	return withVar(obj{"type": "string", "enum": values}, desc)
}

// forbidden is the schema no value satisfies: as a property's schema, the
// key must be absent, and editors say "Property tcp is not allowed" at the
// key (a {"not": {}} would only say "Matches a schema that is not allowed").
const forbidden = false

// exactlyOne requires exactly one of the branches, on mappings only: a
// value of the wrong type already fails "type", and oneOf over required
// keys would add "matches multiple schemas" to that error.
func exactlyOne(branches ...any) obj {
	return obj{"if": obj{"type": "object"}, "then": obj{"oneOf": branches}}
}

// keyDocs describes every key of the language, by where it appears
// (runbook, site, step, check, shutdown, …); "*" entries are shared by the
// step kinds that target domains.
var keyDocs = map[string]obj{
	"runbook.version":     {"description": "Runbook format version: always 1.", "enum": []any{1, "1"}},
	"runbook.name":        {"description": "Short name of the runbook, recorded with every run: lowercase letters, digits, '-', '_' or '.'.", "type": "string", "pattern": idPattern.String()},
	"runbook.title":       described("One line that says what the runbook is for, shown at the top of the console.", "text"),
	"runbook.description": described("Longer explanation: when to run it, in which mode, what to set with --var.", "text"),
	"runbook.rto":         withVar(ref("duration"), "Recovery time objective: the time allowed between the step marked rto: start and the one marked rto: stop, e.g. 4h."),
	"runbook.rpo":         withVar(ref("duration"), "Recovery point objective: how much recent data may be lost, e.g. 15m. Recorded with the run."),
	"runbook.reverse_of":  ref("origin"),
	"runbook.vars":        ref("vars"),
	"runbook.sites":       ref("sites"),
	"runbook.steps":       ref("steps"),

	"origin.name":   {"description": "Name of the forward runbook.", "type": "string", "pattern": idPattern.String()},
	"origin.sha256": {"description": "SHA-256 of the forward runbook's text, as its runs record it (64 lowercase hex digits).", "type": "string", "pattern": sha256Hex.String()},

	"site.uri":          described("libvirt URI of the site's hypervisor, e.g. qemu+ssh://kvm1.example/system.", "text"),
	"site.uris":         described("libvirt URIs of the site's hosts when it has several; a domain is found on whichever host has it.", "unique_list"),
	"site.max_per_host": {"description": "At most this many actions on domains (start, shut down…) at once on any one host of the site (1 to 1000), whatever a step's max_parallel allows. Default: no bound but the step's.", "type": "integer", "minimum": 1, "maximum": 1000},
	"site.role":         enumOf("primary (production runs here; assumed lost in disaster mode) or secondary. Without roles, the site called primary, else the first site, is the primary one.", strs(roles)),

	"step.id":          withVar(obj{"type": "string", "pattern": idPattern.String()}, "Unique id of the step, used in the audit trail and in messages: lowercase letters, digits, '-', '_' or '.'."),
	"step.title":       described("What the step does, in a few words; shown in the console (default: the id).", "text"),
	"step.description": described("More about the step, shown when it is selected.", "text"),
	"step.gate":        enumOf("How the step waits for the operator before it acts: none, confirm (y) or typed (the operator types the site's name). Steps that stop, remove or roll back domains default to confirm; others to none.", strs(gates)),
	"step.approvers":   {"description": "How many different operators must approve the gate (1 to 5); more than one needs a gate.", "type": "integer", "minimum": 1, "maximum": 5},
	"step.rto":         enumOf("start: the recovery clock starts when this step begins; stop: it stops when this step is done. One of each per runbook, start first.", strs(rtoMarks)),
	"step.on_failure":  enumOf("What happens when the step still fails after its retries: ask the operator, abort the run, or continue with the next step. Default: ask when a person drives the run, abort with --auto-approve.", strs(onFailures)),
	"step.retries":     {"description": "How many times a failed step is retried automatically before on_failure applies (0 to 100).", "type": "integer", "minimum": 0, "maximum": 100},
	"step.retry_delay": withVar(ref("duration"), "Wait before the first automatic retry; it doubles at each retry. Default 5s."),
	"step.timeout":     withVar(ref("duration"), "Bound on the whole step, retries excepted. Default: none (each kind has its own timeouts)."),
	"step.modes":       ref("modes"),
	"step.skip_in":     described("Modes the step does not run in.", "modes"),
	"step.checklist":   described("Manual steps only: items the operator must tick before saying the step is done.", "list"),
	"step.record":      {"description": "Manual steps only: the operator also types an answer, kept in the audit trail.", "type": "boolean"},

	"*.site":    withVar(obj{"type": "string", "pattern": idPattern.String()}, "Name of the site the step acts on: one of the runbook's sites."),
	"*.domains": ref("domains"),
}

// props builds the properties of a mapping from the parser's key list.
func props(where string, keys []string) obj {
	out := obj{}
	for _, k := range keys {
		var s any
		d, ok := keyDocs[where+"."+k]
		if !ok {
			d, ok = keyDocs["*."+k]
		}
		if kd, kok := kindDoc(where + "." + k); kok {
			s, ok = kd, true
		} else if ok {
			s = d
		}
		if !ok {
			panic(fmt.Sprintf("runbooks: the schema does not describe %s key %q", where, k))
		}
		out[k] = s
	}
	return out
}

func schemaDoc() obj {
	text := obj{"description": "Text (a number or true/false is read as text).", "type": []any{"string", "number", "boolean"}, "minLength": 1, "maxLength": maxStrLength}
	defs := obj{
		"text":     text,
		"var_text": obj{"description": "Text holding a ${var}, substituted when the runbook is loaded.", "type": "string", "pattern": varRef.String()},
		"list_var": obj{"description": "A list var, written alone: ${name}.", "type": "string", "pattern": varOnly.String()},
		"duration": obj{"description": "A duration such as 90s, 2m, 4h, 1h30m or 2d.", "type": "string",
			"pattern": `^\s*([0-9]+d|\+?(([0-9]+\.?[0-9]*|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)\s*$`},
		"list": obj{"description": "A list of text, or a list var (${name}).", "anyOf": []any{
			obj{"type": "array", "minItems": 1, "items": text}, ref("list_var")}},
		"unique_list": obj{"description": "A list of text without repeats, or a list var (${name}).", "anyOf": []any{
			obj{"type": "array", "minItems": 1, "uniqueItems": true, "items": text}, ref("list_var")}},
		"domains": obj{
			"description": `The domains: a list in order, a glob such as "web-*", or all (every domain defined at the site); globs and all are resolved when the step runs. A list var (${name}) stands for its list.`,
			"anyOf": []any{
				obj{"type": "array", "minItems": 1, "uniqueItems": true, "items": text},
				obj{"const": "all", "description": "Every domain defined at the site, resolved when the step runs."},
				obj{"type": "string", "pattern": `[*?\[]`, "description": `A glob such as "web-*", resolved when the step runs.`},
				ref("var_text"),
			}},
		"modes": obj{
			"description": "The only modes the step runs in: " + strings.Join(Modes, ", ") + ". In disaster mode, a step touching the primary site runs only if it lists disaster here.",
			"anyOf": []any{
				obj{"type": "array", "minItems": 1, "uniqueItems": true, "items": enumOf("A run mode.", strs(Modes))},
				ref("list_var"),
			}},
		"command": obj{
			"description": "The command: a list of arguments such as [pg_restore, -d, app, dump.sql], or with shell: true one line of shell.",
			"anyOf":       []any{obj{"type": "array", "minItems": 1, "items": text}, obj{"type": "string", "minLength": 1}},
		},
		"env": obj{"type": "object", "propertyNames": obj{"pattern": envName.String()}, "additionalProperties": text},
		"vars": obj{
			"description":   "Values used elsewhere as ${name}: text, or a list of text (a list var is used alone, as a whole list: domains: ${production}). Override them with repli run --var NAME=VALUE (a list as a,b,c).",
			"type":          "object",
			"propertyNames": obj{"pattern": varNameRE.String()},
			"additionalProperties": obj{"anyOf": []any{
				obj{"type": []any{"string", "number", "boolean"}, "not": obj{"type": "string", "pattern": varRef.String()}},
				obj{"type": "array", "items": text},
			}},
		},
		"steps": obj{
			"description": "The steps, run in order.",
			"type":        "array",
			"minItems":    1,
			"maxItems":    MaxSteps,
			"items":       ref("step"),
		},
	}
	for name, d := range siteDefs() {
		defs[name] = d
	}
	kindKeys := obj{}
	for _, k := range Kinds {
		key, kd := SpecOf(k).Schema()
		kindKeys[string(k)] = key
		for name, d := range kd {
			defs[name] = d
		}
	}
	defs["step"] = stepSchema(kindKeys)
	return obj{
		"$schema":              SchemaDraft,
		"title":                "repli runbook, version 1",
		"description":          "A disaster-recovery runbook for repli: the sites, and the steps to run against them. Check one with: repli validate FILE.",
		"type":                 "object",
		"additionalProperties": false,
		"required":             []any{"version", "name", "sites", "steps"},
		"properties":           props("runbook", runbookKeys),
		"definitions":          defs,
	}
}

// targetSchema is a kind body that acts on domains at a site.
func targetSchema(where, desc string, keys []string, required ...string) obj {
	return obj{
		"description":          desc,
		"type":                 "object",
		"additionalProperties": false,
		"required":             strs(append([]string{"site", "domains"}, required...)),
		"properties":           props(where, keys),
	}
}

// withShellRules adds command's rules: a plain string needs shell: true (a
// ${list var} alone is a list), and shell: true takes one line.
func withShellRules(s obj) obj {
	s["allOf"] = []any{
		obj{
			"if": obj{"required": []any{"command"}, "properties": obj{
				"command": obj{"type": "string", "not": obj{"pattern": varOnly.String()}},
			}},
			"then": obj{"required": []any{"shell"}, "properties": obj{"shell": obj{"const": true,
				"description": "A command written as one string is a shell line: say shell: true, or write it as a list of arguments."}}},
		},
		obj{
			"if": obj{"required": []any{"shell"}, "properties": obj{"shell": obj{"const": true}}},
			"then": obj{"properties": obj{"command": obj{"anyOf": []any{
				obj{"type": "string"},
				obj{"type": "array", "maxItems": 1},
			}, "description": "With shell: true, command is one line of shell."}}},
		},
	}
	return s
}

// checkSchema allows exactly one probe, with the keys that go with it.
func checkSchema() obj {
	probes := []string{"state", "agent", "tcp", "file", "command"}
	var branches []any
	for _, probe := range probes {
		b := obj{"title": probe, "required": []any{probe}}
		p := obj{}
		for _, other := range probes {
			if other != probe {
				p[other] = forbidden
			}
		}
		switch probe {
		case "state", "agent":
			b["required"] = []any{probe, "site", "domains"}
		case "file":
			b["anyOf"] = []any{obj{"required": []any{"max_age"}}, obj{"required": []any{"sha256"}}}
		}
		if probe != "state" && probe != "agent" {
			p["site"] = forbidden
			p["domains"] = forbidden
		}
		if probe != "file" {
			p["max_age"] = forbidden
			p["recovery_point"] = forbidden
			p["sha256"] = forbidden
		}
		if probe != "command" {
			p["shell"] = forbidden
		}
		b["properties"] = p
		if probe == "command" {
			b = withShellRules(b)
		}
		branches = append(branches, b)
	}
	return obj{
		"description":          "Assert something, and fail the step when it does not hold: one of state, agent, tcp, file or command.",
		"type":                 "object",
		"additionalProperties": false,
		"properties":           props("check", checkKeys),
		"allOf":                []any{exactlyOne(branches...)},
	}
}

// siteDefs are the definitions of the runbook's sites and origin.
func siteDefs() obj {
	return obj{
		"origin": obj{
			"description":          "Written by repli reverse: the runbook this one is the way back of. Runs of this runbook are recorded in mode failback, linked to the forward runbook's runs.",
			"type":                 "object",
			"additionalProperties": false,
			"required":             strs(originKeys),
			"properties":           props("origin", originKeys),
		},
		"sites": obj{
			"description": "The sites: each site's name maps to its libvirt URI and role, or a list of site names whose URIs are in repli's config (sites: {NAME: {uri: …}} in ~/.config/repli/config.yaml).",
			"anyOf": []any{
				obj{
					"type":                 "object",
					"minProperties":        1,
					"propertyNames":        obj{"pattern": idPattern.String()},
					"additionalProperties": obj{"anyOf": []any{ref("site"), obj{"type": "null"}}},
				},
				obj{
					"type":        "array",
					"minItems":    1,
					"uniqueItems": true,
					"items":       obj{"type": "string", "pattern": idPattern.String()},
				},
			},
		},
		"site": obj{
			"description":          "A site: one libvirt URI (uri) or several hosts (uris), and its role. Without either, its URI comes from repli's config.",
			"type":                 "object",
			"additionalProperties": false,
			"properties":           props("site", siteKeys),
			"not":                  obj{"required": []any{"uri", "uris"}},
		},
	}
}

// kindDoc finds the documentation of a kind's key among the declarations.
func kindDoc(key string) (any, bool) {
	for _, k := range Kinds {
		if d, ok := SpecOf(k).Docs[key]; ok {
			return d, true
		}
	}
	return nil, false
}

func startSchema() obj {
	return obj{
		"description":          "Start domains: groups in order (each group together), or domains one by one.",
		"type":                 "object",
		"additionalProperties": false,
		"required":             []any{"site"},
		"properties":           props("start", startKeys),
		"allOf": []any{exactlyOne(
			obj{"required": []any{"groups"}, "properties": obj{"domains": forbidden}},
			obj{"required": []any{"domains"}, "properties": obj{"groups": forbidden}},
		)},
	}
}

func defineSchema() obj {
	return obj{
		"description":          "Define domains at a site, from XML files or by copying their definitions from another site.",
		"type":                 "object",
		"additionalProperties": false,
		"required":             []any{"site"},
		"properties":           props("define", defineKeys),
		"allOf": []any{exactlyOne(
			obj{"required": []any{"xml"}, "properties": obj{
				"copy_from": forbidden,
				"domains":   forbidden,
			}},
			obj{"required": []any{"copy_from", "domains"}, "properties": obj{"xml": forbidden}},
		)},
	}
}

func execSchema() obj {
	return withShellRules(obj{
		"description":          "Run a local command; its output is captured into the audit trail, with secrets redacted.",
		"type":                 "object",
		"additionalProperties": false,
		"required":             []any{"command"},
		"properties":           props("exec", execKeys),
	})
}

func waitSchema() obj {
	return obj{
		"description": "Pause: a duration (wait: 2m), or until a check passes.",
		"anyOf": []any{
			withVar(ref("duration"), "Pause for this long."),
			obj{
				"type":                 "object",
				"additionalProperties": false,
				"properties":           props("wait", waitKeys),
				"allOf": []any{exactlyOne(
					obj{"required": []any{"duration"}, "properties": obj{"until": forbidden}},
					obj{"required": []any{"until"}, "properties": obj{"duration": forbidden}},
				)},
			},
		},
	}
}

// stepSchema allows exactly one kind per step; kindKeys holds the schema
// of each kind's key.
func stepSchema(kindKeys obj) obj {
	var branches []any
	for _, k := range Kinds {
		b := obj{"title": string(k), "required": []any{string(k)}}
		p := obj{}
		for _, other := range Kinds {
			if other != k {
				p[string(other)] = forbidden
			}
		}
		for _, key := range commonStepKeys {
			if owner := ownerOf(key); owner != "" && owner != k {
				p[key] = forbidden
			}
		}
		b["properties"] = p
		// More than one approver needs a gate: kinds that only observe or
		// start things have none by default.
		moreApprovers := obj{"required": []any{"approvers"}, "properties": obj{"approvers": obj{"minimum": 2}}}
		gated := obj{"properties": obj{"gate": obj{"not": obj{"const": string(GateNone)}}}}
		// Destructive kinds default to confirm (snapshot only for revert
		// and delete, which the schema does not tell apart).
		if SpecOf(k).Harm == "" {
			gated["required"] = []any{"gate"}
		}
		b["if"], b["then"] = moreApprovers, gated
		branches = append(branches, b)
	}
	return obj{
		"description":          "One step: an id, exactly one kind (" + kindList() + "), and options.",
		"type":                 "object",
		"additionalProperties": false,
		"required":             []any{"id"},
		"properties":           stepProps(kindKeys),
		"allOf":                []any{exactlyOne(branches...)},
	}
}

// stepProps are the keys of a step: the common ones and one per kind.
func stepProps(kindKeys obj) obj {
	out := props("step", commonStepKeys)
	for k, v := range kindKeys {
		out[k] = v
	}
	return out
}
