package runbooks_test

import (
	"strings"
	"testing"

	"github.com/repli-dr/repli/runbooks"
)

// TestSitePasswordMaskedInRecordedSource: a password in a site URI is not in
// the source recorded with a run; the masked source parses to the same
// bytes again (what a resume checks against the recorded SHA-256).
func TestSitePasswordMaskedInRecordedSource(t *testing.T) {
	t.Parallel()
	src := `version: 1
name: pw
vars:
  backup_uri: "qemu+tls://ops:v4r-s3cret@kvm9/system"
sites:
  primary: {uri: "qemu+tls://ops:s3cret-pw@kvm1/system"}
  secondary:
    uris: [qemu+ssh://root:'p@ss'@kvm2/system, "${backup_uri}"]
steps:
  - id: m
    manual: go
`
	rb, diags := runbooks.Parse("pw.yaml", []byte(src))
	if rb == nil {
		t.Fatalf("refused: %v", diags)
	}
	if !strings.Contains(diags.Error(), "pw.yaml:6:18: warning: site primary: the URI holds a password") {
		t.Errorf("no warning: %v", diags)
	}
	for _, pw := range []string{"s3cret-pw", "v4r-s3cret"} {
		if strings.Contains(string(rb.Source), pw) {
			t.Errorf("recorded source holds %q:\n%s", pw, rb.Source)
		}
	}
	if rb.Sites[0].URI != "qemu+tls://ops:s3cret-pw@kvm1/system" {
		t.Errorf("the live URI changed: %s", rb.Sites[0].URI)
	}
	again, diags := runbooks.Parse("pw.yaml", rb.Source)
	if again == nil {
		t.Fatalf("the masked source does not parse: %v", diags)
	}
	if again.SHA256() != rb.SHA256() || string(again.Source) != string(rb.Source) {
		t.Errorf("masking is not stable:\n%s\n---\n%s", rb.Source, again.Source)
	}
}

// TestSecretVar: --secret-var NAME=@FILE makes a var a file reference,
// passed like secret_env, refused anywhere it could be shown.
func TestSecretVar(t *testing.T) {
	t.Parallel()
	head := `version: 1
name: sv
vars:
  db_password: ""
  other: x
sites:
  primary: {uri: sim://primary}
steps:
`
	ok := head + `  - id: restore
    exec:
      command: [pg_restore, dump.sql]
      env: {PGPASSWORD: "${db_password}", PGUSER: "${other}"}
`
	rb, diags := runbooks.ParseWithSecrets("sv.yaml", []byte(ok), nil, map[string]string{"db_password": "/run/keys/db"})
	if rb == nil {
		t.Fatalf("refused: %v", diags)
	}
	x := rb.Steps[0].Exec
	if x.SecretEnv["PGPASSWORD"] != "/run/keys/db" || x.Env["PGUSER"] != "x" || len(x.Env) != 1 {
		t.Errorf("env %v secret_env %v", x.Env, x.SecretEnv)
	}
	for _, tt := range []struct{ body, want string }{
		{"  - id: a\n    manual: the password is ${db_password}\n", `var "db_password" holds a secret`},
		{"  - id: a\n    exec: {command: \"echo ${db_password}\", shell: true}\n", `var "db_password" holds a secret`},
		{"  - id: a\n    exec: {command: [echo, \"${db_password}\"]}\n", `var "db_password" holds a secret`},
		{"  - id: a\n    exec: {command: [true], env: {X: \"a${db_password}\"}}\n", `var "db_password" holds a secret`},
	} {
		if rb, diags := runbooks.ParseWithSecrets("sv.yaml", []byte(head+tt.body), nil, map[string]string{"db_password": "/f"}); rb != nil || !strings.Contains(diags.Error(), tt.want) {
			t.Errorf("%s: got %v", tt.body, diags)
		}
	}
	if rb, diags := runbooks.ParseWithSecrets("sv.yaml", []byte(ok), nil, map[string]string{"db_pasword": "/f"}); rb != nil || !strings.Contains(diags.Error(), `--secret-var db_pasword: the runbook has no var "db_pasword" — did you mean "db_password"?`) {
		t.Errorf("unknown secret var: %v", diags)
	}
}
