package deploytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestManifestsParse: every YAML file in deploy/ parses, the Grafana
// dashboard is JSON, and the Kubernetes Deployment probes the hub's
// readiness and liveness endpoints. (Docker, Kubernetes and Traefik are
// not run here; the nginx setup is, by TestLocalTopology.)
func TestManifestsParse(t *testing.T) {
	t.Parallel()
	root := filepath.Join(repoRoot(t), "deploy")
	var docs []map[string]any
	n := 0
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		switch filepath.Ext(path) {
		case ".yml", ".yaml":
			n++
			dec := yaml.NewDecoder(bytes.NewReader(data))
			for {
				var doc map[string]any
				if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Errorf("%s: %v", path, err)
					break
				}
				if strings.Contains(path, "/k8s/") {
					docs = append(docs, doc)
				}
			}
		case ".json":
			n++
			if !json.Valid(data) {
				t.Errorf("%s: not valid JSON", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 15 {
		t.Errorf("checked %d files, expected the whole deploy/ tree", n)
	}

	var probes []string
	for _, doc := range docs {
		if doc["kind"] != "Deployment" {
			continue
		}
		var d struct {
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct {
							ReadinessProbe struct {
								HTTPGet struct{ Path string } `yaml:"httpGet"`
							} `yaml:"readinessProbe"`
							LivenessProbe struct {
								HTTPGet struct{ Path string } `yaml:"httpGet"`
							} `yaml:"livenessProbe"`
						}
					}
				}
			}
		}
		b, _ := yaml.Marshal(doc)
		if err := yaml.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			probes = append(probes, c.ReadinessProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Path)
		}
	}
	if strings.Join(probes, " ") != "/health/ready /health/live" {
		t.Errorf("Deployment probes %v, want readiness /health/ready and liveness /health/live", probes)
	}
}
