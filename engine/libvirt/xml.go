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
	var out strings.Builder
	var stack []xml.StartElement
	var open *xml.StartElement // written when we know whether it is empty
	var space string           // whitespace held back: dropped with a dropped element
	skip := 0
	sawDomain := false
	flush := func() {
		if open != nil {
			writeStart(&out, *open, false)
			open = nil
		}
		out.WriteString(space)
		space = ""
	}
	for {
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("read the domain XML: %w", err)
		}
		if skip > 0 {
			switch tok.(type) {
			case xml.StartElement:
				skip++
			case xml.EndElement:
				skip--
			}
			continue
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				if t.Name.Local != "domain" || t.Name.Space != "" {
					return "", fmt.Errorf("not a domain definition: the root element is <%s>", qname(t.Name))
				}
				sawDomain = true
			}
			if dropElement(stack, t) {
				if open != nil {
					writeStart(&out, *open, false)
					open = nil
				}
				space = ""
				skip = 1
				continue
			}
			flush()
			t = t.Copy()
			t.Attr = keepAttrs(stack, t)
			stack = append(stack, t)
			open = &t
		case xml.EndElement:
			if len(stack) == 0 {
				return "", errors.New("read the domain XML: unbalanced end tag")
			}
			stack = stack[:len(stack)-1]
			if open != nil {
				writeStart(&out, *open, true) // <x/>: nothing was inside
				open = nil
				out.WriteString(space)
				space = ""
				continue
			}
			out.WriteString(space)
			space = ""
			out.WriteString("</" + qname(t.Name) + ">")
		case xml.CharData:
			if strings.TrimSpace(string(t)) == "" {
				if open != nil {
					writeStart(&out, *open, false)
					open = nil
				}
				space += string(t)
				continue
			}
			flush()
			escapeText(&out, string(t), false)
		case xml.Comment:
			flush()
			out.WriteString("<!--" + string(t) + "-->")
		case xml.ProcInst:
			flush()
			out.WriteString("<?" + t.Target + " " + string(t.Inst) + "?>")
		case xml.Directive:
			flush()
			out.WriteString("<!" + string(t) + ">")
		}
	}
	if !sawDomain {
		return "", errors.New("not a domain definition: no <domain> element")
	}
	if len(stack) > 0 {
		return "", fmt.Errorf("read the domain XML: <%s> is never closed", qname(stack[len(stack)-1].Name))
	}
	flush()
	return out.String(), nil
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
