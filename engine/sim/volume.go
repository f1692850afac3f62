package sim

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand"
	"sort"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/runbooks"
)

// Simulated storage volumes: byte slices in memory, streamed in chunks so
// that a copy reports progress, with faults for the copy's failure paths.
// They are not saved by Persist: a resumed demo finds its volumes as the
// process that resumed it created them.

var _ engine.VolumeCopier = (*Site)(nil)

// simChunk is how much a simulated stream moves at a time.
const simChunk = 64 << 10

type simVolume struct {
	info engine.Volume
	data []byte
}

// volumeState is a site's volumes, its domains' disks and its faults.
type volumeState struct {
	vols  map[engine.VolumeRef]*simVolume
	disks map[string][]engine.VolumeRef
	// corrupt flips one byte in the middle of every volume written.
	corrupt bool
	// stallAt blocks the next read of stallVol after that many bytes
	// until ctx is done, closing stalled: a console that dies mid-copy.
	stallVol engine.VolumeRef
	stallAt  int64
	stalled  chan struct{}
	// empty makes that many next reads end at once, without an error and
	// without a byte: a stream libvirt closed before sending anything.
	empty int
}

func (s *Site) volumes() *volumeState {
	if s.vol.vols == nil {
		s.vol.vols = map[engine.VolumeRef]*simVolume{}
		s.vol.disks = map[string][]engine.VolumeRef{}
	}
	return &s.vol
}

// AddVolume creates a volume at a site holding data (raw format), and
// attaches it as a disk of domain when domain is not empty.
func (l *Lab) AddVolume(site, pool, name string, data []byte, domain string) {
	s := l.Site(site)
	l.mu.Lock()
	defer l.mu.Unlock()
	vs := s.volumes()
	ref := engine.VolumeRef{Pool: pool, Name: name}
	vs.vols[ref] = &simVolume{info: engine.Volume{VolumeRef: ref, Capacity: int64(len(data)), Size: int64(len(data)), Format: "raw"}, data: append([]byte(nil), data...)}
	if domain != "" {
		vs.disks[domain] = append(vs.disks[domain], ref)
	}
}

// VolumeData returns a copy of a volume's content.
func (l *Lab) VolumeData(site, pool, name string) ([]byte, bool) {
	s := l.Site(site)
	l.mu.Lock()
	defer l.mu.Unlock()
	v := s.volumes().vols[engine.VolumeRef{Pool: pool, Name: name}]
	if v == nil {
		return nil, false
	}
	return append([]byte(nil), v.data...), true
}

// CorruptWrites makes every volume written at site come out with one byte
// flipped in the middle: a faulty target that a checksum must catch.
func (l *Lab) CorruptWrites(site string, on bool) {
	s := l.Site(site)
	l.mu.Lock()
	defer l.mu.Unlock()
	s.volumes().corrupt = on
}

// EmptyReads makes the next n reads of any volume at site end at once,
// with no error and no data.
func (l *Lab) EmptyReads(site string, n int) {
	s := l.Site(site)
	l.mu.Lock()
	defer l.mu.Unlock()
	s.volumes().empty = n
}

// StallRead makes the next read of volume pool/name at site stop after n
// bytes and hang until its context is done; the returned channel is
// closed when it stalls.
func (l *Lab) StallRead(site, pool, name string, n int64) <-chan struct{} {
	s := l.Site(site)
	l.mu.Lock()
	defer l.mu.Unlock()
	vs := s.volumes()
	vs.stallVol, vs.stallAt, vs.stalled = engine.VolumeRef{Pool: pool, Name: name}, n, make(chan struct{})
	return vs.stalled
}

// populateVolumes gives every volume a copy step reads a deterministic
// content at the source site (1 MiB), and every domain whose disks it
// copies one disk, default/DOMAIN.img.
func (l *Lab) populateVolumes(rb *runbooks.Runbook, uris map[string]string) {
	for _, st := range rb.Steps {
		c := runbooks.CopyOf(st)
		if c == nil {
			continue
		}
		uri := uris[c.From]
		if uri == "" {
			if s := rb.Site(c.From); s != nil {
				uri = s.URI
			}
		}
		site, ok := SiteName(uri)
		if !ok {
			continue
		}
		for _, v := range c.Volumes {
			pool, name, dom := v.Pool, v.Name, v.Domain
			if dom != "" {
				pool, name = "default", dom+".img"
			}
			if _, exists := l.VolumeData(site, pool, name); !exists {
				l.AddVolume(site, pool, name, l.content(site+"/"+pool+"/"+name, 1<<20), dom)
			}
		}
	}
}

// content is n deterministic bytes for a key and the lab's seed.
func (l *Lab) content(key string, n int) []byte {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s", l.seed, key)
	b := make([]byte, n)
	rand.New(rand.NewSource(int64(h.Sum64()))).Read(b)
	return b
}

func (s *Site) reachable() error {
	if s.unreachable {
		return fmt.Errorf("%w: sim://%s does not answer", engine.ErrUnreachable, s.name)
	}
	return nil
}

func (s *Site) volume(v engine.VolumeRef) (*simVolume, error) {
	if err := s.reachable(); err != nil {
		return nil, err
	}
	sv := s.volumes().vols[v]
	if sv == nil {
		return nil, fmt.Errorf("%w: no volume %s at sim://%s", engine.ErrVolumeNotFound, v, s.name)
	}
	return sv, nil
}

// DomainVolumes implements engine.VolumeCopier.
func (s *Site) DomainVolumes(ctx context.Context, domain string) ([]engine.VolumeRef, error) {
	s.lab.mu.Lock()
	defer s.lab.mu.Unlock()
	if _, err := s.lookup(domain); err != nil {
		return nil, err
	}
	disks := s.volumes().disks[domain]
	if len(disks) == 0 {
		return nil, fmt.Errorf("domain %s at sim://%s has no disk in a storage pool", domain, s.name)
	}
	return append([]engine.VolumeRef(nil), disks...), nil
}

// VolumeInfo implements engine.VolumeCopier.
func (s *Site) VolumeInfo(ctx context.Context, v engine.VolumeRef) (engine.Volume, error) {
	s.lab.mu.Lock()
	defer s.lab.mu.Unlock()
	sv, err := s.volume(v)
	if err != nil {
		return engine.Volume{}, err
	}
	return sv.info, nil
}

// CreateVolume implements engine.VolumeCopier.
func (s *Site) CreateVolume(ctx context.Context, v engine.Volume) error {
	s.lab.mu.Lock()
	defer s.lab.mu.Unlock()
	if err := s.reachable(); err != nil {
		return err
	}
	vs := s.volumes()
	if vs.vols[v.VolumeRef] != nil {
		return fmt.Errorf("%w: volume %s exists at sim://%s", engine.ErrInvalidOperation, v.VolumeRef, s.name)
	}
	info := v
	info.Size = v.Capacity
	vs.vols[v.VolumeRef] = &simVolume{info: info, data: make([]byte, v.Capacity)}
	return nil
}

// DeleteVolume implements engine.VolumeCopier.
func (s *Site) DeleteVolume(ctx context.Context, v engine.VolumeRef) error {
	s.lab.mu.Lock()
	defer s.lab.mu.Unlock()
	if _, err := s.volume(v); err != nil {
		return err
	}
	delete(s.volumes().vols, v)
	return nil
}

// ReadVolume implements engine.VolumeCopier, in chunks.
func (s *Site) ReadVolume(ctx context.Context, v engine.VolumeRef, w io.Writer) error {
	s.lab.mu.Lock()
	sv, err := s.volume(v)
	var data []byte
	stallAt, stalled := int64(-1), (chan struct{})(nil)
	if err == nil {
		data = append([]byte(nil), sv.data...)
		vs := s.volumes()
		if vs.stalled != nil && vs.stallVol == v {
			stallAt, stalled = vs.stallAt, vs.stalled
			vs.stalled = nil // the next read only
		}
		if vs.empty > 0 {
			vs.empty--
			data = nil
		}
	}
	s.lab.mu.Unlock()
	if err != nil {
		return err
	}
	for off := 0; off < len(data); off += simChunk {
		if stalled != nil && int64(off) >= stallAt {
			close(stalled)
			<-ctx.Done()
			return fmt.Errorf("%w: sim://%s: stream interrupted: %w", engine.ErrUnreachable, s.name, ctx.Err())
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := w.Write(data[off:min(off+simChunk, len(data))]); err != nil {
			return err
		}
	}
	return nil
}

// WriteVolume implements engine.VolumeCopier: the volume holds what r
// yields once r ends; a failed write leaves what arrived so far.
func (s *Site) WriteVolume(ctx context.Context, v engine.VolumeRef, r io.Reader) error {
	s.lab.mu.Lock()
	_, err := s.volume(v)
	s.lab.mu.Unlock()
	if err != nil {
		return err
	}
	var got []byte
	buf := make([]byte, simChunk)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, rerr := r.Read(buf)
		got = append(got, buf[:n]...)
		s.store(v, got)
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	s.lab.mu.Lock()
	defer s.lab.mu.Unlock()
	if s.volumes().corrupt && len(got) > 0 {
		s.volumes().vols[v].data[len(got)/2] ^= 0xff
	}
	return nil
}

// store writes what arrived so far over the start of the volume.
func (s *Site) store(v engine.VolumeRef, got []byte) {
	s.lab.mu.Lock()
	defer s.lab.mu.Unlock()
	sv := s.volumes().vols[v]
	if sv == nil {
		return
	}
	if len(got) > len(sv.data) {
		sv.data = append(sv.data, make([]byte, len(got)-len(sv.data))...)
	}
	copy(sv.data, got)
	sv.info.Size = int64(len(sv.data))
}

// VolumeNames lists a site's volumes, sorted, for tests and the demo.
func (l *Lab) VolumeNames(site string) []string {
	s := l.Site(site)
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for ref := range s.volumes().vols {
		out = append(out, ref.String())
	}
	sort.Strings(out)
	return out
}
