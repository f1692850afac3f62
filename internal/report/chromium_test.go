package report

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// skipOrFail skips a test that needs a tool this machine lacks, loudly; under
// CI=true it fails instead, so that CI never passes by skipping.
func skipOrFail(t *testing.T, format string, a ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, a...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true, so this cannot be skipped: %s", msg)
	}
	fmt.Fprintf(os.Stderr, "\n*** %s SKIPPED: %s ***\n\n", t.Name(), msg)
	t.Skip(msg)
}

func lookTool(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	skipOrFail(t, "%s not installed (make deps-report installs it)", names[0])
	return ""
}

// printToPDF prints an HTML file to PDF with headless Chromium, the way a
// reader's browser would, and returns the PDF's path.
func printToPDF(t *testing.T, chromium, html string) string {
	t.Helper()
	dir := filepath.Dir(html)
	pdf := filepath.Join(dir, "r.pdf")
	// A guard against a hung browser, not a speed assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--no-pdf-header-footer", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--print-to-pdf="+pdf, "file://"+html)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chromium failed to print %s: %v\n%s", html, err, out)
	}
	if fi, err := os.Stat(pdf); err != nil || fi.Size() == 0 {
		t.Fatalf("chromium wrote no PDF (%v):\n%s", err, out)
	}
	return pdf
}

func TestHTMLPrintsToPDFWithChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	chromium := lookTool(t, "chromium", "chromium-browser")
	pdfinfo := lookTool(t, "pdfinfo")
	pdftotext := lookTool(t, "pdftotext")
	for _, lang := range Languages {
		t.Run(lang, func(t *testing.T) {
			doc := Sample()
			html := filepath.Join(t.TempDir(), "rapport.html")
			if err := WriteFile(html, doc, "html", lang); err != nil {
				t.Fatal(err)
			}
			pdf := printToPDF(t, chromium, html)

			info, err := exec.Command(pdfinfo, pdf).CombinedOutput()
			if err != nil {
				t.Fatalf("pdfinfo: %v\n%s", err, info)
			}
			m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)`).FindSubmatch(info)
			if m == nil {
				t.Fatalf("pdfinfo gave no page count:\n%s", info)
			}
			if n, _ := strconv.Atoi(string(m[1])); n < 2 {
				t.Errorf("PDF has %d page(s), want at least 2 (a page per section)", n)
			}
			if !strings.Contains(string(info), "A4") {
				t.Errorf("PDF is not A4:\n%s", info)
			}

			text, err := exec.Command(pdftotext, "-enc", "UTF-8", pdf, "-").Output()
			if err != nil {
				t.Fatalf("pdftotext: %v", err)
			}
			got := string(text)
			for _, s := range doc.Timeline {
				if !strings.Contains(got, s.ID) {
					t.Errorf("step %s is not in the PDF's text", s.ID)
				}
			}
			l, _ := newLang(lang)
			for _, want := range []string{l.T("sec.integrity"), l.Date(doc.Identification.Started), doc.Integrity.ChainHead[:40]} {
				if !strings.Contains(got, want) {
					t.Errorf("PDF text lacks %q", want)
				}
			}
		})
	}
}
