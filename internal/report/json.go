package report

import (
	_ "embed"
	"encoding/json"
	"io"
	"reflect"
)

// FormatVersion is the version of the JSON report's shape (report.schema.json).
// Fields are only ever added; a removal or rename bumps it.
const FormatVersion = 1

//go:embed report.schema.json
var schema []byte

// Schema returns the JSON Schema (draft 2020-12) of the JSON report, for
// `repli schema report`.
func Schema() []byte { return append([]byte(nil), schema...) }

// jsonDoc is the JSON report: the Doc's fields after the format version.
type jsonDoc struct {
	FormatVersion int `json:"format_version"`
	*Doc
}

// MarshalJSON adds the verdict to a measure, so that tools do not have to
// re-derive pass or fail.
func (m Measure) MarshalJSON() ([]byte, error) {
	type plain Measure
	return json.Marshal(struct {
		plain
		Verdict string `json:"verdict"`
	}{plain(m), m.Verdict()})
}

func renderJSON(w io.Writer, d *Doc) error {
	out := reflect.New(reflect.TypeOf(*d)).Elem()
	copyNonNil(out, reflect.ValueOf(*d))
	doc := out.Interface().(Doc)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(jsonDoc{FormatVersion: FormatVersion, Doc: &doc})
}

// copyNonNil copies src into dst with every nil slice made empty: the JSON
// has [] where a list is empty, never null.
func copyNonNil(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Struct:
		if src.Type().PkgPath() != reflect.TypeOf(Doc{}).PkgPath() {
			dst.Set(src)
			return
		}
		for i := 0; i < src.NumField(); i++ {
			copyNonNil(dst.Field(i), src.Field(i))
		}
	case reflect.Slice:
		s := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		for i := 0; i < src.Len(); i++ {
			copyNonNil(s.Index(i), src.Index(i))
		}
		dst.Set(s)
	default:
		dst.Set(src)
	}
}
