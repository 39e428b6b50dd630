package hub

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"slices"
)

// maxKeyFileSize bounds a PEM or JWKS file: real ones are a few KB.
const maxKeyFileSize = 1 << 20

// publicKey is one verification key, with its JWKS kid and alg when known.
type publicKey struct {
	key crypto.PublicKey // *rsa.PublicKey or *ecdsa.PublicKey
	kid string
	alg string // "" when the key does not restrict it
}

// methods returns the JWT algorithms the key can verify.
func (k publicKey) methods() []string {
	if k.alg != "" {
		return []string{k.alg}
	}
	switch pk := k.key.(type) {
	case *rsa.PublicKey:
		return []string{"RS256", "RS384", "RS512"}
	case *ecdsa.PublicKey:
		switch pk.Curve {
		case elliptic.P256():
			return []string{"ES256"}
		case elliptic.P384():
			return []string{"ES384"}
		case elliptic.P521():
			return []string{"ES512"}
		}
	}
	return nil
}

// fits reports whether the key may verify a token with alg and kid (a
// token without kid may be verified by any key of its algorithm).
func (k publicKey) fits(alg, kid string) bool {
	if kid != "" && k.kid != "" && kid != k.kid {
		return false
	}
	for _, m := range k.methods() {
		if m == alg {
			return true
		}
	}
	return false
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxKeyFileSize {
		return nil, fmt.Errorf("%s is over %d bytes", path, maxKeyFileSize)
	}
	return b, nil
}

// loadPEMFile reads an RSA or ECDSA public key from a PEM file: a "PUBLIC
// KEY" (PKIX), "RSA PUBLIC KEY" (PKCS #1) or "CERTIFICATE" block.
func loadPEMFile(path string) (publicKey, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return publicKey{}, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return publicKey{}, fmt.Errorf("%s holds no PEM block", path)
	}
	var key any
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			key = cert.PublicKey
		}
	default:
		return publicKey{}, fmt.Errorf("%s: PEM block %q is not a public key (want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE)", path, block.Type)
	}
	if err != nil {
		return publicKey{}, fmt.Errorf("%s: %w", path, err)
	}
	k := publicKey{key: key}
	if err := checkKey(k); err != nil {
		return publicKey{}, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// checkKey refuses keys of other types, curves, or too short to be safe.
func checkKey(k publicKey) error {
	switch pk := k.key.(type) {
	case *rsa.PublicKey:
		if pk.N.BitLen() < 2048 {
			return fmt.Errorf("RSA key of %d bits, want 2048 or more", pk.N.BitLen())
		}
	case *ecdsa.PublicKey:
	default:
		return fmt.Errorf("key of type %T, want RSA or ECDSA", k.key)
	}
	if len(k.methods()) == 0 {
		return errors.New("unsupported elliptic curve, want P-256, P-384 or P-521")
	}
	return nil
}

// jwk is one key of a JSON Web Key Set (RFC 7517, 7518).
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// loadJWKSFile reads the RSA and EC signature keys of a JWKS file; keys
// for encryption or of other types are skipped.
func loadJWKSFile(path string) ([]publicKey, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("%s is not a JWKS document: %w", path, err)
	}
	var keys []publicKey
	for i, j := range set.Keys {
		if j.Use == "enc" || (j.Kty != "RSA" && j.Kty != "EC") {
			continue
		}
		k, err := j.publicKey()
		if errors.Is(err, errUnsupported) {
			continue // e.g. an IdP's key for another algorithm: not ours to verify with
		}
		if err == nil {
			err = checkKey(k)
		}
		if natural := (publicKey{key: k.key}).methods(); err == nil && k.alg != "" && !slices.Contains(natural, k.alg) {
			err = fmt.Errorf("alg %q does not fit the key (want one of %v)", k.alg, natural)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: key %d (kid %q): %w", path, i, j.Kid, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s holds no RSA or EC signature key for RS256/384/512 or ES256/384/512", path)
	}
	return keys, nil
}

// supportedAlgs are the JWT algorithms the hub verifies, by JWK key type.
var supportedAlgs = map[string][]string{
	"RSA": {"RS256", "RS384", "RS512"},
	"EC":  {"ES256", "ES384", "ES512"},
}

// errUnsupported marks a JWKS key of an algorithm or curve the hub does not
// verify with; such keys are skipped.
var errUnsupported = errors.New("unsupported key")

func (j jwk) publicKey() (publicKey, error) {
	k := publicKey{kid: j.Kid, alg: j.Alg}
	if j.Alg != "" && !slices.Contains(supportedAlgs[j.Kty], j.Alg) {
		return k, fmt.Errorf("%w: alg %q", errUnsupported, j.Alg)
	}
	switch j.Kty {
	case "RSA":
		n, err1 := b64int(j.N)
		e, err2 := b64int(j.E)
		if err := errors.Join(err1, err2); err != nil {
			return k, fmt.Errorf("bad n or e: %w", err)
		}
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
			return k, errors.New("bad RSA exponent")
		}
		k.key = &rsa.PublicKey{N: n, E: int(e.Int64())}
	case "EC":
		var curve elliptic.Curve
		switch j.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return k, fmt.Errorf("%w: curve %q", errUnsupported, j.Crv)
		}
		x, err1 := b64bytes(j.X)
		y, err2 := b64bytes(j.Y)
		if err := errors.Join(err1, err2); err != nil {
			return k, fmt.Errorf("bad x or y: %w", err)
		}
		// Parsed as an uncompressed point, so that a point off the curve
		// is refused.
		size := (curve.Params().BitSize + 7) / 8
		if len(x) > size || len(y) > size {
			return k, errors.New("x or y longer than the curve's size")
		}
		point := make([]byte, 1+2*size)
		point[0] = 4
		copy(point[1+size-len(x):], x)
		copy(point[1+2*size-len(y):], y)
		pk, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return k, err
		}
		k.key = pk
	}
	return k, nil
}

func b64bytes(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty value")
	}
	return base64.RawURLEncoding.DecodeString(s)
}

func b64int(s string) (*big.Int, error) {
	b, err := b64bytes(s)
	if err != nil {
		return nil, err
	}
	return new(big.Int).SetBytes(b), nil
}
