package engine

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/repli-dr/repli/runbooks"
)

// FileVerified records a file check that compared a file's SHA-256 with the
// one expected (check: {file: …, sha256: …}): the backup a restore trusts.
// It is journaled whether the two match or not, so that the trail holds the
// digest that was computed, not a line some command printed.
type FileVerified struct {
	Meta
	Step string `json:"step"`
	// File is the file as the runbook names it.
	File string `json:"file"`
	// SHA256 is the digest computed over Bytes bytes of the file; Expected
	// the digest it was compared with, read from Source.
	SHA256   string `json:"sha256"`
	Expected string `json:"expected"`
	Bytes    int64  `json:"bytes"`
	// Source is where Expected came from, for people: "checksum file
	// PATH, line N" or "the runbook's sha256". SumsFile is the checksum
	// file, when there is one.
	Source   string `json:"source"`
	SumsFile string `json:"sums_file,omitempty"`
	Match    bool   `json:"match"`
}

// Kind implements Event.
func (*FileVerified) Kind() string { return "file.verified" }

func init() { eventTypes["file.verified"] = func() Event { return &FileVerified{} } }

// applyFileVerified folds a verified file into the projection.
// Progress.Apply calls it: case *FileVerified: p.applyFileVerified(e).
func (p *Progress) applyFileVerified(e *FileVerified) {
	p.Verified = append(p.Verified, e)
}

// verifySHA256 computes the checked file's SHA-256, streaming it, and
// compares it with the digest the check expects. With journal (a check
// step), the comparison is journaled either way; a wait polling the check
// journals only the match that ends the wait.
func (e *Engine) verifySHA256(ctx context.Context, st *runbooks.Step, c *runbooks.Check, journal bool) error {
	want, source := c.SHA256, "the runbook's sha256"
	if c.SHA256File != "" {
		var line int
		var err error
		want, line, err = sumFor(e.path(c.SHA256File), filepath.Base(c.File))
		if err != nil {
			return fmt.Errorf("verify the SHA-256 of %s: %w", c.File, err)
		}
		source = fmt.Sprintf("checksum file %s, line %d", c.SHA256File, line)
	}
	// The check's timeout bounds the reading, as it bounds a command
	// probe: a backup of many gigabytes needs a timeout to match.
	hctx, cancel := context.WithCancel(ctx)
	if c.Timeout > 0 {
		hctx, cancel = context.WithTimeout(ctx, c.Timeout)
	}
	got, n, err := fileSHA256(hctx, e.path(c.File))
	cancel()
	switch {
	case err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("compute the SHA-256 of %s: read %d bytes within the check's timeout of %s, not the whole file: raise the check's timeout (SHA-256 reads a few hundred MB a second): %w", c.File, n, c.Timeout, err)
	case err != nil:
		return fmt.Errorf("compute the SHA-256 of %s: %w", c.File, err)
	}
	v := &FileVerified{Step: st.ID, File: c.File, SHA256: got, Expected: want, Bytes: n, Source: source, SumsFile: c.SHA256File, Match: got == want}
	if journal || v.Match {
		if err := e.emit(ctx, v); err != nil {
			return err
		}
	}
	if !v.Match {
		return fmt.Errorf("checksum mismatch: file %s has SHA-256 %s, but %s says %s: the file is damaged or incomplete (an interrupted transfer?), or not the one the checksum was made for; refusing it: receive it again, then retry this step", c.File, got, source, want)
	}
	if !journal {
		return nil
	}
	return e.logf(ctx, st.ID, "info", "file %s: SHA-256 %s over %d bytes, as %s says", c.File, got, n, source)
}

// fileSHA256 streams a file through SHA-256: a backup of many gigabytes is
// never read into memory, and a cancelled context (the step's timeout, an
// interrupt) stops the reading between two blocks.
func fileSHA256(ctx context.Context, path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, ctxReader{ctx, f}, make([]byte, 1<<20))
	if err != nil {
		return "", n, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(b []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(b)
}

// maxSumsLine bounds a line of a checksum file: a digest and a path.
const maxSumsLine = 64 << 10

// sumFor reads a checksum file in sha256sum format and returns the digest
// of the line for name (a base name: the line's path may have directories,
// as in "./acme.sql.age"), lowercase, and its line number. It reads
// sha256sum's text and binary lines ("HEX  NAME", "HEX *NAME"), its escaped
// names ("\HEX  NAME" with \\ and \n), and the BSD tag lines of
// sha256sum --tag ("SHA256 (NAME) = HEX"); it skips blank lines and
// comments. Two different digests for one name are refused: which one the
// backup tool meant cannot be told.
func sumFor(path, name string) (string, int, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", 0, fmt.Errorf("checksum file %s is missing: receive it with the file (backup tools write it beside it: sha256sum %s > %s.sha256), or give the digest itself in sha256", path, name, name)
		}
		return "", 0, fmt.Errorf("read checksum file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4096), maxSumsLine)
	var want string
	var at, lineNo, lines int
	var names []string
	for sc.Scan() {
		lineNo++
		sum, file, ok := parseSumsLine(sc.Text())
		if !ok {
			continue
		}
		lines++
		if len(names) < 4 {
			names = append(names, fmt.Sprintf("%q", file))
		}
		if filepath.Base(file) != name {
			continue
		}
		if want != "" && sum != want {
			return "", 0, fmt.Errorf("checksum file %s gives two different SHA-256 for %s (lines %d and %d): fix it, or receive it again", path, name, at, lineNo)
		}
		want, at = sum, lineNo
	}
	if err := sc.Err(); err != nil {
		return "", 0, fmt.Errorf("read checksum file %s: %w (is it a checksum file? sha256sum writes HEX  NAME lines)", path, err)
	}
	if want == "" {
		listed := "no line in sha256sum format (HEX  NAME)"
		if lines > 0 {
			listed = fmt.Sprintf("%d line(s), for %s", lines, strings.Join(names, ", "))
			if lines > len(names) {
				listed += "…"
			}
		}
		return "", 0, fmt.Errorf("checksum file %s has no line for %s (it holds %s): receive the checksum file that goes with this file, or name the right one in sha256", path, name, listed)
	}
	return want, at, nil
}

// parseSumsLine reads one line of a checksum file: its digest (lowercase)
// and file name; false for a blank line, a comment, or a line of another
// format (sha256sum --check skips those too).
func parseSumsLine(line string) (sum, name string, ok bool) {
	line = strings.TrimSuffix(line, "\r")
	if tag, ok := strings.CutPrefix(line, "SHA256 ("); ok {
		i := strings.LastIndex(tag, ") = ")
		if i < 0 || !isSHA256(tag[i+4:]) {
			return "", "", false
		}
		return strings.ToLower(tag[i+4:]), tag[:i], true
	}
	escaped := strings.HasPrefix(line, `\`)
	if escaped {
		line = line[1:]
	}
	if len(line) < 66 || !isSHA256(line[:64]) || line[64] != ' ' || (line[65] != ' ' && line[65] != '*') {
		return "", "", false
	}
	name = line[66:]
	if escaped {
		name = strings.NewReplacer(`\\`, `\`, `\n`, "\n", `\r`, "\r").Replace(name)
	}
	if name == "" {
		return "", "", false
	}
	return strings.ToLower(line[:64]), name, true
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}
