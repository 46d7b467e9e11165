package snapshot

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/fsutil"
)

// Sidecar is the JSON file written beside a snapshot (FILE.json).
type Sidecar struct {
	File        string    `json:"file"`
	ClusterID   string    `json:"clusterID"`
	Member      string    `json:"member"`
	MemberID    string    `json:"memberID"`
	Endpoint    string    `json:"endpoint"`
	EtcdVersion string    `json:"etcdVersion"`
	CreatedAt   time.Time `json:"createdAt"`
	Info
	// HashKVMember is the member's own HashKV at Revision, when the save
	// asked for it (--check-member-hash); it equals Info.HashKV.
	HashKVMember uint32 `json:"hashKVMember,omitempty"`
	// Verification records the last successful `snapshot verify`.
	VerifiedAt *time.Time `json:"verifiedAt,omitempty"`
	DrilledAt  *time.Time `json:"drilledAt,omitempty"`
	Etcdpilot  string     `json:"etcdpilotVersion"`
	// Encoding lists what the stored file went through ("zstd", "age");
	// the sizes and hashes above are the raw snapshot's, StoredSHA256 the
	// stored file's.
	Encoding     []string `json:"encoding,omitempty"`
	StoredSHA256 string   `json:"storedSHA256,omitempty"`
}

// SidecarPath is the sidecar of a snapshot file.
func SidecarPath(snap string) string { return snap + ".json" }

// ReadSidecar reads FILE.json; os.ErrNotExist when there is none.
func ReadSidecar(snap string) (*Sidecar, error) {
	b, err := os.ReadFile(SidecarPath(snap))
	if err != nil {
		return nil, err
	}
	var s Sidecar
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %v", SidecarPath(snap), err)
	}
	return &s, nil
}

// WriteSidecar writes FILE.json atomically.
func WriteSidecar(snap string, s *Sidecar) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFile(SidecarPath(snap), append(b, '\n'), 0o600)
}

func isNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
