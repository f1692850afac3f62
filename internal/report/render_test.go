package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// render renders the sample (or doc) and fails the test on error.
func render(t *testing.T, doc *Doc, format, lang string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, doc, format, lang); err != nil {
		t.Fatalf("render %s/%s: %v", format, lang, err)
	}
	return b.Bytes()
}

func goldenName(format, lang string) string {
	if format == "json" {
		return "sample.json"
	}
	return "sample." + lang + "." + format
}

func TestGolden(t *testing.T) {
	t.Parallel()
	for _, format := range Formats {
		for _, lang := range Languages {
			got := render(t, Sample(), format, lang)
			path := filepath.Join("testdata", goldenName(format, lang))
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (go test -update writes it): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s/%s differs from %s (go test ./internal/report -update, then review the diff)", format, lang, path)
			}
		}
	}
}

func TestGoldenTimelineText(t *testing.T) {
	t.Parallel()
	got := []byte(strings.Join(TimelineText(Sample(), 80), "\n") + "\n")
	path := filepath.Join("testdata", "sample.timeline.txt")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (go test -update writes it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("timeline differs from %s:\n%s", path, got)
	}
}

func TestEveryMessageInEveryLanguage(t *testing.T) {
	t.Parallel()
	for key, m := range messages {
		for _, l := range Languages {
			if strings.TrimSpace(m[l]) == "" {
				t.Errorf("message %q has no %s text", key, l)
			}
		}
		if len(m) != len(Languages) {
			t.Errorf("message %q has %d languages, want %d", key, len(m), len(Languages))
		}
		if strings.Count(m["en"], "%") != strings.Count(m["fr"], "%") {
			t.Errorf("message %q: en and fr take different arguments", key)
		}
	}
}
