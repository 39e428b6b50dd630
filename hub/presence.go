package hub

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/ssevents/ssevents"
)

// presenceOn reports whether the hub tracks presence.
func (h *Hub) presenceOn() bool { return len(h.cfg.Presence) > 0 }

// identify makes the stream being authorized count as the subject of
// tok, a verified token, with the info of Config.PresenceInfoClaim, on the
// topics that presence tracks. A token without sub leaves the stream
// anonymous.
func (h *Hub) identify(r *http.Request, tok string, claims *Claims) {
	if !h.presenceOn() || claims.Subject == "" {
		return
	}
	var info any
	if name := h.cfg.PresenceInfoClaim; name != "" {
		if v, ok := claimOf(tok, name); ok {
			info = v
		}
	}
	ssevents.SetPresence(r, claims.Subject, info)
}

// claimOf returns the claim name of tok, a token already verified, as it
// is in its payload.
func claimOf(tok, name string) (json.RawMessage, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, false
	}
	var all map[string]json.RawMessage
	if json.Unmarshal(payload, &all) != nil {
		return nil, false
	}
	v, ok := all[name]
	return v, ok
}

// identifyPublic identifies the subscriber of public topics only, who
// needs no token: by its token when it sends a valid one, anonymous
// otherwise (an invalid token does not deny a public topic).
func (h *Hub) identifyPublic(r *http.Request) {
	if !h.presenceOn() || h.auth == nil {
		return
	}
	tok, ok := subscriberToken(r)
	if !ok {
		return
	}
	if claims, err := h.auth.verify(r.Context(), tok); err == nil {
		h.identify(r, tok, claims)
	}
}
