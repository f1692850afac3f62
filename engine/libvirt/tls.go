package libvirt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// tlsDialer reaches a daemon over TLS with libvirt's client PKI layout:
// cacert.pem, clientcert.pem and clientkey.pem in ?pkipath=DIR, or else in
// ~/.pki/libvirt (non-root users) or /etc/pki (CA/cacert.pem,
// libvirt/clientcert.pem, libvirt/private/clientkey.pem).
// go-libvirt has a TLS dialer too, but its wait for the daemon's
// certificate verdict has no deadline.
type tlsDialer struct {
	addr     string
	server   string
	noVerify bool
	ca       string
	cert     string
	key      string
}

func newTLSDialer(u *url.URL) (*tlsDialer, error) {
	q := u.Query()
	d := &tlsDialer{addr: hostPort(u, defaultTLSPort), server: u.Hostname(), noVerify: q.Get("no_verify") == "1"}
	switch dir := q.Get("pkipath"); {
	case dir != "":
		d.ca, d.cert, d.key = filepath.Join(dir, "cacert.pem"), filepath.Join(dir, "clientcert.pem"), filepath.Join(dir, "clientkey.pem")
	default:
		d.ca, d.cert, d.key = "/etc/pki/CA/cacert.pem", "/etc/pki/libvirt/clientcert.pem", "/etc/pki/libvirt/private/clientkey.pem"
		if home, err := os.UserHomeDir(); err == nil && os.Geteuid() != 0 {
			dir := filepath.Join(home, ".pki", "libvirt")
			if _, err := os.Stat(filepath.Join(dir, "clientcert.pem")); err == nil {
				d.ca, d.cert, d.key = filepath.Join(dir, "cacert.pem"), filepath.Join(dir, "clientcert.pem"), filepath.Join(dir, "clientkey.pem")
			}
		}
	}
	return d, nil
}

func (d *tlsDialer) config() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(d.cert, d.key)
	if err != nil {
		return nil, fmt.Errorf("load the TLS client certificate: %w", err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, ServerName: d.server, MinVersion: tls.VersionTLS12}
	ca, err := os.ReadFile(d.ca)
	switch {
	case err == nil:
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("no certificate in %s", d.ca)
		}
		conf.RootCAs = pool
	case !d.noVerify:
		return nil, fmt.Errorf("read the CA certificate: %w", err)
	}
	conf.InsecureSkipVerify = d.noVerify //nolint:gosec // the operator asked for it with no_verify=1
	return conf, nil
}

func (d *tlsDialer) dial(ctx context.Context) (net.Conn, error) {
	conf, err := d.config()
	if err != nil {
		return nil, err
	}
	td := tls.Dialer{Config: conf}
	c, err := td.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, err
	}
	// After the handshake the daemon sends one byte: 1 when it accepted our
	// certificate.
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(30 * time.Second)
	}
	c.SetReadDeadline(dl)
	var b [1]byte
	if _, err := c.Read(b[:]); err != nil {
		c.Close()
		return nil, fmt.Errorf("wait for the daemon to check our certificate: %w", err)
	}
	if b[0] != 1 {
		c.Close()
		return nil, errors.New("the daemon refused our TLS client certificate (or our address)")
	}
	c.SetReadDeadline(time.Time{})
	return c, nil
}
