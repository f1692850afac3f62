package report

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func TestJSONValidatesAgainstPublishedSchema(t *testing.T) {
	t.Parallel()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("report.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("report.schema.json")
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	validate := func(b []byte) error {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return sch.Validate(v)
	}
	out := render(t, Sample(), "json", "en")
	if err := validate(out); err != nil {
		t.Fatalf("sample JSON does not validate: %v", err)
	}
	// An empty Doc too: lists are [] and never null.
	if err := validate(render(t, &Doc{}, "json", "en")); err != nil {
		t.Errorf("empty Doc's JSON does not validate: %v", err)
	}
	// The schema is strict: a field it does not know, or a verdict it does
	// not list, is refused (so a new Doc field fails here until published).
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	m["identification"].(map[string]any)["surprise"] = 1
	bad, _ := json.Marshal(m)
	if validate(bad) == nil {
		t.Error("schema accepted an unknown field")
	}
	bad = bytes.Replace(out, []byte(`"verdict": "pass"`), []byte(`"verdict": "probably"`), 1)
	if validate(bad) == nil {
		t.Error("schema accepted verdict \"probably\"")
	}
	// The language does not change the JSON.
	if !bytes.Equal(out, render(t, Sample(), "json", "fr")) {
		t.Error("JSON differs between en and fr")
	}
}

func TestJSONFieldsAreStable(t *testing.T) {
	t.Parallel()
	var m map[string]any
	if err := json.Unmarshal(render(t, Sample(), "json", "en"), &m); err != nil {
		t.Fatal(err)
	}
	rto := m["objectives"].(map[string]any)["rto"].(map[string]any)
	if rto["verdict"] != "pass" || rto["achieved_ns"] != float64(34*time.Minute+3*time.Second) || rto["target_ns"] != float64(2*time.Hour) {
		t.Errorf("objectives.rto = %v", rto)
	}
	if m["format_version"] != float64(1) || len(m["timeline"].([]any)) != 12 {
		t.Errorf("format_version %v, %d steps", m["format_version"], len(m["timeline"].([]any)))
	}
}

// hostileDoc is the sample with every string field made hostile: control
// characters, markup, Markdown and bidi overrides.
func hostileDoc() *Doc {
	doc := Sample()
	const bad = "\x1b[31m<script>alert(1)</script> *bold* | `tick` [l](x) \u202Eevil\r\nnext\x07"
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.String:
			v.SetString(v.String() + bad)
		case reflect.Struct:
			if v.Type() == reflect.TypeOf(time.Time{}) {
				return
			}
			for i := 0; i < v.NumField(); i++ {
				walk(v.Field(i))
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		}
	}
	walk(reflect.ValueOf(doc).Elem())
	return doc
}

// codeSpan matches a Markdown code span of one or two backticks.
var codeSpan = regexp.MustCompile("``[^`]*(?:`[^`]+)*``|`[^`]*`")

func TestStringsFromOutsideAreData(t *testing.T) {
	t.Parallel()
	doc := hostileDoc()
	for _, lang := range Languages {
		for _, format := range []string{"html", "md"} {
			out := string(render(t, doc, format, lang))
			for _, r := range out {
				if r != '\n' && r != '\t' && (r < 0x20 || r == 0x7f || r == '\u202E' || (r >= 0x80 && r < 0xa0)) {
					t.Errorf("%s/%s: raw control character %U in the output", format, lang, r)
					break
				}
			}
			live := out
			if format == "md" {
				// Code spans show their text literally; look outside them.
				live = codeSpan.ReplaceAllString(out, "")
			}
			if strings.Contains(live, "<script>") {
				t.Errorf("%s/%s: markup from the data reached the output", format, lang)
			}
			if !strings.Contains(out, "␛[31m") || !strings.Contains(out, "⟨U") {
				t.Errorf("%s/%s: control characters were dropped, not made visible", format, lang)
			}
		}
	}
	md := string(render(t, doc, "md", "en"))
	if live := codeSpan.ReplaceAllString(md, ""); strings.Contains(live, " *bold* ") || strings.Contains(live, "[l](x)") {
		t.Error("markdown: emphasis or a link from the data is live")
	}
	// Every table row keeps its column count: a | in the data is escaped.
	cols := -1
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| --- ") {
			cols = strings.Count(line, " | ")
			continue
		}
		if cols >= 0 && strings.HasPrefix(line, "| ") {
			unescaped := regexp.MustCompile(`(^|[^\\]) \| `).FindAllStringIndex(line, -1)
			if len(unescaped) != cols {
				t.Errorf("row has %d separators, want %d: %.120q", len(unescaped), cols, line)
			}
			continue
		}
		cols = -1
	}
	// The JSON keeps the data as recorded (JSON escapes controls itself).
	var back Doc
	if err := json.Unmarshal(render(t, doc, "json", "en"), &back); err != nil {
		t.Fatal(err)
	}
	if back.Timeline[0].ID != doc.Timeline[0].ID {
		t.Errorf("JSON changed a step id: %q", back.Timeline[0].ID)
	}
}

func TestTemplatesUseOnlyCatalogueKeys(t *testing.T) {
	t.Parallel()
	src := htmlSource
	for _, f := range []string{"markdown.go", "html.go", "timeline.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src += string(b)
	}
	re := regexp.MustCompile(`\b(?:t|tf|T|Tf)\(?\s*"([a-z_.]+)"`)
	n := 0
	for _, m := range re.FindAllStringSubmatch(src, -1) {
		n++
		if _, ok := messages[m[1]]; !ok {
			t.Errorf("key %q is used but not in the catalogue", m[1])
		}
	}
	if n < 50 {
		t.Fatalf("found only %d key uses: the pattern is broken", n)
	}
	for _, lang := range Languages {
		for _, format := range []string{"html", "md"} {
			if out := render(t, Sample(), format, lang); bytes.Contains(out, []byte("⟦")) {
				t.Errorf("%s/%s shows a missing message: %s", format, lang, regexp.MustCompile(`⟦[^⟧]*⟧`).Find(out))
			}
		}
	}
}

func TestFrenchConventions(t *testing.T) {
	t.Parallel()
	fr, _ := newLang("fr")
	en, _ := newLang("en")
	at := time.Date(2026, time.November, 30, 14, 5, 59, 0, time.FixedZone("CET", 3600))
	for _, c := range []struct{ got, want string }{
		{fr.Date(at), "30 novembre 2026 à 13:05 (UTC)"},
		{en.Date(at), "30 November 2026 at 13:05 (UTC)"},
		{fr.Day(time.Date(2027, 8, 1, 0, 0, 0, 0, time.UTC)), "1 août 2027"},
		{fr.Duration(65 * time.Minute), "1 h 05 min"},
		{fr.Duration(2 * time.Hour), "2 h"},
		{fr.Duration(4*time.Minute + 30*time.Second), "4 min 30 s"},
		{fr.Duration(42 * time.Second), "42 s"},
		{fr.Duration(26 * time.Hour), "1 j 2 h"},
		{fr.Percent(34*time.Minute+3*time.Second, 2*time.Hour), "28,4\u202f%"},
		{en.Percent(34*time.Minute+3*time.Second, 2*time.Hour), "28.4%"},
		{fr.Number(1000000), "1\u202f000\u202f000"},
		{en.Number(1000000), "1,000,000"},
		{fr.T("rto"), "DMIA (RTO)"},
		{fr.T("rpo"), "PDMA (RPO)"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	out := string(render(t, Sample(), "html", "fr"))
	for _, want := range []string{`lang="fr"`, "30 novembre 2026 à 14:05 (UTC)", "Rapport d&#39;exercice de reprise d&#39;activité (PRA)", "DMIA (RTO)", "28,4\u202f%"} {
		if !strings.Contains(out, want) {
			t.Errorf("French HTML lacks %q", want)
		}
	}
}

func TestHTMLIsSelfContained(t *testing.T) {
	t.Parallel()
	for _, lang := range Languages {
		out := string(render(t, Sample(), "html", lang))
		for _, bad := range []string{"<script", "<link", "<img", "@import", "url(http", "src=", "href=\"http"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s HTML refers outside itself: %q", lang, bad)
			}
		}
		for _, want := range []string{"<svg", "@page", "size: A4", "break-before: page", `class="wait"`, `class="work"`, `class="rto-target"`, `class="rto-start"`, `class="rto-stop"`} {
			if !strings.Contains(out, want) {
				t.Errorf("%s HTML lacks %q", lang, want)
			}
		}
		if got := strings.Count(out, "<section"); got != 12 {
			t.Errorf("%s HTML has %d sections, want 12", lang, got)
		}
	}
}

// The report tells a reader how to re-verify the chain head with ssh-keygen
// alone; run exactly that recipe, with the real ssh-keygen.
func TestSSHKeygenRecipeVerifies(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		skipOrFail(t, "ssh-keygen not installed")
	}
	sig := Sample().Integrity.Signatures[0]
	run := func(s Signature) (string, error) {
		dir := t.TempDir()
		cmd := exec.Command("sh", "-e", "-c", sshKeygenRecipe(s))
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(sig)
	if err != nil || !strings.Contains(out, `Good "repli-chain" signature for claire.martin@ministere.gouv.fr`) {
		t.Fatalf("recipe failed: %v\n%s\n%s", err, sshKeygenRecipe(sig), out)
	}
	// It is a real check: one changed character in the message fails it.
	sig.Message = strings.Replace(sig.Message, "events 1-96", "events 1-95", 1)
	if out, err := run(sig); err == nil {
		t.Errorf("a forged message verified:\n%s", out)
	}
	// And the recipe in the rendered Markdown is the same one.
	if md := render(t, Sample(), "md", "fr"); !bytes.Contains(md, []byte(sshKeygenRecipe(Sample().Integrity.Signatures[0]))) {
		t.Error("the Markdown report does not carry the recipe verbatim")
	}
	_ = filepath.Join
}

func TestEmptyAndPartialDocsRender(t *testing.T) {
	t.Parallel()
	interrupted := Sample()
	interrupted.Identification.Outcome, interrupted.Identification.Ended = "interrupted", time.Time{}
	interrupted.Objectives.RTO = Measure{Target: time.Hour}
	interrupted.Objectives.RPO = Measure{}
	interrupted.Integrity = Integrity{Verified: false, VerifyDetail: "event 17: hash mismatch"}
	for i := 6; i < len(interrupted.Timeline); i++ {
		s := &interrupted.Timeline[i]
		s.Started, s.Ended, s.Duration, s.Result, s.Reason = time.Time{}, time.Time{}, 0, "not_executed", "the console was lost"
	}
	for name, doc := range map[string]*Doc{"empty": {}, "interrupted": interrupted} {
		for _, format := range Formats {
			for _, lang := range Languages {
				out := string(render(t, doc, format, lang))
				if strings.Contains(out, "⟦") {
					t.Errorf("%s %s/%s shows a missing message", name, format, lang)
				}
			}
		}
	}
	en := string(render(t, interrupted, "html", "en"))
	for _, want := range []string{"interrupted (console lost)", "not measured", "verification FAILED", "event 17: hash mismatch", "not executed"} {
		if !strings.Contains(en, want) {
			t.Errorf("interrupted run's report lacks %q", want)
		}
	}
	if strings.Contains(en, "✓ <b>PASS") || strings.Contains(en, "audit chain verified</span>") {
		t.Error("an unmeasured RTO or a failed verification reads as a pass")
	}
}
