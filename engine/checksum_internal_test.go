package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSumsLine(t *testing.T) {
	t.Parallel()
	const d = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	for _, tc := range []struct {
		line, sum, name string
		ok              bool
	}{
		{d + "  acme.sql.age", d, "acme.sql.age", true},
		{d + " *acme.sql.age", d, "acme.sql.age", true},                            // binary mode
		{strings.ToUpper(d) + "  ./b/acme.sql.age\r", d, "./b/acme.sql.age", true}, // upper case, CRLF
		{`\` + d + `  a\\b\nc`, d, "a\\b\nc", true},                                // an escaped name
		{"SHA256 (acme.sql.age) = " + d, d, "acme.sql.age", true},                  // sha256sum --tag
		{"# " + d + "  acme.sql.age", "", "", false},
		{"", "", "", false},
		{d + " acme.sql.age", "", "", false}, // one space: not sha256sum's
		{d[:63] + "  acme.sql.age", "", "", false},
		{d + "  ", "", "", false},
		{"MD5 (acme.sql.age) = " + d[:32], "", "", false},
	} {
		sum, name, ok := parseSumsLine(tc.line)
		if sum != tc.sum || name != tc.name || ok != tc.ok {
			t.Errorf("parseSumsLine(%q) = %q, %q, %v", tc.line, sum, name, ok)
		}
	}
}

func TestFileSHA256StopsWhenCancelled(t *testing.T) {
	t.Parallel()
	f := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(f, make([]byte, 2<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := fileSHA256(ctx, f); !errors.Is(err, context.Canceled) {
		t.Errorf("hashing with a cancelled context: %v", err)
	}
	// The SHA-256 of 2 MiB of zeros, as sha256sum gives it.
	got, n, err := fileSHA256(context.Background(), f)
	if err != nil || n != 2<<20 || got != "5647f05ec18958947d32874eeb788fa396a05d0bab7c1b71f112ceb7e9b31eee" {
		t.Errorf("fileSHA256 = %s, %d, %v", got, n, err)
	}
}

// BenchmarkFileSHA256: the check's reading rate, to set a check's timeout
// for a backup of a given size (compare: sha256sum on the same file).
func BenchmarkFileSHA256(b *testing.B) {
	f := filepath.Join(b.TempDir(), "backup")
	if err := os.WriteFile(f, make([]byte, 64<<20), 0o600); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(64 << 20)
	for b.Loop() {
		if _, _, err := fileSHA256(context.Background(), f); err != nil {
			b.Fatal(err)
		}
	}
}
