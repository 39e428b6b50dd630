package seglog

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ssevents/ssevents/internal/streamid"
)

// Dataset is the identity of the history in a directory: a new directory
// (or one whose identity file is gone) is a new dataset, whose ids are
// unknown to every other.
type Dataset struct {
	// ID is random, made with the dataset.
	ID string
	// First is the first id the dataset may issue: an older id is from
	// another dataset.
	First streamid.ID
	// Floor is the greatest id of the segments dropped so far: every
	// record after it is still in the log, one at or before it may be
	// gone.
	Floor streamid.ID
}

// datasetFile is the name of the identity file in the directory.
const datasetFile = "dataset.json"

type datasetJSON struct {
	Version int    `json:"version"`
	ID      string `json:"dataset"`
	First   string `json:"first"`
	Floor   string `json:"floor"`
}

// readDataset reads the directory's identity; ok is false when there is
// none.
func readDataset(dir string) (d Dataset, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, datasetFile))
	if errors.Is(err, os.ErrNotExist) {
		return Dataset{}, false, nil
	}
	if err != nil {
		return Dataset{}, false, err
	}
	var j datasetJSON
	if err := json.Unmarshal(b, &j); err != nil || j.Version != 1 || j.ID == "" {
		return Dataset{}, false, fmt.Errorf("seglog: %s is damaged: %v", filepath.Join(dir, datasetFile), err)
	}
	d.ID = j.ID
	if d.First, err = streamid.Parse(j.First); err == nil {
		d.Floor, err = streamid.Parse(j.Floor)
	}
	if err != nil {
		return Dataset{}, false, fmt.Errorf("seglog: %s is damaged: %v", filepath.Join(dir, datasetFile), err)
	}
	return d, true, nil
}

// newDataset returns a new dataset whose first id is first.
func newDataset(first streamid.ID) Dataset {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return Dataset{ID: hex.EncodeToString(b[:]), First: first}
}

// writeDataset replaces the directory's identity file with d, durably
// (see WriteFileDurably).
func writeDataset(dir string, d Dataset) error {
	b, err := json.Marshal(datasetJSON{Version: 1, ID: d.ID, First: d.First.String(), Floor: d.Floor.String()})
	if err != nil {
		return err
	}
	return WriteFileDurably(filepath.Join(dir, datasetFile), append(b, '\n'))
}

// WriteFileDurably replaces the file at path with data, durably: written
// to a temporary file beside it, synced, renamed over the old one, and the
// directory synced. A reader sees the old file or the new one, never a
// part; the temporary file is removed when a step fails.
func WriteFileDurably(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes the directory's entries (a file created, renamed or
// removed) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
