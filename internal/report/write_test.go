package report

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// failingWriter accepts n bytes, then fails every write.
type failingWriter struct {
	n   int
	err error
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) <= w.n {
		w.n -= len(p)
		return len(p), nil
	}
	k := w.n
	w.n = 0
	return k, w.err
}

func TestRenderReturnsEveryWriteError(t *testing.T) {
	t.Parallel()
	errDisk := errors.New("device full")
	for _, format := range Formats {
		size := len(render(t, Sample(), format, "fr"))
		// Fail at the start, in the middle, and on the very last byte.
		for _, at := range []int{0, 1, size / 3, size / 2, size - 1} {
			w := &failingWriter{n: at, err: errDisk}
			err := Render(w, Sample(), format, "fr")
			if !errors.Is(err, errDisk) {
				t.Errorf("%s failing after %d of %d bytes: got %v, want the write error", format, at, size, err)
			}
		}
		if err := Render(&failingWriter{n: size, err: errDisk}, Sample(), format, "fr"); err != nil {
			t.Errorf("%s: a writer that takes all %d bytes got %v", format, size, err)
		}
	}
}

func TestRenderRefusesUnknownFormatAndLanguage(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := Render(&b, Sample(), "pdf", "en"); err == nil || !strings.Contains(err.Error(), "html, md or json") {
		t.Errorf("format pdf: %v", err)
	}
	if err := Render(&b, Sample(), "html", "de"); err == nil || !strings.Contains(err.Error(), "en or fr") {
		t.Errorf("language de: %v", err)
	}
	if b.Len() != 0 {
		t.Errorf("a refused render wrote %d bytes", b.Len())
	}
}

func TestWriteFileReplacesWholeOrNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "rapport.html")
	if err := os.WriteFile(path, []byte("last year's report"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A render error (unknown language) leaves the old file and no temporary.
	if err := WriteFile(path, Sample(), "html", "xx"); err == nil {
		t.Fatal("WriteFile with language xx succeeded")
	}
	if b, _ := os.ReadFile(path); string(b) != "last year's report" {
		t.Errorf("failed WriteFile changed the file: %q", b)
	}
	assertOnly(t, dir, "rapport.html")

	if err := WriteFile(path, Sample(), "html", "fr"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, render(t, Sample(), "html", "fr")) {
		t.Error("WriteFile wrote something else than Render")
	}
	assertOnly(t, dir, "rapport.html")
}

func TestWriteFileInReadOnlyDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	readOnlyBind(t, dir)
	path := filepath.Join(dir, "rapport.md")
	err := WriteFile(path, Sample(), "md", "fr")
	if !errors.Is(err, syscall.EROFS) {
		t.Fatalf("WriteFile in a read-only directory: %v, want EROFS", err)
	}
	if !strings.Contains(err.Error(), "writable") {
		t.Errorf("the error does not say what to do: %v", err)
	}
	assertOnly(t, dir)
}

func TestWriteFileOnFullDiskLeavesNoPartialFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mountOrSkip(t, "tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700")
	// Fill all but a few kilobytes: the report (30 kB) cannot fit.
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 56<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rapport.html")
	err := WriteFile(path, Sample(), "html", "fr")
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("WriteFile on a full disk: %v, want ENOSPC", err)
	}
	if !strings.Contains(err.Error(), "was not written") {
		t.Errorf("the error does not say the report is absent: %v", err)
	}
	assertOnly(t, dir, "filler")
}

// assertOnly fails unless dir holds exactly these names (no temporary left).
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}

func mountOrSkip(t *testing.T, source, target, fstype string, flags uintptr, data string) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root to mount %s on %s", fstype+source, target)
	}
	if err := syscall.Mount(source, target, fstype, flags, data); err != nil {
		skipOrFail(t, "mount %s on %s: %v (no CAP_SYS_ADMIN in this container?)", source, target, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(target, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", target, err)
		}
	})
}

// readOnlyBind makes dir a read-only view of itself: even root gets EROFS.
func readOnlyBind(t *testing.T, dir string) {
	t.Helper()
	mountOrSkip(t, dir, dir, "", syscall.MS_BIND, "")
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		skipOrFail(t, "remount %s read-only: %v", dir, err)
	}
}
