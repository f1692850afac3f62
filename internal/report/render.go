package report

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"unicode"
)

// Render writes doc to w in format ("html", "md" or "json") and language
// ("en" or "fr"). It returns the first write error, wrapped: a report that
// could not be written whole is an error, never a silent short file. JSON
// does not depend on the language (its values are recorded words, not
// prose); lang is still checked.
func Render(w io.Writer, doc *Doc, format, lang string) error {
	l, err := newLang(lang)
	if err != nil {
		return err
	}
	if doc == nil {
		return errors.New("render report: no document")
	}
	bw := bufio.NewWriterSize(w, 32<<10)
	switch format {
	case "html":
		err = renderHTML(bw, visibleDoc(doc), l)
	case "md", "markdown":
		err = renderMarkdown(bw, visibleDoc(doc), l)
	case "json":
		err = renderJSON(bw, doc)
	default:
		return fmt.Errorf("unknown report format %q: use html, md or json", format)
	}
	if err != nil {
		return fmt.Errorf("write %s report: %w", format, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s report: %w", format, err)
	}
	return nil
}

// WriteFile renders doc into path so that path is either the whole report or
// untouched: it writes a temporary file in the same directory, syncs it,
// renames it over path and syncs the directory. On any error the temporary
// file is removed and path is left as it was.
func WriteFile(path string, doc *Doc, format, lang string) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("create report file in %s: %w (is the directory writable?)", dir, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = Render(f, doc, format, lang); err != nil {
		return fmt.Errorf("%w; %s was not written", err, path)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("set permissions of report %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("flush report %s to disk: %w; %s was not written", path, err, path)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close report %s: %w; %s was not written", path, err, path)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("move report into place at %s: %w", path, err)
	}
	// The rename is durable only once the directory is synced.
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s to sync the report: %w", dir, err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s after writing the report: %w", dir, err)
	}
	return nil
}

// Visible makes a one-line string from outside safe to show: control
// characters (C0, DEL, C1), line breaks, and invisible format characters such
// as bidirectional overrides become visible symbols, so that a domain name or
// a typed answer can neither drive a terminal nor hide text.
func Visible(s string) string { return visible(s, false) }

// VisibleText is Visible for multi-line text (command output): newlines and
// tabs are kept, carriage returns and other controls are shown.
func VisibleText(s string) string { return visible(s, true) }

func visible(s string, multiline bool) string {
	clean := true
	for _, r := range s {
		if needsMark(r, multiline) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case !needsMark(r, multiline):
			b.WriteRune(r)
		case r < 0x20:
			b.WriteRune(0x2400 + r) // ␀ … ␟: the Unicode control pictures
		case r == 0x7f:
			b.WriteRune('␡')
		case r == unicode.ReplacementChar:
			b.WriteString("�")
		default:
			fmt.Fprintf(&b, "⟨U+%04X⟩", r)
		}
	}
	return b.String()
}

func needsMark(r rune, multiline bool) bool {
	if multiline && (r == '\n' || r == '\t') {
		return false
	}
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029'
}

// visibleDoc returns a deep copy of doc whose every string went through
// Visible (or VisibleText for fields tagged report:"multiline"). Doing it once,
// by reflection, means a new field cannot be forgotten.
func visibleDoc(doc *Doc) *Doc {
	out := reflect.New(reflect.TypeOf(*doc)).Elem()
	copyVisible(out, reflect.ValueOf(*doc), false)
	d := out.Interface().(Doc)
	return &d
}

func copyVisible(dst, src reflect.Value, multiline bool) {
	switch src.Kind() {
	case reflect.String:
		dst.SetString(visible(src.String(), multiline))
	case reflect.Struct:
		if src.Type().PkgPath() != "" && src.Type().PkgPath() != reflect.TypeOf(Doc{}).PkgPath() {
			dst.Set(src) // time.Time and the like: values, not text
			return
		}
		for i := 0; i < src.NumField(); i++ {
			f := src.Type().Field(i)
			copyVisible(dst.Field(i), src.Field(i), f.Tag.Get("report") == "multiline")
		}
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		s := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		for i := 0; i < src.Len(); i++ {
			copyVisible(s.Index(i), src.Index(i), multiline)
		}
		dst.Set(s)
	default:
		dst.Set(src)
	}
}
