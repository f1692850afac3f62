package runbooks

import (
	"bytes"
	"net/url"

	"gopkg.in/yaml.v3"
)

// maskedPassword replaces a password in a recorded URI (as engine.RedactURI).
const maskedPassword = "xxxxx"

// sitePassword notes a password written in a site's URI, and warns: repli's
// libvirt connection never uses one (go-libvirt speaks no SASL: ssh keys and
// TLS certificates authenticate), and it would otherwise be recorded.
func (p *parser) sitePassword(sf *fields, site *Site, what string) {
	for i, uri := range site.URIs {
		u, err := url.Parse(uri)
		if err != nil || u.User == nil {
			continue
		}
		pw, has := u.User.Password()
		if !has || pw == "" || pw == maskedPassword {
			continue
		}
		p.sitePasswords = append(p.sitePasswords, pw)
		n := sf.val["uri"]
		if sf.has("uris") {
			if l := p.resolve(sf.val["uris"]); l != nil && l.Kind == yaml.SequenceNode && i < len(l.Content) {
				n = l.Content[i]
			}
		}
		p.warnf(n, "%s: the URI holds a password, which repli does not use (its libvirt connection authenticates with ssh keys or TLS certificates) and masks in what it records and shows; remove it from the runbook", what)
	}
}

// maskSitePasswords returns the source as it is recorded with a run: the
// passwords written in site URIs (user:PASSWORD@host) replaced by xxxxx.
// The run's SHA-256 is then that of the masked text, which a resume re-reads
// and re-masks to the same bytes. A password written in an escaped form that
// is not found as user:PASSWORD@ is masked wherever it appears.
func (p *parser) maskSitePasswords(src []byte) []byte {
	if len(p.sitePasswords) == 0 {
		return src
	}
	out := src
	for _, pw := range p.sitePasswords {
		at := []byte(":" + pw + "@")
		if bytes.Contains(out, at) {
			out = bytes.ReplaceAll(out, at, []byte(":"+maskedPassword+"@"))
			continue
		}
		if len(pw) >= 3 {
			out = bytes.ReplaceAll(out, []byte(pw), []byte(maskedPassword))
		}
	}
	return out
}

// RedactVars masks passwords in var values that are URIs, for the vars
// recorded with a run (RunStarted.Vars): a --var carrying a site URI with a
// password is recorded without it.
func RedactVars(vars map[string]string) map[string]string {
	if vars == nil {
		return nil
	}
	out := make(map[string]string, len(vars))
	for k, v := range vars {
		out[k] = v
		if u, err := url.Parse(v); err == nil && u.User != nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), maskedPassword)
				out[k] = u.String()
			}
		}
	}
	return out
}
