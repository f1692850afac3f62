package catalog

import (
	"github.com/repli-dr/repli/runbooks"
)

// Validation is one runbook as repli validate --output json reports it; its
// keys are a contract for scripts: add, never rename.
type Validation struct {
	Arg         string       `json:"arg"`
	File        string       `json:"file"`
	OK          bool         `json:"ok"`
	Runbook     string       `json:"runbook,omitempty"`
	Steps       int          `json:"steps"`
	Sites       []string     `json:"sites"`
	Diagnostics []Diagnostic `json:"diagnostics"`
}

// Diagnostic is one problem of a runbook.
type Diagnostic struct {
	Line     int    `json:"line"`
	Col      int    `json:"col"`
	Severity string `json:"severity"` // error or warning
	Message  string `json:"message"`
}

// Validate finds the runbook arg in dirs (Find) and checks it, touching no
// site. err is set when it cannot be read (its only diagnostic then);
// diags are the parser's, for the terminal.
func Validate(arg string, dirs []string) (v Validation, diags runbooks.Diagnostics, err error) {
	v = Validation{Arg: arg, Sites: []string{}, Diagnostics: []Diagnostic{}}
	file, src, err := Find(arg, dirs)
	if err != nil {
		v.Diagnostics = append(v.Diagnostics, Diagnostic{Severity: "error", Message: err.Error()})
		return v, nil, err
	}
	v.File = file
	rb, diags := runbooks.Parse(file, src)
	for _, d := range diags {
		sev := "error"
		if d.Severity == runbooks.SevWarning {
			sev = "warning"
		}
		v.Diagnostics = append(v.Diagnostics, Diagnostic{d.Pos.Line, d.Pos.Col, sev, d.Message})
	}
	if diags.HasErrors() || rb == nil {
		return v, diags, nil
	}
	v.OK, v.Runbook, v.Steps, v.Sites = true, rb.Name, len(rb.Steps), rb.SiteNames()
	return v, diags, nil
}
