package main_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testDataDirDeleted: the data directory deleted, or its dataset.json
// deleted or damaged, while the hub is stopped. The restarted hub holds a new dataset: a
// resume from an id of the old one answers resync dataset_changed with
// the new dataset's first id as genesis, and replays none of the old
// events; a resume from an id of the new one, none. Segments left without
// their identity are moved aside, not read, and the hub says so.
func testDataDirDeleted(t *testing.T, bin string) {
	tests := []struct {
		name   string
		damage func(dir string) error
		// logged, in the hub's log, when the old segments are moved
		// aside; "" when the directory is gone.
		logged string
	}{
		{"directory", os.RemoveAll, ""},
		{"dataset.json", func(dir string) error { return os.Remove(filepath.Join(dir, "dataset.json")) }, "no valid dataset identity"},
		{"dataset.json damaged", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "dataset.json"), []byte(`{"version":1,"dataset":"x","fi`), 0o644)
		}, "no valid dataset identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "data")
			h := startDurableHub(t, bin, dir)
			var old []string
			for i := range 3 {
				old = append(old, mustPost(t, h, []string{"x"}, payload("old"+string(rune('0'+i)), 100)))
			}
			oldSet := readDataset(t, dir)
			h.terminate(t, termLimit)
			if err := tt.damage(dir); err != nil {
				t.Fatal(err)
			}

			h = startDurableHub(t, bin, dir)
			if !strings.Contains(h.log.String(), tt.logged) {
				t.Errorf("the hub's log does not say %q:\n%s", tt.logged, h.log)
			}
			ds := readDataset(t, dir)
			if ds.Dataset == oldSet.Dataset {
				t.Fatalf("dataset %s after the deletion, the same as before", ds.Dataset)
			}
			if segs := segmentFiles(t, dir); len(segs) != 0 {
				t.Errorf("segments %v in the new dataset's directory, want none read from the old one", segs)
			}
			if tt.logged != "" {
				aside, _ := filepath.Glob(filepath.Join(dir, "*", "*.seg"))
				if len(aside) == 0 {
					t.Errorf("the old dataset's segments are gone, want them moved aside:\n%s", h.log)
				}
			}
			id := mustPost(t, h, []string{"x"}, payload("new", 100))
			for _, from := range old {
				r := readHistory(t, h, []string{"x"}, from)
				want := []resyncEvent{{Topic: "x", Reason: "dataset_changed", Genesis: ds.First}}
				if !slices.Equal(r.resyncs, want) || len(r.events) != 0 {
					t.Errorf("a resume from %s of the old dataset: resyncs %+v and %d events, want %+v and none", from, r.resyncs, len(r.events), want)
				}
			}
			r := readHistory(t, h, []string{"x"}, ds.First)
			if !slices.Equal(r.ids(), []string{id}) || len(r.resyncs) != 0 {
				t.Errorf("a resume from the new dataset's first id %s: %v, resyncs %+v; want [%s] and none", ds.First, r.ids(), r.resyncs, id)
			}
		})
	}
}
