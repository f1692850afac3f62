package engine

import (
	"context"
	"errors"
	"io"
)

// VolumeRef names a storage volume: a storage pool and a volume in it.
type VolumeRef struct {
	Pool string `json:"pool"`
	Name string `json:"name"`
}

func (v VolumeRef) String() string { return v.Pool + "/" + v.Name }

// Volume describes a storage volume.
type Volume struct {
	VolumeRef
	// Capacity is the size the guest sees; Size the bytes a read yields
	// (the file's length for a file-backed volume: less than the capacity
	// for qcow2); Format is raw, qcow2, … ("" when unknown).
	Capacity int64  `json:"capacity"`
	Size     int64  `json:"size"`
	Format   string `json:"format,omitempty"`
}

// ErrVolumeNotFound: the pool has no such volume (or there is no such pool).
var ErrVolumeNotFound = errors.New("storage volume not found")

// VolumeCopier is implemented by hypervisors whose storage volumes can be
// read and written through the hypervisor itself (libvirt's volume download
// and upload streams). It is optional: the copy step checks for it with a
// type assertion and says so when a site lacks it.
//
// Every method must return when ctx is done, whatever the far side does;
// ReadVolume and WriteVolume stream for as long as the volume takes, so
// their ctx carries the whole copy's deadline, not a single call's.
type VolumeCopier interface {
	// DomainVolumes lists the volumes behind a domain's disks, in the
	// order of its definition. A disk that is not a volume of a storage
	// pool (a block device outside any pool, a network disk) is an error
	// that names it: it cannot be copied this way.
	DomainVolumes(ctx context.Context, domain string) ([]VolumeRef, error)
	// VolumeInfo describes a volume; ErrVolumeNotFound when it is missing.
	VolumeInfo(ctx context.Context, v VolumeRef) (Volume, error)
	// CreateVolume creates an empty volume like v (pool, name, capacity,
	// format) at this site.
	CreateVolume(ctx context.Context, v Volume) error
	// DeleteVolume removes a volume.
	DeleteVolume(ctx context.Context, v VolumeRef) error
	// ReadVolume writes the volume's whole content to w. When w fails the
	// read stops and returns w's error.
	ReadVolume(ctx context.Context, v VolumeRef, w io.Writer) error
	// WriteVolume writes everything r yields into the volume, from its
	// first byte. When r fails the write is aborted at the far side and
	// the error returned.
	WriteVolume(ctx context.Context, v VolumeRef, r io.Reader) error
}
