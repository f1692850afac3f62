package textfmt

import (
	"reflect"
	"testing"
)

func TestWrap(t *testing.T) {
	t.Parallel()
	cases := []struct {
		text  string
		width int
		want  []string
	}{
		{"shut down the web tier gracefully", 12, []string{"shut down", "the web tier", "gracefully"}},
		{"one\n\ntwo", 20, []string{"one", "", "two"}},
		{"qemu+ssh://kvm1.example/system", 10, []string{"qemu+ssh:/", "/kvm1.exam", "ple/system"}},
		{"é é é", 3, []string{"é é é"}}, // width is at least 10
	}
	for _, c := range cases {
		if got := Wrap(c.text, c.width); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Wrap(%q, %d) = %q, want %q", c.text, c.width, got, c.want)
		}
	}
}

func TestPadAndClipCountRunes(t *testing.T) {
	t.Parallel()
	if got := Pad("é", 3); got != "é  " {
		t.Errorf("Pad = %q", got)
	}
	if got := Clip("ééééé", 4); got != "ééé…" {
		t.Errorf("Clip = %q", got)
	}
	if got := Clip("abc", 3); got != "abc" {
		t.Errorf("Clip of a short string = %q", got)
	}
}
