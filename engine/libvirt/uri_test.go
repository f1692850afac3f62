package libvirt

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/repli-dr/repli/engine"
)

func TestParseURI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		uri       string
		transport string
		remote    string
		display   string
		err       string
	}{
		{uri: "qemu:///system", transport: "unix", remote: "qemu:///system"},
		{uri: "qemu:///session", transport: "unix", remote: "qemu:///session"},
		{uri: "qemu+unix:///system?socket=/tmp/x/libvirt-sock", transport: "unix", remote: "qemu:///system"},
		{uri: "test+unix:///default?socket=/tmp/x/libvirt-sock", transport: "unix", remote: "test:///default"},
		{uri: "qemu+tcp://127.0.0.1/system", transport: "tcp", remote: "qemu:///system"},
		{uri: "qemu+tls://127.0.0.1:16514/system?pkipath=/tmp/pki", transport: "tls", remote: "qemu:///system"},
		{uri: "qemu://kvm1.example/system", transport: "tls", remote: "qemu:///system"},
		{uri: "qemu+ssh://root@kvm1:2222/system", transport: "ssh", remote: "qemu:///system"},
		{uri: "qemu+ssh://kvm1/system?name=qemu:///session", transport: "ssh", remote: "qemu:///session"},
		{uri: "qemu+ssh://ops:s3cret@kvm1/system", transport: "ssh", remote: "qemu:///system", display: "qemu+ssh://ops:xxxxx@kvm1/system"},
		{uri: "kvm1/system", err: "has no driver"},
		{uri: "qemu+libssh2://kvm1/system", err: `transport "libssh2" is not supported`},
		{uri: "qemu+unix://kvm1/system", err: "reaches this machine only"},
		{uri: "qemu+tcp:///system", err: "needs a host"},
		{uri: "qemu+ssh:///system", err: "needs a host"},
		{uri: "qemu+ssh://kvm1/system?proxy=carrier-pigeon", err: "proxy=carrier-pigeon"},
		{uri: "qemu+ssh://kvm1/system?proxy=native&netcat=/bin/nc", err: "cannot be used with proxy=native"},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			ep, err := parseURI(tt.uri, Options{})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("parseURI(%q) error = %v, want one containing %q", tt.uri, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseURI(%q): %v", tt.uri, err)
			}
			if ep.transport != tt.transport || string(ep.remote) != tt.remote {
				t.Errorf("parseURI(%q) = transport %s, remote %s; want %s, %s", tt.uri, ep.transport, ep.remote, tt.transport, tt.remote)
			}
			want := tt.display
			if want == "" {
				want = tt.uri
			}
			if ep.display != want {
				t.Errorf("display = %q, want %q", ep.display, want)
			}
		})
	}
}

func TestSSHArguments(t *testing.T) {
	t.Parallel()
	u, _ := url.Parse("qemu+ssh://ops@kvm1:2222/system?keyfile=/k/id&no_verify=1")
	d, err := newSSHDialer(u, "qemu:///system", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(d.args[:len(d.args)-1], " ")
	want := "-p 2222 -l ops -i /k/id -T -e none -o BatchMode=yes -o StrictHostKeyChecking=no -- kvm1"
	if got != want || d.binary != "ssh" {
		t.Errorf("ssh %s\nwant ssh %s", got, want)
	}
}

// TestRemoteCommand runs the command ssh would send through a local shell,
// as the far side's login shell would, with stand-ins for virt-ssh-helper
// and nc that print how they were called.
func TestRemoteCommand(t *testing.T) {
	t.Parallel()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	fake := func(t *testing.T, names ...string) string {
		dir := t.TempDir()
		for _, tool := range []string{"sh", "grep"} {
			p, err := exec.LookPath(tool)
			if err != nil {
				t.Skipf("no %s", tool)
			}
			os.Symlink(p, filepath.Join(dir, tool))
		}
		for _, n := range names {
			os.WriteFile(filepath.Join(dir, n), []byte("#!"+sh+"\necho "+n+" \"$@\"\n"), 0o755)
		}
		return dir
	}
	tests := []struct {
		name  string
		query string
		tools []string
		want  string
	}{
		{"helper when present", "", []string{"virt-ssh-helper", "nc"}, "virt-ssh-helper qemu:///system"},
		{"nc when the helper is absent", "socket=/tmp/it's here/sock", []string{"nc"}, "nc -U /tmp/it's here/sock"},
		{"nc on the default socket", "", []string{"nc"}, "nc -U /var/run/libvirt/libvirt-sock"},
		{"netcat forced", "proxy=netcat&socket=/s", []string{"virt-ssh-helper", "nc"}, "nc -U /s"},
		{"netcat path", "netcat=mync&socket=/s", []string{"virt-ssh-helper", "mync"}, "mync -U /s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			cmd, err := remoteCommand(q, "qemu:///system", "/system")
			if err != nil {
				t.Fatal(err)
			}
			c := exec.Command(sh, "-c", cmd)
			c.Env = []string{"PATH=" + fake(t, tt.tools...)}
			out, err := c.CombinedOutput()
			if err != nil {
				t.Fatalf("sh -c %s: %v: %s", cmd, err, out)
			}
			if got := strings.TrimSpace(string(out)); got != tt.want {
				t.Errorf("far side ran %q, want %q (command %s)", got, tt.want, cmd)
			}
		})
	}
}

func TestKindOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want error
	}{
		{golibvirt.Error{Code: uint32(golibvirt.ErrNoDomain), Message: "Domain not found"}, engine.ErrDomainNotFound},
		{fmt.Errorf("start: %w", golibvirt.Error{Code: uint32(golibvirt.ErrOperationInvalid)}), engine.ErrInvalidOperation},
		{golibvirt.Error{Code: uint32(golibvirt.ErrNoDomainSnapshot)}, engine.ErrDomainNotFound},
		{golibvirt.ErrInterrupted, engine.ErrUnreachable},
		{golibvirt.Error{Code: uint32(golibvirt.ErrInternalError)}, nil},
		{errors.New("something else"), nil},
	}
	for _, tt := range tests {
		if got := kindOf(tt.err); got != tt.want {
			t.Errorf("kindOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	e := &Error{Site: "primary", URI: "qemu+ssh://kvm1/system", Kind: engine.ErrUnreachable, Err: &errNoAnswer{budget: 30e9, cause: context.DeadlineExceeded}}
	want := "site primary (qemu+ssh://kvm1/system): no answer within 30s — check the host or the link"
	if e.Error() != want {
		t.Errorf("got  %s\nwant %s", e, want)
	}
	if !errors.Is(e, engine.ErrUnreachable) || !errors.Is(e, context.DeadlineExceeded) {
		t.Errorf("%v does not wrap ErrUnreachable and DeadlineExceeded", e)
	}
	e = &Error{Site: "secondary", URI: "test:///default", Domain: "db-01", Op: "start", Kind: engine.ErrInvalidOperation, Err: errors.New("Requested operation is not valid: domain is already running")}
	want = "site secondary (test:///default), domain db-01: start: Requested operation is not valid: domain is already running"
	if e.Error() != want {
		t.Errorf("got  %s\nwant %s", e, want)
	}
}

func TestStateOf(t *testing.T) {
	t.Parallel()
	want := map[golibvirt.DomainState]engine.DomainState{
		golibvirt.DomainNostate:     engine.StateNoState,
		golibvirt.DomainRunning:     engine.StateRunning,
		golibvirt.DomainBlocked:     engine.StateBlocked,
		golibvirt.DomainPaused:      engine.StatePaused,
		golibvirt.DomainShutdown:    engine.StateShuttingDown,
		golibvirt.DomainShutoff:     engine.StateShutoff,
		golibvirt.DomainCrashed:     engine.StateCrashed,
		golibvirt.DomainPmsuspended: engine.StateSuspended,
	}
	for in, w := range want {
		if got := stateOf(int32(in)); got != w {
			t.Errorf("stateOf(%d) = %s, want %s", in, got, w)
		}
	}
}
