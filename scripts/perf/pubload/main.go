// Command pubload measures a hub's publish throughput: P concurrent HTTP
// publishers, each on its own keep-alive connection, publish back to back
// (each waits for its answer before the next) round-robin over K topics,
// and it counts the publishes answered 2xx within a measured window. It
// speaks two publish APIs, so that one load runs against ssevents and
// against Mercure:
//
//   - ssevents: POST URL with a JSON body {"topic", "event", "data"},
//     data a JSON string of --size bytes.
//   - mercure: POST URL (/.well-known/mercure) with a form body (topic,
//     data of --size bytes), and a bearer JWT (HS256) whose claim
//     mercure.publish is ["*"], minted here from --mercure-key.
//
// It prints one JSON object on stdout. scripts/perf/publish.sh runs it;
// it uses the standard library only and sends nothing beyond --url.
//
//	pubload --api ssevents|mercure --url URL [--token T | --mercure-key K]
//	        [--publishers 64] [--topics 10] [--size 1024]
//	        [--warmup 2s] [--duration 10s]
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// result is the printed report of one run.
type result struct {
	API        string  `json:"api"`
	Publishers int     `json:"publishers"`
	Topics     int     `json:"topics"`
	Size       int     `json:"size"`
	Seconds    float64 `json:"seconds"`     // the measured window
	OK         int     `json:"ok"`          // answered 2xx within the window
	Refused    int     `json:"refused"`     // answered non-2xx within the window
	Failed     int     `json:"failed"`      // no answer (transport error, timeout)
	PerSecond  float64 `json:"per_second"`  // OK / Seconds
	P50Millis  float64 `json:"p50_ms"`      // time to a 2xx answer
	P99Millis  float64 `json:"p99_ms"`      //
	MaxMillis  float64 `json:"max_ms"`      //
	LastStatus int     `json:"last_status"` // of the last non-2xx answer
	LastError  string  `json:"last_error,omitempty"`
}

// tally is one publisher's counts within the window.
type tally struct {
	ok, refused, failed int
	lastStatus          int
	lastError           string
	took                []time.Duration
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pubload:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pubload", flag.ContinueOnError)
	api := fs.String("api", "ssevents", "publish API: ssevents (JSON to POST /publish) or mercure (form to POST /.well-known/mercure)")
	target := fs.String("url", "", "the publish URL")
	token := fs.String("token", "", "bearer token to send (ssevents)")
	mercureKey := fs.String("mercure-key", "", "HS256 key to mint Mercure's publisher JWT with (mercure)")
	publishers := fs.Int("publishers", 64, "concurrent publishers, one connection each")
	topics := fs.Int("topics", 10, "topics, published to round-robin")
	size := fs.Int("size", 1024, "bytes of data in each event")
	warmup := fs.Duration("warmup", 2*time.Second, "publishing before the measured window, not counted")
	duration := fs.Duration("duration", 10*time.Second, "the measured window")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *target == "":
		return errors.New("--url is needed")
	case *api != "ssevents" && *api != "mercure":
		return fmt.Errorf("--api %q: ssevents or mercure", *api)
	case *publishers < 1 || *topics < 1 || *size < 1 || *duration <= 0 || *warmup < 0:
		return errors.New("--publishers, --topics, --size and --duration must be positive")
	}
	if *api == "mercure" {
		if *mercureKey == "" {
			return errors.New("--api mercure needs --mercure-key")
		}
		*token = mercureJWT(*mercureKey)
	}

	// The bodies, one per topic, built once: the load measures the hub,
	// not the encoder.
	data := strings.Repeat("x", *size)
	bodies := make([][]byte, *topics)
	contentType := "application/json"
	for k := range bodies {
		topic := fmt.Sprintf("bench-%d", k)
		if *api == "mercure" {
			contentType = "application/x-www-form-urlencoded"
			bodies[k] = []byte(url.Values{"topic": {topic}, "data": {data}}.Encode())
			continue
		}
		b, err := json.Marshal(map[string]string{"topic": topic, "event": "bench", "data": data})
		if err != nil {
			return err
		}
		bodies[k] = b
	}

	hc := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: *publishers,
			MaxConnsPerHost:     *publishers,
			DisableCompression:  true,
		},
	}
	defer hc.CloseIdleConnections()

	start := time.Now()
	from, to := start.Add(*warmup), start.Add(*warmup+*duration)
	ctx, cancel := context.WithDeadline(context.Background(), to)
	defer cancel()
	tallies := make([]tally, *publishers)
	var wg sync.WaitGroup
	for p := range *publishers {
		wg.Go(func() {
			t := &tallies[p]
			for i := p; ctx.Err() == nil; i += *publishers {
				sent := time.Now()
				status, err := publish(ctx, hc, *target, contentType, *token, bodies[i%*topics])
				done := time.Now()
				if sent.Before(from) || done.After(to) {
					continue // warm-up, or answered after the window
				}
				switch {
				case err != nil:
					if ctx.Err() == nil {
						t.failed++
						t.lastError = err.Error()
					}
				case status/100 == 2:
					t.ok++
					t.took = append(t.took, done.Sub(sent))
				default:
					t.refused++
					t.lastStatus = status
				}
			}
		})
	}
	wg.Wait()

	r := result{API: *api, Publishers: *publishers, Topics: *topics, Size: *size, Seconds: duration.Seconds()}
	var took []time.Duration
	for _, t := range tallies {
		r.OK += t.ok
		r.Refused += t.refused
		r.Failed += t.failed
		if t.lastStatus != 0 {
			r.LastStatus = t.lastStatus
		}
		if t.lastError != "" {
			r.LastError = t.lastError
		}
		took = append(took, t.took...)
	}
	r.PerSecond = float64(r.OK) / r.Seconds
	if len(took) > 0 {
		slices.Sort(took)
		ms := func(q float64) float64 {
			return float64(took[int(q*float64(len(took)-1))]) / float64(time.Millisecond)
		}
		r.P50Millis, r.P99Millis, r.MaxMillis = ms(0.50), ms(0.99), ms(1)
	}
	return json.NewEncoder(stdout).Encode(r)
}

// publish sends one publish and returns its status, having read the whole
// answer so that the connection is reused.
func publish(ctx context.Context, hc *http.Client, target, contentType, token string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	return resp.StatusCode, err
}

// mercureJWT returns an HS256 JWT signed with key whose claims let it
// publish to any topic of a Mercure hub: {"mercure": {"publish": ["*"]}}.
func mercureJWT(key string) string {
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		enc.EncodeToString([]byte(`{"mercure":{"publish":["*"]}}`))
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}
