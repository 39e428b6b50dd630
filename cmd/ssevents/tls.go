package main

import (
	"bytes"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// checkTLSPair reports an error unless the TLS certificate and key files
// are both given or both absent: HTTPS needs the pair.
func checkTLSPair(certFile, keyFile string) error {
	switch {
	case certFile != "" && keyFile == "":
		return errors.New("SSE_TLS_CERT_FILE (--tls-cert-file) is set but SSE_TLS_KEY_FILE (--tls-key-file) is not: HTTPS needs both")
	case certFile == "" && keyFile != "":
		return errors.New("SSE_TLS_KEY_FILE (--tls-key-file) is set but SSE_TLS_CERT_FILE (--tls-cert-file) is not: HTTPS needs both")
	}
	return nil
}

// loadTLS reads the certificate chain and private key PEM files and
// returns the server's TLS configuration, offering HTTP/2 ("h2") and
// HTTP/1.1 by ALPN; nil when neither file is given. Its errors name the
// file at fault: unreadable, holding no certificate or no key, or a key
// that is not the certificate's.
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if err := checkTLSPair(certFile, keyFile); err != nil {
		return nil, err
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read the TLS certificate file (SSE_TLS_CERT_FILE): %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read the TLS key file (SSE_TLS_KEY_FILE): %w", err)
	}
	if !hasPEMBlock(certPEM, func(t string) bool { return t == "CERTIFICATE" }) {
		return nil, fmt.Errorf("TLS certificate file %s holds no PEM CERTIFICATE block", certFile)
	}
	if !hasPEMBlock(keyPEM, func(t string) bool { return strings.HasSuffix(t, "PRIVATE KEY") }) {
		return nil, fmt.Errorf("TLS key file %s holds no PEM private key (PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY block)", keyFile)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		if strings.Contains(err.Error(), "does not match") {
			return nil, fmt.Errorf("TLS key file %s does not hold the private key of the certificate in %s (make the pair together)", keyFile, certFile)
		}
		return nil, fmt.Errorf("TLS certificate %s and key %s: %s", certFile, keyFile, strings.TrimPrefix(err.Error(), "tls: "))
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		// HTTP/2 first: a browser then multiplexes every EventSource of
		// a host on one connection instead of at most six.
		NextProtos: []string{"h2", "http/1.1"},
	}, nil
}

// hasPEMBlock reports whether data holds a PEM block whose type ok accepts.
func hasPEMBlock(data []byte, ok func(string) bool) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if ok(b.Type) {
			return true
		}
		data = bytes.TrimSpace(data)
	}
}
