package libvirt

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/repli-dr/repli/engine"
)

// Storage volumes through libvirt's own streams: virStorageVolDownload and
// virStorageVolUpload over the site's connection, the same calls as virsh
// vol-download and vol-upload. The engine pipes one site's download into
// the other's upload (engine.VolumeCopier); the data flows through the
// console, which needs no access to either host's disks.
//
// On a site of several hosts, a volume is looked for on each host in
// order and used where found; a new one is created on the first host.
// A stream has the whole copy's deadline (its ctx), not the call timeout.

var _ engine.VolumeCopier = (*Site)(nil)

// volGetPhysical is VIR_STORAGE_VOL_GET_PHYSICAL: GetInfoFlags then gives
// the bytes on disk (the file's length), which is what a download yields.
const volGetPhysical = 1

// volumeOnHost finds a volume on the site's hosts, in order.
func (s *Site) volumeOnHost(ctx context.Context, v engine.VolumeRef) (*host, golibvirt.StorageVol, error) {
	var lastErr error
	for _, h := range s.hosts {
		var vol golibvirt.StorageVol
		err := h.do(ctx, func(lv *golibvirt.Libvirt) error {
			pool, err := lv.StoragePoolLookupByName(v.Pool)
			if err != nil {
				return err
			}
			vol, err = lv.StorageVolLookupByName(pool, v.Name)
			return err
		})
		if err == nil {
			return h, vol, nil
		}
		lastErr = s.volumeError(h, v, "look up volume", err)
		if !errors.Is(lastErr, engine.ErrVolumeNotFound) {
			return nil, vol, lastErr
		}
	}
	return nil, golibvirt.StorageVol{}, lastErr
}

// volumeError names the volume and maps libvirt's "no such pool/volume".
func (s *Site) volumeError(h *host, v engine.VolumeRef, op string, err error) error {
	if err == nil {
		return nil
	}
	var le golibvirt.Error
	if errors.As(err, &le) {
		switch golibvirt.ErrorNumber(le.Code) {
		case golibvirt.ErrNoStorageVol, golibvirt.ErrNoStoragePool:
			return &Error{Site: s.name, URI: h.ep.display, Op: op + " " + v.String(), Kind: engine.ErrVolumeNotFound, Err: err}
		}
	}
	return s.wrap(h, "", op+" "+v.String(), err)
}

// DomainVolumes implements engine.VolumeCopier: the disks of the domain's
// persistent definition (cdroms and floppies excepted), each found in its
// storage pool by path when the definition names a file or a device.
func (s *Site) DomainVolumes(ctx context.Context, domain string) ([]engine.VolumeRef, error) {
	x, err := s.DomainXML(ctx, domain)
	if err != nil {
		return nil, err
	}
	var def struct {
		Disks []struct {
			Type   string `xml:"type,attr"`
			Device string `xml:"device,attr"`
			Source struct {
				File   string `xml:"file,attr"`
				Dev    string `xml:"dev,attr"`
				Pool   string `xml:"pool,attr"`
				Volume string `xml:"volume,attr"`
			} `xml:"source"`
			Target struct {
				Dev string `xml:"dev,attr"`
			} `xml:"target"`
		} `xml:"devices>disk"`
	}
	if err := xml.Unmarshal([]byte(x), &def); err != nil {
		return nil, &Error{Site: s.name, URI: s.uriList(), Domain: domain, Op: "read the disks of the definition", Err: err}
	}
	h, err := s.hostOf(ctx, domain, false)
	if err != nil {
		return nil, err
	}
	var out []engine.VolumeRef
	for _, d := range def.Disks {
		if d.Device != "" && d.Device != "disk" {
			continue
		}
		path := d.Source.File
		if d.Type == "block" {
			path = d.Source.Dev
		}
		switch {
		case d.Type == "volume" && d.Source.Pool != "" && d.Source.Volume != "":
			out = append(out, engine.VolumeRef{Pool: d.Source.Pool, Name: d.Source.Volume})
			continue
		case (d.Type == "file" || d.Type == "block") && path != "":
		default:
			return nil, &Error{Site: s.name, URI: h.ep.display, Domain: domain, Op: "list disks", Kind: engine.ErrInvalidOperation,
				Err: fmt.Errorf("disk %s is a %s disk, not a volume of a storage pool: copy it with your replication tool (an exec step)", d.Target.Dev, orDash(d.Type))}
		}
		var vol golibvirt.StorageVol
		err := h.do(ctx, func(lv *golibvirt.Libvirt) (err error) { vol, err = lv.StorageVolLookupByPath(path); return err })
		if err != nil {
			return nil, &Error{Site: s.name, URI: h.ep.display, Domain: domain, Op: "find disk " + d.Target.Dev + " in a storage pool", Kind: engine.ErrInvalidOperation,
				Err: fmt.Errorf("%s is in no active storage pool (refresh the pool that holds it: virsh pool-refresh NAME; or define one over its directory: virsh pool-define-as NAME dir --target DIR): %w", path, err)}
		}
		out = append(out, engine.VolumeRef{Pool: vol.Pool, Name: vol.Name})
	}
	if len(out) == 0 {
		return nil, &Error{Site: s.name, URI: h.ep.display, Domain: domain, Op: "list disks", Kind: engine.ErrInvalidOperation, Err: errors.New("the domain has no disk to copy")}
	}
	return out, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// VolumeInfo implements engine.VolumeCopier.
func (s *Site) VolumeInfo(ctx context.Context, v engine.VolumeRef) (engine.Volume, error) {
	h, vol, err := s.volumeOnHost(ctx, v)
	if err != nil {
		return engine.Volume{}, err
	}
	out := engine.Volume{VolumeRef: v}
	err = h.do(ctx, func(lv *golibvirt.Libvirt) error {
		_, capacity, _, err := lv.StorageVolGetInfo(vol)
		if err != nil {
			return err
		}
		out.Capacity, out.Size = int64(capacity), int64(capacity)
		if _, _, physical, err := lv.StorageVolGetInfoFlags(vol, volGetPhysical); err == nil && physical > 0 {
			out.Size = int64(physical)
		}
		x, err := lv.StorageVolGetXMLDesc(vol, 0)
		if err != nil {
			return err
		}
		var def struct {
			Format struct {
				Type string `xml:"type,attr"`
			} `xml:"target>format"`
		}
		if xml.Unmarshal([]byte(x), &def) == nil {
			out.Format = def.Format.Type
		}
		return nil
	})
	return out, s.volumeError(h, v, "read volume", err)
}

// CreateVolume implements engine.VolumeCopier: an empty volume of the same
// capacity and format, on the first host that has the pool.
func (s *Site) CreateVolume(ctx context.Context, v engine.Volume) error {
	var x strings.Builder
	x.WriteString("<volume><name>")
	xml.EscapeText(&x, []byte(v.Name))
	fmt.Fprintf(&x, "</name><capacity unit='bytes'>%d</capacity><allocation unit='bytes'>0</allocation>", v.Capacity)
	if v.Format != "" {
		x.WriteString("<target><format type='")
		xml.EscapeText(&x, []byte(v.Format))
		x.WriteString("'/></target>")
	}
	x.WriteString("</volume>")
	var lastErr error
	for _, h := range s.hosts {
		err := h.do(ctx, func(lv *golibvirt.Libvirt) error {
			pool, err := lv.StoragePoolLookupByName(v.Pool)
			if err != nil {
				return err
			}
			_, err = lv.StorageVolCreateXML(pool, x.String(), 0)
			return err
		})
		if err == nil {
			return nil
		}
		lastErr = s.volumeError(h, v.VolumeRef, "create volume", err)
		if !errors.Is(lastErr, engine.ErrVolumeNotFound) { // no such pool here: try the next host
			return lastErr
		}
	}
	return lastErr
}

// DeleteVolume implements engine.VolumeCopier.
func (s *Site) DeleteVolume(ctx context.Context, v engine.VolumeRef) error {
	h, vol, err := s.volumeOnHost(ctx, v)
	if err != nil {
		return err
	}
	return s.volumeError(h, v, "delete volume", h.do(ctx, func(lv *golibvirt.Libvirt) error { return lv.StorageVolDelete(vol, 0) }))
}

// ReadVolume implements engine.VolumeCopier with virStorageVolDownload. When
// w fails, the connection is closed: libvirt would otherwise go on
// streaming the rest of the volume into it, and no call could use the
// connection until it had (the next call reconnects).
func (s *Site) ReadVolume(ctx context.Context, v engine.VolumeRef, w io.Writer) error {
	h, vol, err := s.volumeOnHost(ctx, v)
	if err != nil {
		return err
	}
	sw := &sideWriter{w: w}
	err = h.doLink(ctx, func(k *link) error {
		err := k.lv.StorageVolDownload(vol, sw, 0, 0, 0)
		if werr := sw.failed(); werr != nil {
			k.kill(fmt.Errorf("volume download of %s abandoned: %w", v, werr))
			return werr
		}
		return err
	})
	if werr := sw.failed(); werr != nil {
		return werr // the receiving side's reason, not the closed link's
	}
	return s.volumeError(h, v, "download volume", err)
}

// WriteVolume implements engine.VolumeCopier with virStorageVolUpload. When
// r fails, go-libvirt tells libvirt the stream failed, and libvirt aborts
// the upload.
func (s *Site) WriteVolume(ctx context.Context, v engine.VolumeRef, r io.Reader) error {
	h, vol, err := s.volumeOnHost(ctx, v)
	if err != nil {
		return err
	}
	sr := &sideReader{r: r}
	err = h.doLink(ctx, func(k *link) error { return k.lv.StorageVolUpload(vol, sr, 0, 0, 0) })
	if rerr := sr.failed(); rerr != nil {
		return rerr
	}
	return s.volumeError(h, v, "upload volume", err)
}

// sideWriter remembers the error of the writer a download feeds.
type sideWriter struct {
	w   io.Writer
	mu  sync.Mutex
	err error
}

func (s *sideWriter) Write(b []byte) (int, error) {
	n, err := s.w.Write(b)
	if err != nil {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
	}
	return n, err
}

func (s *sideWriter) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// sideReader remembers the error (other than the end) of the reader an
// upload drains.
type sideReader struct {
	r   io.Reader
	mu  sync.Mutex
	err error
}

func (s *sideReader) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	if err != nil && err != io.EOF {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
	}
	return n, err
}

func (s *sideReader) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
