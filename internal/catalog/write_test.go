package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteNewKeepsAReviewedFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "back.yaml")
	if err := WriteNew(path, []byte("first\n"), false); err != nil {
		t.Fatal(err)
	}
	err := WriteNew(path, []byte("second\n"), false)
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("an existing file: %v, want a refusal naming --force", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "first\n" {
		t.Errorf("the file was changed: %q", b)
	}
	if err := WriteNew(path, []byte("second\n"), true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "second\n" {
		t.Errorf("with force: %q", b)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}
