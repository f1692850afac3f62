package evidence

import (
	"bytes"
	"fmt"
	"io"

	"github.com/repli-dr/repli/internal/report"
	"github.com/repli-dr/repli/internal/safetext"
)

// Render renders a report on a stream that may be a terminal: JSON has
// its C1 and bidi controls escaped as well (encoding/json leaves them raw);
// HTML and Markdown show them visibly already.
func Render(w io.Writer, doc *report.Doc, format, lang string) error {
	if format != "json" {
		return report.Render(w, doc, format, lang)
	}
	var b bytes.Buffer
	if err := report.Render(&b, doc, format, lang); err != nil {
		return err
	}
	if _, err := w.Write(safetext.JSON(b.Bytes())); err != nil {
		return fmt.Errorf("write json report: %w", err)
	}
	return nil
}
