package hub

import (
	"embed"
	"html/template"
	"net/http"
)

//go:embed demo
var demoFS embed.FS

var demoPage = template.Must(template.ParseFS(demoFS, "demo/index.html"))

// demoCSP keeps the demo page to its own assets: no inline script, nothing
// from elsewhere, no framing.
const demoCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

// handleDemo serves the live demo page.
func (h *Hub) handleDemo(w http.ResponseWriter, r *http.Request) {
	setDemoHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := demoPage.Execute(w, struct{ Path string }{h.app.Config().Path}); err != nil {
		h.logger.ErrorContext(r.Context(), "demo page failed", "error", err)
	}
}

// handleDemoAsset serves the page's script and style sheet.
func (h *Hub) handleDemoAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	types := map[string]string{"demo.js": "text/javascript; charset=utf-8", "presence.js": "text/javascript; charset=utf-8", "demo.css": "text/css; charset=utf-8"}
	ct, ok := types[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	data, err := demoFS.ReadFile("demo/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	setDemoHeaders(w)
	w.Header().Set("Content-Type", ct)
	_, _ = w.Write(data)
}

func setDemoHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", demoCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
}
