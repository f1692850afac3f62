package runbooks

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// A file check can also verify the file's SHA-256 (check: {file: …,
// sha256: …}): against a checksum file in sha256sum format, the one backup
// tools ship beside a backup (acme.sql.age.sha256), or against a digest the
// runbook or a var gives itself. It combines with max_age and
// recovery_point on the same check: the engine checks the age first (cheap),
// then streams the file through SHA-256, and records the recovery point
// only once both passed, so that a refused backup never measures the RPO.

var (
	sha256Digest = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	hexOnly      = regexp.MustCompile(`^[0-9a-fA-F]+$`)
	// sumsLine is a line of sha256sum's output pasted as the value.
	sumsLine = regexp.MustCompile(`^[0-9a-fA-F]{64}[ \t]+\*?\S`)
)

// sha256Key reads check's sha256, which goes with file only: a literal
// digest (64 hex digits, kept lowercase in c.SHA256) or the path of a
// checksum file (c.SHA256File). Anything else is refused here, at
// validate, rather than found mismatched during the run.
func (p *parser) sha256Key(f *fields, c *Check, what, probe string) {
	if !f.has("sha256") {
		return
	}
	if probe != "file" {
		p.errf(f.key["sha256"], "%s: sha256 goes with file (the file whose checksum is verified), not %s", what, probe)
		return
	}
	v, n := p.str(f, "sha256", what+" sha256")
	if n == nil {
		return
	}
	if err := sha256Problem(v); err != "" {
		p.errf(n, "%s: sha256 %s", what, err)
		return
	}
	if sha256Digest.MatchString(v) {
		c.SHA256 = strings.ToLower(v)
		return
	}
	c.SHA256File = v
}

// sha256Problem says why a value of sha256 is neither a SHA-256 digest nor
// the path of a checksum file; "" when it is one of them.
func sha256Problem(v string) string {
	switch {
	case strings.TrimSpace(v) == "":
		return "is empty: give the file's SHA-256 (64 hex digits) or the path of its checksum file (sha256sum format)"
	case sha256Digest.MatchString(v):
		return ""
	case sumsLine.MatchString(v):
		return "is a line of sha256sum output: give the digest alone (its first 64 characters), or the path of the file that holds the line"
	case hexOnly.MatchString(v):
		return fmt.Sprintf("has %d hex digits, but a SHA-256 has 64 (an MD5 has 32, a SHA-1 40): give the SHA-256, or write a checksum file named so as ./%s", len(v), v)
	case strings.ContainsFunc(v, unicode.IsControl):
		return "holds a control character (a line break?): give one digest or one path"
	}
	return ""
}

// checksumText says what a check's sha256 compares the file with, for plans.
func checksumText(c *Check) string {
	if c.SHA256 != "" {
		return "SHA-256 " + c.SHA256
	}
	return "the SHA-256 in " + c.SHA256File
}

// sha256Schema is the JSON Schema of check's sha256: a digest, or a path
// (which has a character that is not a hex digit), never a pasted
// sha256sum line.
func sha256Schema() obj {
	return withVar(obj{
		"type":      "string",
		"minLength": 1,
		"anyOf":     []any{obj{"pattern": sha256Digest.String()}, obj{"pattern": "[^0-9a-fA-F]"}},
		"not":       obj{"pattern": `^[0-9a-fA-F]{64}[ \t]`},
	}, "With file: the file's SHA-256 must match. Either the digest itself (64 hex digits) or the path of a checksum file in sha256sum format (HEX  NAME lines, as sha256sum writes them) holding a line for the file's name, e.g. ${backup_dir}/acme.sql.age.sha256.")
}
