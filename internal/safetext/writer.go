package safetext

import (
	"bytes"
	"encoding/json"
	"io"
)

// Writer makes everything written through it safe for a terminal
// (Terminal): a view that quotes runbook titles, operators' notes, command
// lines and errors, none of which repli wrote itself. Newlines and tabs
// stay (the layout is repli's); single-line values go through Line as
// well, so that theirs do not break a table.
type Writer struct{ W io.Writer }

func (s Writer) Write(p []byte) (int, error) {
	if _, err := io.WriteString(s.W, Terminal(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteJSON writes v as indented JSON. Control characters inside strings
// are \u escapes (C0 by encoding/json, DEL, C1 and bidi controls by JSON):
// the document means the same, and can be shown raw.
func WriteJSON(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(JSON(b.Bytes()))
	return err
}
