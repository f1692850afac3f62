package libvirt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/libvirt/libvirtlab"
)

// TestTCPAndTLS reaches a daemon listening on 127.0.0.1 over plain TCP and
// over TLS with libvirt's client PKI layout (?pkipath=).
func TestTCPAndTLS(t *testing.T) {
	t.Parallel()
	dir := libvirtlab.TempDir(t)
	pki := filepath.Join(dir, "pki")
	listen := writePKI(t, pki)
	listen.TCPPort, listen.TLSPort = libvirtlab.FreePort(t), libvirtlab.FreePort(t)
	d := libvirtlab.StartTestDaemon(t, dir, "primary", listen)
	d.Define(t, "running", "db-01")

	for _, uri := range []string{
		fmt.Sprintf("test+tcp://127.0.0.1:%d/default", listen.TCPPort),
		fmt.Sprintf("test+tls://127.0.0.1:%d/default?pkipath=%s", listen.TLSPort, pki),
	} {
		t.Run(strings.SplitN(uri, ":", 2)[0], func(t *testing.T) {
			s := openSite(t, "primary", testOpts, uri)
			wantState(t, s, "db-01", engine.StateRunning)
			info, err := s.Info(ctxFor(t, 10*time.Second))
			if err != nil || info.Hypervisor != "TEST" {
				t.Errorf("Info over %s = %+v, %v", uri, info, err)
			}
		})
	}

	// A client without a certificate the daemon trusts is refused, with a
	// message that says so.
	other := filepath.Join(dir, "other-pki")
	writePKI(t, other)
	uri := fmt.Sprintf("test+tls://127.0.0.1:%d/default?pkipath=%s", listen.TLSPort, other)
	s := openSite(t, "primary", testOpts, uri)
	_, err := s.Info(ctxFor(t, 10*time.Second))
	t.Logf("untrusted client certificate: %v", err)
	if !errors.Is(err, engine.ErrUnreachable) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Info with an untrusted client certificate = %v", err)
	}
}

// writePKI writes a CA, a server certificate for 127.0.0.1 and a client
// certificate, with the key usages libvirt checks.
func writePKI(t *testing.T, dir string) *libvirtlab.Listen {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	now := time.Now().Add(-time.Hour)
	caKey := newKey()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "repli test CA"},
		NotBefore: now, NotAfter: now.Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, certFile, keyFile string) (string, string) {
		k := newKey()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, Organization: []string{"repli"}},
			NotBefore: now, NotAfter: now.Add(48 * time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, BasicConstraintsValid: true,
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return write(certFile, "CERTIFICATE", der), write(keyFile, "PRIVATE KEY", kder)
	}
	l := &libvirtlab.Listen{CAFile: write("cacert.pem", "CERTIFICATE", caDER)}
	l.CertFile, l.KeyFile = issue(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, "servercert.pem", "serverkey.pem")
	issue(3, "repli-client", x509.ExtKeyUsageClientAuth, "clientcert.pem", "clientkey.pem")
	return l
}
