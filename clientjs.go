package ssevents

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	clientjs "github.com/ssevents/ssevents/clients/js"
)

// ClientJSPath is where an App (and so the hub) serves @ssevents/client,
// the browser client, for pages without a build step:
// import { subscribe } from "/ssevents.js".
const ClientJSPath = "/ssevents.js"

// clientJSETag is the module's strong ETag: a hash of its bytes, so a
// browser revalidates a cached copy in one round trip without a body.
var clientJSETag = func() string {
	sum := sha256.Sum256(clientjs.Module)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}()

// handleClientJS serves the client's ES module: cacheable for 5 minutes
// and revalidated by ETag after that (a hub upgrade reaches pages soon),
// readable by pages of any origin (module scripts are fetched with CORS;
// the file is public and carries no credentials).
func handleClientJS(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", clientjs.ContentType)
	hd.Set("Cache-Control", "public, max-age=300")
	hd.Set("ETag", clientJSETag)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Access-Control-Allow-Origin", "*")
	http.ServeContent(w, r, "ssevents.js", time.Time{}, bytes.NewReader(clientjs.Module))
}
