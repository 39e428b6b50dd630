package ssevents

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/ssevents/ssevents/sse"
)

// WriteError writes err as a JSON error response with the status from
// sse.HTTPStatus. Errors that map to 500 are logged with their details and shown
// to the client only as "internal error", so no internal detail leaks. An
// *sse.IdempotencyKeyError (409, 422) names its key in the body's
// idempotency_key too.
func WriteError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	status := sse.HTTPStatus(err)
	if status == http.StatusInternalServerError {
		if logger != nil {
			logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		}
		writeJSONError(w, status, "ssevents: internal error")
		return
	}
	body := sse.ErrorBody{Error: err.Error()}
	var ke *sse.IdempotencyKeyError
	if errors.As(err, &ke) {
		body.IdempotencyKey = ke.Key
	}
	WriteJSON(w, status, body)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, sse.ErrorBody{Error: msg})
}

// WriteJSON writes v as a JSON response with status, marked not to be
// cached (an answer of the API is always about now).
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
