package replica

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// ErrOtherReplica is returned by Start when the trail is already being
// replicated elsewhere than asked.
var ErrOtherReplica = errors.New("the trail is already replicated elsewhere")

// holder is who replicates a trail, as its lock file says.
type holder struct {
	PID    int    `json:"pid"`
	Socket string `json:"socket"`
	URL    string `json:"url"` // redacted
}

// claim takes the trail's replication lock, <trail>.litestream.lock
// (flock, released when the process ends however it ends): one Litestream
// per trail, since two shipping one file to one replica would corrupt the
// replica. If another console holds it, claim returns what it recorded.
func claim(lockPath string, me holder) (*os.File, *holder, error) {
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("lock the trail for replication: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); errors.Is(err, syscall.EWOULDBLOCK) {
		var h holder
		b, _ := io.ReadAll(f)
		f.Close()
		if err := json.Unmarshal(b, &h); err != nil || h.Socket == "" {
			return nil, nil, fmt.Errorf("lock the trail for replication: another console is starting its replica; try again")
		}
		return nil, &h, nil
	} else if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("lock the trail for replication: %w", err)
	}
	b, _ := json.Marshal(me)
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt(b, 0)
	}
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("lock the trail for replication: %w", err)
	}
	return f, nil, nil
}
