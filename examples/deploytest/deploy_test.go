// Package deploytest starts the local production topology of
// deploy/local/up.sh (Redis, three `ssevents serve` hubs, nginx) and checks
// that an event published through nginx reaches subscribers of every hub.
// It needs redis-server, redis-tools, nginx and curl (up.sh apt-installs
// the missing ones when run as root) and builds cmd/ssevents.
package deploytest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents/examples/internal/ssetest"
)

// repoRoot is the ssevents repository, two levels above this file.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// topology is what up.sh started, from its state directory's env file.
type topology struct {
	NginxURL   string
	HubURLs    []string
	RedisURL   string
	SecretFile string
	Bin        string
	state      string
}

// up runs deploy/local/up.sh with args and registers down.sh as cleanup,
// checking that down.sh leaves no process behind.
func up(t *testing.T, bin string, args ...string) topology {
	t.Helper()
	root := repoRoot(t)
	state := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a cold build of cmd/ssevents on a busy machine
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(root, "deploy/local/up.sh"), "--state", state}, args...)...)
	cmd.Env = os.Environ()
	if bin != "" {
		cmd.Env = append(cmd.Env, "SSEVENTS_BIN="+bin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	t.Cleanup(func() { down(t, root, state) })
	if err != nil {
		t.Fatalf("up.sh %s: %v\n%s%s", strings.Join(args, " "), err, stderr.String(), logs(state))
	}
	topo := readEnv(t, state)
	if got := strings.TrimSpace(string(out)); got != topo.NginxURL {
		t.Errorf("up.sh printed %q, want the nginx URL %q", got, topo.NginxURL)
	}
	return topo
}

// down runs down.sh and checks that every process up.sh recorded is gone.
func down(t *testing.T, root, state string) {
	t.Helper()
	var pids []string
	files, _ := filepath.Glob(filepath.Join(state, "pids", "*.pid"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if fields := strings.Fields(string(b)); len(fields) > 0 {
			pids = append(pids, fields[0])
		}
	}
	out, err := exec.Command("bash", filepath.Join(root, "deploy/local/down.sh"), "--state", state).CombinedOutput()
	if err != nil {
		t.Errorf("down.sh: %v\n%s", err, out)
	}
	for _, pid := range pids {
		if n, err := strconv.Atoi(pid); err == nil && running(n) {
			t.Errorf("down.sh left pid %s running", pid)
		}
	}
}

func readEnv(t *testing.T, state string) topology {
	t.Helper()
	f, err := os.Open(filepath.Join(state, "env"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok {
			vars[k] = strings.Trim(v, `"`)
		}
	}
	topo := topology{
		NginxURL: vars["NGINX_URL"], HubURLs: strings.Fields(vars["HUB_URLS"]),
		RedisURL: vars["SSE_REDIS_URL"], SecretFile: vars["SSE_JWT_SECRET_FILE"], Bin: vars["SSEVENTS_BIN"],
		state: state,
	}
	if topo.NginxURL == "" || len(topo.HubURLs) != 3 || topo.RedisURL == "" || topo.SecretFile == "" || topo.Bin == "" {
		t.Fatalf("env file incomplete: %v", vars)
	}
	return topo
}

// logs returns the tail of every log in the state directory, for a
// failure message.
func logs(state string) string {
	var b strings.Builder
	files, _ := filepath.Glob(filepath.Join(state, "logs", "*.log"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if len(data) > 2000 {
			data = data[len(data)-2000:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", filepath.Base(f), data)
	}
	return b.String()
}

// token mints a publish token with the hub binary, as an operator would.
func (topo topology) token(t *testing.T, patterns string) string {
	t.Helper()
	secret, err := os.ReadFile(topo.SecretFile)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(topo.Bin, "token", "--secret", strings.TrimSpace(string(secret)), "--publish", patterns, "--ttl", "5m").Output()
	if err != nil {
		t.Fatalf("ssevents token: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// publish POSTs one event to url/publish and returns the status and body.
func publish(t *testing.T, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/publish", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// checkFanOut subscribes to every hub directly and to nginx, publishes
// one event through nginx, and checks that every subscriber gets it.
func checkFanOut(t *testing.T, topo topology) {
	t.Helper()
	const topic = "public:deploytest"
	var streams []*ssetest.Stream
	for _, u := range append(append([]string{}, topo.HubURLs...), topo.NginxURL) {
		streams = append(streams, ssetest.Subscribe(t, u+"/events?topic="+topic, nil))
	}

	// Through a proxy, publishing needs a token: the hub trusts only
	// direct loopback callers without one.
	event := `{"topic":"public:deploytest","event":"deploy_check","data":{"via":"nginx","n":1}}`
	if status, body := publish(t, topo.NginxURL, "", event); status != http.StatusUnauthorized {
		t.Errorf("publish through nginx without a token: status %d (%s), want 401", status, body)
	}
	status, body := publish(t, topo.NginxURL, topo.token(t, "public:*"), event)
	if status != http.StatusOK {
		t.Fatalf("publish through nginx: status %d: %s\n%s", status, body, logs(topo.state))
	}
	var res struct{ ID string }
	if err := json.Unmarshal([]byte(body), &res); err != nil || res.ID == "" {
		t.Fatalf("publish answer %s", body)
	}

	names := append(append([]string{}, topo.HubURLs...), "nginx")
	for i, s := range streams {
		ev := s.Next(3 * time.Second)
		if ev.Event != "deploy_check" || ev.Data != `{"via":"nginx","n":1}` || ev.ID != res.ID {
			t.Errorf("subscriber of %s got %+v, want deploy_check id %s", names[i], ev, res.ID)
		}
	}
}

// TestLocalTopology: one Redis, three hubs, nginx.
func TestLocalTopology(t *testing.T) {
	topo := up(t, "")
	checkFanOut(t, topo)
	checkMetricNames(t, topo.HubURLs[0])

	t.Run("cluster", func(t *testing.T) {
		// The same with a 3-node Redis Cluster, reusing the binary.
		topo := up(t, topo.Bin, "--cluster")
		if !strings.HasPrefix(topo.RedisURL, "redis+cluster://") {
			t.Fatalf("--cluster started %s", topo.RedisURL)
		}
		checkFanOut(t, topo)
	})
}

// metricRef finds the metric names a dashboard, alert or doc refers to.
var metricRef = regexp.MustCompile(`\bsse_[a-z_]+`)

// checkMetricNames: every sse_* name the Grafana dashboard and the
// Prometheus alerts use is one a hub exposes.
func checkMetricNames(t *testing.T, hubURL string) {
	t.Helper()
	resp, err := http.Get(hubURL + "/metrics/prometheus")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	exposed := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			exposed[f[2]] = true
		}
	}
	root := repoRoot(t)
	for _, file := range []string{"deploy/grafana/dashboards/ssevents.json", "deploy/prometheus/alerts.yml"} {
		data, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range metricRef.FindAllString(string(data), -1) {
			base := name
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if !exposed[base] {
					base = strings.TrimSuffix(base, suffix)
				}
			}
			if !exposed[base] {
				t.Errorf("%s uses %s, which the hub does not expose", file, name)
			}
		}
	}
}

// TestComposeMountsExist: every file docker-compose.yml mounts or builds
// from is in the repository (fastapi-sse-events' compose file mounted folders that
// did not exist).
func TestComposeMountsExist(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "deploy/docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	mount := regexp.MustCompile(`(?m)^\s*-\s*(\./[^:\s]+):`)
	found := 0
	for _, m := range mount.FindAllStringSubmatch(string(data), -1) {
		found++
		if _, err := os.Stat(filepath.Join(root, "deploy", m[1])); err != nil {
			t.Errorf("docker-compose.yml mounts %s: %v", m[1], err)
		}
	}
	if found < 5 {
		t.Errorf("found %d bind mounts in docker-compose.yml, want nginx, prometheus and grafana's", found)
	}
	for _, f := range []string{"deploy/Dockerfile", "cmd/ssevents", "go.mod"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("the hub image builds from %s: %v", f, err)
		}
	}
	// nginx.conf includes the shared locations file at the path compose
	// mounts it to.
	conf, _ := os.ReadFile(filepath.Join(root, "deploy/nginx/nginx.conf"))
	if !strings.Contains(string(conf), "include /etc/nginx/ssevents-locations.conf;") ||
		!strings.Contains(string(data), "./nginx/ssevents-locations.conf:/etc/nginx/ssevents-locations.conf") {
		t.Error("nginx.conf includes a locations file that docker-compose.yml does not mount")
	}
}
