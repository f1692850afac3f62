package reverse

import (
	"strings"
	"testing"
)

// TestChecksumCheckKeptAsWritten: a file check with sha256 (a checksum file
// or a digest), with or without max_age, is kept as written on the way
// back: the same file, the same expectation, no age limit made up.
func TestChecksumCheckKeptAsWritten(t *testing.T) {
	t.Parallel()
	const digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	rb := parse(t, "sums.yaml", []byte(`version: 1
name: sums
sites:
  primary: {uri: sim://primary}
  secondary: {uri: sim://secondary}
steps:
  - id: intact
    check: {file: /srv/b/acme.sql.age, sha256: /srv/b/acme.sql.age.sha256}
  - id: intact-fresh
    check: {file: /srv/b/acme.sql.age, max_age: 26h, recovery_point: true, sha256: `+digest+`}
`))
	back, res := wayBack(t, rb)
	got := map[string]string{}
	for _, st := range back.Steps {
		if st.Check != nil {
			c := st.Check
			got[st.Check.File+" "+c.MaxAge.String()] = c.SHA256 + c.SHA256File
		}
	}
	want := map[string]string{"/srv/b/acme.sql.age 0s": "/srv/b/acme.sql.age.sha256", "/srv/b/acme.sql.age 26h0m0s": digest}
	if len(got) != 2 || got["/srv/b/acme.sql.age 0s"] != want["/srv/b/acme.sql.age 0s"] || got["/srv/b/acme.sql.age 26h0m0s"] != digest {
		t.Errorf("the way back's checks %v, want %v", got, want)
	}
	if strings.Contains(string(res.Source), "max_age: 0s") {
		t.Error("a max_age was made up")
	}
}
