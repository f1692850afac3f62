package runbooks

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/repli-dr/repli/internal/safetext"
)

// Limits that keep a hostile or broken file from exhausting the console.
const (
	MaxFileSize  = 1 << 20 // bytes
	MaxSteps     = 10000
	MaxDepth     = 64
	maxNodes     = 200000 // nodes visited, aliases expanded
	maxDiags     = 200
	maxStrLength = 64 << 10
)

var (
	idPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
	namePattern = idPattern
)

// Load reads, parses and validates a runbook file.
func Load(path string) (*Runbook, Diagnostics, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open runbook: %w", err)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read runbook %s: %w", path, err)
	}
	rb, diags := Parse(path, src)
	return rb, diags, nil
}

// Parse parses and validates a runbook. The runbook is nil when any
// diagnostic is an error; warnings come back with a usable runbook.
func Parse(file string, src []byte) (*Runbook, Diagnostics) {
	return ParseWith(file, src, nil)
}

// ParseWith parses a runbook with var overrides (repli run --var NAME=VALUE);
// a list var takes a comma-separated value.
func ParseWith(file string, src []byte, overrides map[string]string) (*Runbook, Diagnostics) {
	return ParseWithSecrets(file, src, overrides, nil)
}

// ParseWithSecrets is ParseWith with secret vars (repli run --secret-var
// NAME=@FILE): secretFiles maps a var to the file its value is read from
// when a command runs. The value is never read here, so it is in nothing
// the parse returns, records or shows; such a var may only be a whole env
// value of an exec step, which passes the file like secret_env.
func ParseWithSecrets(file string, src []byte, overrides, secretFiles map[string]string) (*Runbook, Diagnostics) {
	p := &parser{file: file, budget: maxNodes, overrides: overrides, secretFiles: secretFiles}
	rb := p.parse(src)
	p.diags.sort()
	if len(p.diags) > maxDiags {
		last := p.diags[maxDiags-1]
		p.diags = append(p.diags[:maxDiags-1], Diagnostic{File: file, Pos: last.Pos, Message: fmt.Sprintf("too many problems; the first %d are shown", maxDiags-1)})
	}
	if p.diags.HasErrors() {
		return nil, p.diags
	}
	return rb, p.diags
}

type parser struct {
	file   string
	diags  Diagnostics
	budget int
	bombed bool
	lines  int // the file's line count, as an editor shows it
	src    []byte
	vars   map[string]Var
	// overrides replace vars' values (repli run --var).
	overrides map[string]string
	// secretFiles make vars secret (repli run --secret-var): name → file.
	secretFiles map[string]string
	// sitePasswords are the passwords written in site URIs, masked in the
	// recorded source.
	sitePasswords []string
}

func posOf(n *yaml.Node) Pos {
	if n == nil {
		return Pos{1, 1}
	}
	return Pos{n.Line, n.Column}
}

func (p *parser) errf(n *yaml.Node, format string, a ...any) {
	p.diags = append(p.diags, Diagnostic{File: p.file, Pos: posOf(n), Message: fmt.Sprintf(format, a...)})
}

func (p *parser) errAt(pos Pos, format string, a ...any) {
	p.diags = append(p.diags, Diagnostic{File: p.file, Pos: pos, Message: fmt.Sprintf(format, a...)})
}

func (p *parser) warnf(n *yaml.Node, format string, a ...any) {
	p.diags = append(p.diags, Diagnostic{File: p.file, Pos: posOf(n), Severity: SevWarning, Message: fmt.Sprintf(format, a...)})
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (p *parser) parse(src []byte) *Runbook {
	original := src // what is hashed and recorded: the file exactly as it is
	switch {
	case len(src) > MaxFileSize:
		p.errAt(Pos{1, 1}, "file is larger than %d KiB; a runbook this big is not something a person can review", MaxFileSize>>10)
		return nil
	case len(bytes.TrimSpace(src)) == 0:
		p.errAt(Pos{1, 1}, "file is empty; a runbook needs at least version, name, sites and steps")
		return nil
	case bytes.IndexByte(src, 0) >= 0 || !utf8.Valid(src):
		p.errAt(Pos{1, 1}, "file is not UTF-8 text (binary content?)")
		return nil
	}
	// Lines end with \n for people and editors; YAML also breaks lines at a
	// lone \r. Normalise, so that every line:col points where an editor does.
	src = bytes.ReplaceAll(bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n")), []byte("\r"), []byte("\n"))
	p.lines = bytes.Count(bytes.TrimSuffix(src, []byte("\n")), []byte("\n")) + 1
	p.src = src
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&doc); err != nil {
		p.syntaxError(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errf(&extra, "a runbook file holds one YAML document; remove the second one (after ---)")
	} else if !errors.Is(err, io.EOF) {
		p.syntaxError(err)
		return nil
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.DocumentNode || (root.Kind == yaml.ScalarNode && root.Tag == "!!null") {
		p.errAt(Pos{1, 1}, "the file holds no runbook (an empty YAML document); a runbook needs at least version, name, sites and steps")
		return nil
	}
	if deep := tooDeep(root, 0); deep != nil {
		p.errf(deep, "document is nested more than %d levels deep", MaxDepth)
		return nil
	}
	if n, at := expandedSize(root, map[*yaml.Node]int{}); n > maxNodes {
		p.errf(at, "aliases expand to more than %d nodes (an alias bomb?); refusing the document", maxNodes)
		return nil
	}
	rb := &Runbook{File: p.file, Source: original}
	p.runbook(root, rb)
	for _, name := range sortedNames(p.overrides) {
		if _, ok := rb.Vars[name]; !ok {
			p.errAt(Pos{1, 1}, "--var %s: the runbook has no var %q%s", name, name, suggest(name, p.varNames()))
		}
	}
	for _, name := range sortedNames(p.secretFiles) {
		_, ok := rb.Vars[name]
		_, both := p.overrides[name]
		switch {
		case !ok:
			p.errAt(Pos{1, 1}, "--secret-var %s: the runbook has no var %q%s", name, name, suggest(name, p.varNames()))
		case both:
			p.errAt(Pos{1, 1}, "var %s is given with both --var and --secret-var; give it once", name)
		}
	}
	rb.Source = p.maskSitePasswords(original)
	return rb
}

// SHA256 is the hex SHA-256 of the runbook's source text.
func (rb *Runbook) SHA256() string {
	sum := sha256.Sum256(rb.Source)
	return hex.EncodeToString(sum[:])
}

func (p *parser) syntaxError(err error) {
	msg := err.Error()
	// yaml.v3 says "found character that cannot start any token" for a tab
	// in indentation; say what it is, where it is. (A tab inside a block
	// scalar's text is legal YAML and never comes here.)
	if strings.Contains(msg, "found character that cannot start any token") {
		if pos, ok := findTab(p.src); ok {
			p.errAt(pos, "tab character in indentation; YAML indents with spaces")
			return
		}
	}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		// yaml.v3 gives its parser's errors ("did not find expected …") the
		// 0-based line of the construct being parsed; its scanner's are
		// 1-based. Point at the line of the mistake either way.
		if strings.HasPrefix(m[2], "did not find expected") {
			line++
		}
		line = max(1, min(line, p.lines)) // an error at the end of the file is on its last line
		hint := ""
		if strings.Contains(m[2], "did not find expected ',' or") {
			hint = ` (inside [...] or {...}, quote a value that holds ${var}, ?, #, a comma or a bracket: ["${vm}"], {uri: "qemu+unix:///system?socket=/run/s"}; or close the bracket)`
		}
		p.errAt(Pos{line, 1}, "YAML syntax: %s%s", m[2], hint)
		return
	}
	p.errAt(Pos{1, 1}, "YAML syntax: %s", strings.TrimPrefix(msg, "yaml: "))
}

// findTab finds a tab used as indentation, which YAML forbids and which
// yaml.v3 reports with a confusing message.
func findTab(src []byte) (Pos, bool) {
	for i, line := range bytes.Split(src, []byte("\n")) {
		for j, c := range line {
			if c == '\t' {
				return Pos{i + 1, j + 1}, true
			}
			if c != ' ' {
				break
			}
		}
	}
	return Pos{}, false
}

// expandedSize counts the nodes the document holds once every alias is
// expanded, memoised per node so the count itself stays cheap. It returns the
// alias that pushed the count over the limit, for the message.
func expandedSize(n *yaml.Node, memo map[*yaml.Node]int) (int, *yaml.Node) {
	if n == nil {
		return 0, nil
	}
	if v, ok := memo[n]; ok {
		return v, nil
	}
	memo[n] = maxNodes + 1 // a cycle counts as too big
	size, culprit := 1, (*yaml.Node)(nil)
	if n.Kind == yaml.AliasNode {
		s, c := expandedSize(n.Alias, memo)
		size, culprit = s, c
		if culprit == nil && s > maxNodes {
			culprit = n
		}
	}
	for _, c := range n.Content {
		s, cc := expandedSize(c, memo)
		size += s
		if culprit == nil && cc != nil {
			culprit = cc
		}
		if size > maxNodes {
			if culprit == nil {
				culprit = c
			}
			break
		}
	}
	memo[n] = size
	return size, culprit
}

// tooDeep returns the first node nested deeper than MaxDepth, or nil.
func tooDeep(n *yaml.Node, d int) *yaml.Node {
	if n == nil {
		return nil
	}
	if d > MaxDepth {
		return n
	}
	for _, c := range n.Content {
		if x := tooDeep(c, d+1); x != nil {
			return x
		}
	}
	return nil
}

// resolve follows aliases and charges the expansion budget, so that an
// anchor bomb is refused instead of walked.
func (p *parser) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil {
		return nil
	}
	p.budget -= 1 + len(n.Content)
	if p.budget < 0 {
		if !p.bombed {
			p.bombed = true
			p.errf(n, "aliases expand beyond %d nodes; refusing the document", maxNodes)
		}
		return nil
	}
	return n
}

// fields is a YAML mapping whose keys were checked against the known ones.
type fields struct {
	node *yaml.Node
	val  map[string]*yaml.Node
	key  map[string]*yaml.Node
	// typoOfKind: an unknown key was close to a step kind's name (the
	// "did you mean" already says what is wrong).
	typoOfKind bool
}

func (f *fields) has(k string) bool { return f != nil && f.val[k] != nil }

// mapping checks that n is a mapping with only known keys, and indexes it.
func (p *parser) mapping(n *yaml.Node, what string, known ...string) *fields {
	n = p.resolve(n)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.errf(n, "%s must be a mapping (key: value), not %s", what, describe(n))
		return nil
	}
	f := &fields{node: n, val: map[string]*yaml.Node{}, key: map[string]*yaml.Node{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := p.resolve(n.Content[i]), n.Content[i+1]
		if k == nil {
			return nil
		}
		if k.Kind != yaml.ScalarNode {
			p.errf(k, "the keys of %s must be plain words, not %s", what, describe(k))
			continue
		}
		name := k.Value
		if k.Tag == "!!merge" {
			p.errf(k, "merge keys (<<) are not supported; repeat the keys or use an alias for a whole value")
			continue
		}
		if !contains(known, name) {
			hint := suggest(name, known)
			for _, kind := range Kinds {
				if hint != "" && strings.Contains(hint, `"`+string(kind)+`"`) {
					f.typoOfKind = true
				}
			}
			p.errf(k, "unknown key %q in %s%s", name, what, hint)
			continue
		}
		if prev := f.key[name]; prev != nil {
			p.errf(k, "duplicate key %q in %s (first at %d:%d)", name, what, prev.Line, prev.Column)
			continue
		}
		f.key[name], f.val[name] = k, v
	}
	return f
}

func (p *parser) required(f *fields, what string, keys ...string) {
	if f == nil {
		return
	}
	for _, k := range keys {
		if !f.has(k) {
			p.errf(f.node, "%s is missing required key %q", what, k)
		}
	}
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func (p *parser) str(f *fields, key, what string) (string, *yaml.Node) {
	if !f.has(key) {
		return "", nil
	}
	n := p.resolve(f.val[key])
	if n == nil {
		return "", nil
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errf(n, "%s must be text, not %s", what, describe(n))
		return "", n
	}
	if len(n.Value) > maxStrLength {
		p.errf(n, "%s is longer than %d KiB", what, maxStrLength>>10)
		return "", n
	}
	p.controlChars(n, what)
	return p.expand(n, n.Value), n
}

// controlChars warns about characters a terminal would act on (escape
// sequences, C1 controls, bidi overrides) in a value: repli shows them
// escaped, but a runbook that holds them was probably not written by hand.
func (p *parser) controlChars(n *yaml.Node, what string) {
	if !safetext.Unsafe(n.Value) {
		return
	}
	shown := []rune(safetext.Line(n.Value))
	if len(shown) > 60 {
		shown = append(shown[:59], '…')
	}
	p.warnf(n, "%s holds control characters that a terminal would act on (escape sequences, bidi overrides): %s; repli shows them escaped like this", what, string(shown))
}

func (p *parser) boolean(f *fields, key, what string) bool {
	if !f.has(key) {
		return false
	}
	n := p.resolve(f.val[key])
	if n == nil {
		return false
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		p.errf(n, "%s must be true or false, not %s", what, describe(n))
		return false
	}
	return n.Value == "true"
}

func (p *parser) integer(f *fields, key, what string, lo, hi int) int {
	if !f.has(key) {
		return 0
	}
	n := p.resolve(f.val[key])
	if n == nil {
		return 0
	}
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
		p.errf(n, "%s must be a whole number, not %s", what, describe(n))
		return 0
	}
	if v < lo || v > hi {
		p.errf(n, "%s must be between %d and %d, not %d", what, lo, hi, v)
		return 0
	}
	return v
}

// durationOr reads a duration, or returns def when the key is absent.
func (p *parser) durationOr(f *fields, key, what string, def time.Duration) time.Duration {
	if !f.has(key) {
		return def
	}
	if d := p.duration(f, key, what); d > 0 {
		return d
	}
	return def
}

func (p *parser) duration(f *fields, key, what string) time.Duration {
	s, n := p.str(f, key, what)
	if n == nil {
		return 0
	}
	if strings.TrimSpace(s) == "" && n.Kind == yaml.ScalarNode && n.Tag != "!!null" && len(n.Value) <= maxStrLength {
		p.errf(n, "%s is empty; write a duration like 90s, 2m or 4h, or remove the key", what)
		return 0
	}
	if s == "" {
		return 0
	}
	d, err := ParseDuration(s)
	if err != nil {
		p.errf(n, "%s: %v", what, err)
		return 0
	}
	return d
}

// ParseDuration parses durations such as 90s, 2m, 4h, 1h30m and 2d.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(rest); err == nil && n > 0 && n < 3650 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a duration (write it like 90s, 2m, 4h or 1h30m)", s)
	}
	return d, nil
}

// strList reads a list of non-empty strings; a single string is not a list.
func (p *parser) strList(n *yaml.Node, what string) ([]string, []*yaml.Node) {
	n = p.resolve(n)
	if n == nil {
		return nil, nil
	}
	if n.Kind == yaml.ScalarNode && p.isListVar(n.Value) {
		v := p.vars[varOnly.FindStringSubmatch(n.Value)[1]]
		nodes := make([]*yaml.Node, len(v.List))
		for i := range nodes {
			nodes[i] = n
		}
		if len(v.List) == 0 {
			p.errf(n, "%s is empty (var %s has no entries)", what, v.Name)
		}
		return append([]string(nil), v.List...), nodes
	}
	if n.Kind != yaml.SequenceNode {
		p.errf(n, "%s must be a list, not %s", what, describe(n))
		return nil, nil
	}
	if len(n.Content) == 0 {
		p.errf(n, "%s is empty", what)
		return nil, nil
	}
	var out []string
	var nodes []*yaml.Node
	for _, c := range n.Content {
		c = p.resolve(c)
		if c == nil {
			return nil, nil
		}
		if c.Kind != yaml.ScalarNode || c.Tag == "!!null" || c.Value == "" {
			p.errf(c, "each entry of %s must be text, not %s", what, describe(c))
			continue
		}
		p.controlChars(c, "an entry of "+what)
		out = append(out, p.expand(c, c.Value))
		nodes = append(nodes, c)
	}
	return out, nodes
}

func sortedNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
