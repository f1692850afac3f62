package libvirt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPortableXML(t *testing.T) {
	t.Parallel()
	in, err := os.ReadFile(filepath.Join("..", "..", "testdata", "libvirt", "live-domain.xml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := PortableXML(string(in))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "testdata", "libvirt", "live-domain.portable.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("PortableXML:\n%s\nwant:\n%s", got, want)
	}
	// Idempotent: the portable form is already portable.
	again, err := PortableXML(got)
	if err != nil || again != got {
		t.Errorf("PortableXML is not idempotent (err %v):\n%s", err, again)
	}
}

func TestPortableXMLRejects(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "<network><name>x</name></network>", "<domain><name>x</name>"} {
		if _, err := PortableXML(in); err == nil {
			t.Errorf("PortableXML(%q) succeeded", in)
		}
	}
	// Text is escaped back as it came: & and < survive a round trip.
	out, err := PortableXML("<domain><description>a &amp; b &lt; c</description></domain>")
	if err != nil || !strings.Contains(out, "a &amp; b &lt; c") {
		t.Errorf("PortableXML escaped text wrongly: %q, %v", out, err)
	}
}
