package runbooks

import (
	"strings"
	"testing"
)

const sha256Head = `version: 1
name: sums
vars:
  dir: /srv/backups/acme
  digest: 9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08
sites:
  primary: {uri: sim://primary}
steps:
`

// TestCheckSHA256Forms: sha256 is a digest (kept lowercase, from the
// runbook or a var) or the path of a checksum file; it goes with or
// without max_age; the plan says what the file is compared with; the
// schema accepts what the parser accepts.
func TestCheckSHA256Forms(t *testing.T) {
	t.Parallel()
	const lower = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	tests := []struct {
		name, step       string
		digest, file     string
		maxAge, rp       bool
		describe, detail string
	}{
		{"checksum file, with max_age and recovery_point",
			"check:\n      file: ${dir}/acme.sql.age\n      max_age: 72h\n      recovery_point: true\n      sha256: ${dir}/acme.sql.age.sha256",
			"", "/srv/backups/acme/acme.sql.age.sha256", true, true,
			"check file /srv/backups/acme/acme.sql.age is younger than 72h and matches the SHA-256 in /srv/backups/acme/acme.sql.age.sha256",
			"its line for acme.sql.age, in sha256sum format"},
		{"digest from a var, no max_age", `check: {file: "${dir}/acme.sql.age", sha256: "${digest}"}`,
			lower, "", false, false, "check file /srv/backups/acme/acme.sql.age matches SHA-256 " + lower, ""},
		{"relative checksum file", "check: {file: acme.sql.age, sha256: SHA256SUMS}",
			"", "SHA256SUMS", false, false, "check file acme.sql.age matches the SHA-256 in SHA256SUMS", "its line for acme.sql.age"},
	}
	sch := compiledSchema(t)
	for _, tc := range tests {
		src := sha256Head + "  - id: intact\n    " + tc.step + "\n"
		rb, diags := Parse("sums.yaml", []byte(src))
		if rb == nil {
			t.Fatalf("%s: refused:\n%v", tc.name, diags)
		}
		c := rb.Steps[0].Check
		if c.SHA256 != tc.digest || c.SHA256File != tc.file || (c.MaxAge > 0) != tc.maxAge || c.RecoveryPoint != tc.rp {
			t.Errorf("%s: check %+v", tc.name, c)
		}
		if got := rb.Steps[0].Describe(); got != tc.describe {
			t.Errorf("%s: plan line %q, want %q", tc.name, got, tc.describe)
		}
		var details []string
		for _, d := range rb.Steps[0].Details() {
			details = append(details, d[0]+": "+d[1])
		}
		if tc.detail != "" && !strings.Contains(strings.Join(details, "\n"), "sha256: "+tc.detail) {
			t.Errorf("%s: details %q lack %q", tc.name, details, tc.detail)
		}
		if err := sch.Validate(yamlToJSON(t, []byte(src))); err != nil {
			t.Errorf("%s: the schema refuses what repli accepts: %v", tc.name, err)
		}
	}
}

// TestCheckSHA256Refused: a value that is neither a SHA-256 nor a path, and
// sha256 where it does not belong, are refused at validate with the
// position of the value and what to write instead; the schema refuses them
// too, so that an editor flags them as they are typed.
func TestCheckSHA256Refused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, step, want string
		schemaToo        bool
	}{
		{"a SHA-1", "check: {file: /b/x, sha256: da39a3ee5e6b4b0d3255bfef95601890afd80709}",
			"sums.yaml:11:33: step intact: sha256 has 40 hex digits, but a SHA-256 has 64", true},
		{"63 digits", "check: {file: /b/x, sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0}",
			"sums.yaml:11:33: step intact: sha256 has 63 hex digits", true},
		{"a pasted sha256sum line", `check: {file: /b/x, sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  x"}`,
			"sums.yaml:11:33: step intact: sha256 is a line of sha256sum output: give the digest alone", true},
		{"empty", `check: {file: /b/x, sha256: ""}`, "sha256 is empty", true},
		{"a var holding a short digest", "check: {file: /b/x, sha256: \"${short}\"}", "sha256 has 8 hex digits", false},
		{"with a command", "check: {command: [\"true\"], sha256: /b/x.sha256}",
			"sums.yaml:11:32: step intact: sha256 goes with file (the file whose checksum is verified), not command", true},
		{"with tcp", "check: {tcp: \"db:5432\", sha256: /b/x.sha256}", "sha256 goes with file", true},
		{"file with neither max_age nor sha256", "check: {file: /b/x}", `step intact is missing required key "max_age"`, true},
	}
	sch := compiledSchema(t)
	for _, tc := range tests {
		src := strings.Replace(sha256Head, "vars:\n", "vars:\n  short: deadbeef\n", 1) + "  - id: intact\n    " + tc.step + "\n"
		rb, diags := Parse("sums.yaml", []byte(src))
		if rb != nil || !diags.HasErrors() {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s: diagnostics\n%s\nlack %q", tc.name, diags, tc.want)
		}
		if tc.schemaToo && sch.Validate(yamlToJSON(t, []byte(src))) == nil {
			t.Errorf("%s: the schema accepts it", tc.name)
		}
	}
}

func TestSHA256Problem(t *testing.T) {
	t.Parallel()
	for v, ok := range map[string]bool{
		strings.Repeat("a", 64):            true,
		strings.Repeat("A", 64):            true,
		"/srv/backups/acme.sql.age.sha256": true,
		"SHA256SUMS":                       true,
		"./cafe":                           true,
		"cafe":                             false,
		strings.Repeat("a", 65):            false,
		"a\nb":                             false,
		" ":                                false,
	} {
		if got := sha256Problem(v) == ""; got != ok {
			t.Errorf("sha256Problem(%q) = %q", v, sha256Problem(v))
		}
	}
}
