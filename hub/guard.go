package hub

import "net/http"

// guard sets up the hub's protections around app and returns the handler
// that serves every request, outermost first:
//
//   - the client address is resolved (Config.TrustedProxies), for
//     everything after it: the webhook, the logs, the loopback-only publish
//     rule and the per-address limits;
//   - CORS preflights are answered and CORS headers added, so that a
//     browser can read even a refusal;
//   - subscribe requests are held to Config.MaxConnectionsPerIP.
//
// Config.PublishRate is checked by the publish handler itself, once it
// knows the publisher's token.
func (h *Hub) guard(app http.Handler) http.Handler {
	h.limits = newLimits(h.cfg, h.app)
	if len(h.cfg.TrustedProxies) > 0 || h.cfg.PublishRate > 0 || h.cfg.MaxConnectionsPerIP > 0 {
		h.logger.Info("client limits", "trusted_proxies", h.cfg.TrustedProxies,
			"publish_rate", h.cfg.PublishRate, "max_connections_per_ip", h.cfg.MaxConnectionsPerIP,
			"ipv6_prefix_bits", h.cfg.IPv6PrefixBits)
	}
	return newClientAddrs(h.cfg.TrustedProxies).wrap(h.cors.wrap(h.limits.wrapStreams(app)))
}
