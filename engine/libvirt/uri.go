package libvirt

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	golibvirt "github.com/digitalocean/go-libvirt"
)

// endpoint is what a libvirt URI says about reaching one host's daemon: how
// to open the byte stream, and what to ask the daemon to open once there.
type endpoint struct {
	raw       string
	display   string // raw with any password hidden, for messages
	transport string // unix, tcp, tls or ssh
	remote    golibvirt.ConnectURI
	dial      func(ctx context.Context) (net.Conn, error)
}

// Default ports of libvirtd, as libvirt's remote driver uses them.
const (
	defaultTCPPort = "16509"
	defaultTLSPort = "16514"
)

// parseURI reads a URI exactly as virsh takes it: driver[+transport]://[user@][host][:port]/path[?params].
// Without a transport, a URI naming a host means TLS and one without means
// the local unix socket, as in libvirt.
func parseURI(raw string, o Options) (*endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("libvirt URI %q: %w", raw, err)
	}
	if u.Scheme == "" {
		return nil, fmt.Errorf("libvirt URI %q has no driver: write it like qemu:///system or qemu+ssh://host/system", raw)
	}
	driver, transport, hasTransport := strings.Cut(u.Scheme, "+")
	if !hasTransport {
		transport = "unix"
		if u.Host != "" {
			transport = "tls"
		}
	}
	q := u.Query()
	ep := &endpoint{raw: raw, display: raw, transport: transport, remote: golibvirt.RemoteURI(u)}
	if _, hasPw := u.User.Password(); hasPw {
		ep.display = u.Redacted()
	}
	switch transport {
	case "unix":
		if u.Host != "" {
			return nil, fmt.Errorf("libvirt URI %q: the unix transport reaches this machine only; drop the host %q or use +ssh", raw, u.Host)
		}
		sock := q.Get("socket")
		if sock == "" {
			sock = defaultSocket(driver, u.Path)
		}
		ep.dial = func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}
	case "tcp":
		addr := hostPort(u, defaultTCPPort)
		if u.Hostname() == "" {
			return nil, fmt.Errorf("libvirt URI %q: the tcp transport needs a host", raw)
		}
		ep.dial = func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}
	case "tls":
		if u.Hostname() == "" {
			return nil, fmt.Errorf("libvirt URI %q: the tls transport needs a host", raw)
		}
		t, err := newTLSDialer(u)
		if err != nil {
			return nil, fmt.Errorf("libvirt URI %q: %w", raw, err)
		}
		ep.dial = t.dial
	case "ssh":
		s, err := newSSHDialer(u, ep.remote, o.Env)
		if err != nil {
			return nil, fmt.Errorf("libvirt URI %q: %w", raw, err)
		}
		ep.dial = s.dial
	default:
		return nil, fmt.Errorf("libvirt URI %q: transport %q is not supported; use unix, tcp, tls or ssh (the ssh transport runs the system ssh, with your ~/.ssh/config)", raw, transport)
	}
	return ep, nil
}

func hostPort(u *url.URL, def string) string {
	port := u.Port()
	if port == "" {
		port = def
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// defaultSocket is where libvirt's client looks for a local daemon when the
// URI names no socket: the per-user runtime directory for /session, the
// system one otherwise, preferring the monolithic libvirtd's socket and
// falling back to the driver's own modular daemon.
func defaultSocket(driver, path string) string {
	dir := "/var/run/libvirt"
	if path == "/session" {
		if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
			dir = filepath.Join(rt, "libvirt")
		} else if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".cache", "libvirt")
		}
	}
	for _, name := range []string{"libvirt-sock", "virt" + driver + "d-sock", "virtproxyd-sock"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return filepath.Join(dir, "libvirt-sock")
}
