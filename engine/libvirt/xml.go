package libvirt

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// PortableXML prepares a domain definition read at one site (DomainXML) to
// be defined at the other: it keeps the identity of the guest (name, UUID,
// MAC addresses, device addresses, disks) and drops what belongs to the
// host it came from or to a running instance, which libvirt would refuse
// or misapply on another host:
//
//   - the runtime id attribute of <domain>, device <alias> names, disk
//     source indexes, the tty of a console and the allocated path of pty
//     devices;
//   - ports a graphics device got from autoport;
//   - auto-generated tap names (vnetN, macvtapN) of interfaces;
//   - dynamic security labels (their model, selinux or apparmor, is the
//     source host's);
//   - the <emulator> path, so that the other host uses its own default.
//
// Everything else is copied token by token: comments, namespaced metadata
// (qemu:commandline, custom <metadata>) and text are kept as they are.
func PortableXML(domXML string) (string, error) {
	dec := xml.NewDecoder(strings.NewReader(domXML))
	w := &portableWriter{}
	for {
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("read the domain XML: %w", err)
		}
		if w.skipping(tok) {
			continue
		}
		if err := w.token(tok); err != nil {
			return "", err
		}
	}
	return w.finish()
}

// portableWriter is PortableXML's copy in progress.
type portableWriter struct {
	out       strings.Builder
	stack     []xml.StartElement
	open      *xml.StartElement // written when we know whether it is empty
	space     string            // whitespace held back: dropped with a dropped element
	skip      int               // depth inside a dropped element
	sawDomain bool
}

// writeOpen writes the start tag held back, as a non-empty element.
func (w *portableWriter) writeOpen() {
	if w.open != nil {
		writeStart(&w.out, *w.open, false)
		w.open = nil
	}
}

// flush writes the start tag and the whitespace held back.
func (w *portableWriter) flush() {
	w.writeOpen()
	w.out.WriteString(w.space)
	w.space = ""
}

// skipping passes over tok when inside a dropped element.
func (w *portableWriter) skipping(tok xml.Token) bool {
	if w.skip == 0 {
		return false
	}
	switch tok.(type) {
	case xml.StartElement:
		w.skip++
	case xml.EndElement:
		w.skip--
	}
	return true
}

// token copies one token, or drops it.
func (w *portableWriter) token(tok xml.Token) error {
	switch t := tok.(type) {
	case xml.StartElement:
		return w.start(t)
	case xml.EndElement:
		return w.end(t)
	case xml.CharData:
		if strings.TrimSpace(string(t)) == "" {
			w.writeOpen()
			w.space += string(t)
			return nil
		}
		w.flush()
		escapeText(&w.out, string(t), false)
	case xml.Comment:
		w.flush()
		w.out.WriteString("<!--" + string(t) + "-->")
	case xml.ProcInst:
		w.flush()
		w.out.WriteString("<?" + t.Target + " " + string(t.Inst) + "?>")
	case xml.Directive:
		w.flush()
		w.out.WriteString("<!" + string(t) + ">")
	}
	return nil
}

func (w *portableWriter) start(t xml.StartElement) error {
	if len(w.stack) == 0 {
		if t.Name.Local != "domain" || t.Name.Space != "" {
			return fmt.Errorf("not a domain definition: the root element is <%s>", qname(t.Name))
		}
		w.sawDomain = true
	}
	if dropElement(w.stack, t) {
		w.writeOpen()
		w.space = ""
		w.skip = 1
		return nil
	}
	w.flush()
	t = t.Copy()
	t.Attr = keepAttrs(w.stack, t)
	w.stack = append(w.stack, t)
	w.open = &t
	return nil
}

func (w *portableWriter) end(t xml.EndElement) error {
	if len(w.stack) == 0 {
		return errors.New("read the domain XML: unbalanced end tag")
	}
	w.stack = w.stack[:len(w.stack)-1]
	if w.open != nil {
		writeStart(&w.out, *w.open, true) // <x/>: nothing was inside
		w.open = nil
		w.out.WriteString(w.space)
		w.space = ""
		return nil
	}
	w.out.WriteString(w.space)
	w.space = ""
	w.out.WriteString("</" + qname(t.Name) + ">")
	return nil
}

// finish checks that the document was one whole domain and returns the copy.
func (w *portableWriter) finish() (string, error) {
	if !w.sawDomain {
		return "", errors.New("not a domain definition: no <domain> element")
	}
	if len(w.stack) > 0 {
		return "", fmt.Errorf("read the domain XML: <%s> is never closed", qname(w.stack[len(w.stack)-1].Name))
	}
	w.flush()
	return w.out.String(), nil
}

var autoIfname = regexp.MustCompile(`^(vnet|macvtap|macvlan)[0-9]+$`)

func attr(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func parentOf(stack []xml.StartElement) (xml.StartElement, bool) {
	if len(stack) == 0 {
		return xml.StartElement{}, false
	}
	return stack[len(stack)-1], true
}

// dropElement says which elements PortableXML leaves out, with their
// content.
func dropElement(stack []xml.StartElement, t xml.StartElement) bool {
	if t.Name.Space != "" {
		return false
	}
	parent, _ := parentOf(stack)
	switch t.Name.Local {
	case "alias":
		return len(stack) > 1 // device aliases, under <devices>
	case "emulator":
		return parent.Name.Local == "devices"
	case "seclabel":
		ty := attr(t, "type")
		return len(stack) == 1 && ty != "static" && ty != "none"
	case "target":
		return parent.Name.Local == "interface" && autoIfname.MatchString(attr(t, "dev"))
	case "source":
		switch parent.Name.Local {
		case "serial", "console", "parallel", "channel":
			return attr(parent, "type") == "pty"
		}
	}
	return false
}

// keepAttrs filters the attributes of an element PortableXML keeps.
func keepAttrs(stack []xml.StartElement, t xml.StartElement) []xml.Attr {
	var drop map[string]bool
	switch {
	case len(stack) == 0 && t.Name.Local == "domain":
		drop = map[string]bool{"id": true}
	case t.Name.Local == "console":
		drop = map[string]bool{"tty": true}
	case t.Name.Local == "source" && len(stack) > 0 && stack[len(stack)-1].Name.Local == "disk":
		drop = map[string]bool{"index": true} // position in the running backing chain
	case t.Name.Local == "graphics" && attr(t, "autoport") == "yes":
		drop = map[string]bool{"port": true, "tlsPort": true, "websocket": true}
	default:
		return t.Attr
	}
	var out []xml.Attr
	for _, a := range t.Attr {
		if a.Name.Space == "" && drop[a.Name.Local] {
			continue
		}
		out = append(out, a)
	}
	return out
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

func writeStart(b *strings.Builder, t xml.StartElement, empty bool) {
	b.WriteString("<" + qname(t.Name))
	for _, a := range t.Attr {
		b.WriteString(" " + qname(a.Name) + "='")
		escapeText(b, a.Value, true)
		b.WriteString("'")
	}
	if empty {
		b.WriteString("/>")
	} else {
		b.WriteString(">")
	}
}

// escapeText escapes what XML requires, and no more, so that whitespace and
// quotes in text stay readable.
func escapeText(b *strings.Builder, s string, inAttr bool) {
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case inAttr && r == '\'':
			b.WriteString("&apos;")
		case inAttr && r == '\n':
			b.WriteString("&#10;")
		case inAttr && r == '\t':
			b.WriteString("&#9;")
		case inAttr && r == '\r':
			b.WriteString("&#13;")
		case !inAttr && r == '\r':
			b.WriteString("&#13;")
		default:
			b.WriteRune(r)
		}
	}
}
