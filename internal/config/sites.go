package config

import (
	"fmt"
	"strings"

	"github.com/repli-dr/repli/internal/textfmt"
	"github.com/repli-dr/repli/runbooks"
)

// ConfigureSites gives a site the runbook names without a URI the config's
// URI(s) (flag > environment > runbook > user config > system config), and
// resolves libvirt uri_aliases in every site's URIs, as virsh would.
func (c *Config) ConfigureSites(rb *runbooks.Runbook) error {
	for _, s := range rb.Sites {
		if s.URI == "" {
			if cs, _, ok := c.Site(s.Name); ok {
				s.URIs = append([]string(nil), cs.List()...)
				s.URI = s.URIs[0]
			}
		}
		for i, u := range s.URIs {
			r, err := ResolveSiteURI(u)
			if err != nil {
				return err
			}
			s.URIs[i] = r
		}
		if len(s.URIs) > 0 {
			s.URI = s.URIs[0]
		}
	}
	return nil
}

// RequireSiteURIs refuses to connect when a site still has no URI in uris
// (site → URI): the runbook names it only and neither --site nor a config
// file gives one. The error says where to give it.
func (c *Config) RequireSiteURIs(rb *runbooks.Runbook, uris map[string]string) error {
	var missing []string
	for _, s := range rb.Sites {
		if uris[s.Name] == "" {
			missing = append(missing, s.Name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	read := []string{}
	for _, f := range c.Files {
		read = append(read, textfmt.ShortHome(f.Path()))
	}
	what := "no config file was found"
	if len(read) > 0 {
		what = "the config (" + strings.Join(read, ", ") + ") does not give it"
	}
	ex := missing[0]
	return fmt.Errorf("site %s has no URI: the runbook names it only and %s; add \"sites: {%s: {uri: qemu+ssh://HOST/system}}\" to %s, or give --site %s=URI",
		strings.Join(missing, ", "), what, ex, textfmt.ShortHome(UserPath(nil)), ex)
}

// ResolveSiteURI resolves a libvirt uri_aliases name (libvirt.conf) to its
// URI, as ResolveURI, with the URI named in the error.
func ResolveSiteURI(uri string) (string, error) {
	r, err := ResolveURI(uri)
	if err != nil {
		return "", fmt.Errorf("resolve site URI %q: %w", uri, err)
	}
	return r, nil
}

// SiteFlag reads one --site NAME=URI flag.
func SiteFlag(flag string) (name, uri string, err error) {
	name, uri, ok := strings.Cut(flag, "=")
	if !ok || name == "" || uri == "" {
		return "", "", fmt.Errorf("--site %q: write it as NAME=URI, e.g. --site primary=qemu+ssh://kvm1/system", flag)
	}
	return name, uri, nil
}

// SiteOverrides reads --site NAME=URI flags: site → URI, libvirt
// uri_aliases resolved. With rb, a name the runbook has no site for is
// refused.
func SiteOverrides(flags []string, rb *runbooks.Runbook) (map[string]string, error) {
	uris := map[string]string{}
	for _, f := range flags {
		name, uri, err := SiteFlag(f)
		if err != nil {
			return nil, err
		}
		if rb != nil && rb.Site(name) == nil {
			return nil, fmt.Errorf("--site %q: the runbook has no site %q (its sites: %s)", f, name, strings.Join(rb.SiteNames(), ", "))
		}
		if uris[name], err = ResolveSiteURI(uri); err != nil {
			return nil, err
		}
	}
	return uris, nil
}
