package trust

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Fingerprint is the SHA-256 of the certificate's DER as upper-case hex pairs joined by colons
// ("AB:CD:..."), the format of `openssl x509 -noout -fingerprint -sha256`, so a person can compare it by hand.
func Fingerprint(c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	sum := sha256.Sum256(c.Raw)
	const hexdigits = "0123456789ABCDEF"
	var sb strings.Builder
	sb.Grow(len(sum)*3 - 1)
	for i, b := range sum {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteByte(hexdigits[b>>4])
		sb.WriteByte(hexdigits[b&0x0f])
	}
	return sb.String()
}

// FingerprintPEM is Fingerprint of the first certificate in a PEM bundle (e.g. the root a proxy reports holding).
func FingerprintPEM(pemData []byte) (string, error) {
	certs, err := parseCerts(pemData)
	if err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	return Fingerprint(certs[0]), nil
}

// Chain is what VerifyChain found.
type Chain struct {
	// IntermediateFingerprint is the certificate that signed the leaf; empty when the root signed it directly.
	IntermediateFingerprint string
	// RootFingerprint is the root the chain ended at (relevant when rootPEM held several).
	RootFingerprint string
	// SPIFFEIDs are the leaf's spiffe:// URI SANs, e.g. spiffe://cluster.local/ns/echo/sa/client.
	SPIFFEIDs []string
	// Leaf is the parsed leaf certificate.
	Leaf *x509.Certificate
}

// VerifyChain checks that a workload certificate chains to the mesh root. leafPEM's first certificate is the leaf;
// any further certificates in it (Istio hands workloads leaf+intermediate+root in one cert-chain.pem) and in
// intermediates may serve as intermediates. rootPEM may hold several roots (during a rotation). Nothing beyond the
// roots is trusted: a chain that needs an intermediate nobody passed fails.
func VerifyChain(leafPEM, rootPEM []byte, intermediates ...[]byte) (*Chain, error) {
	leafCerts, err := parseCerts(leafPEM)
	if err != nil {
		return nil, fmt.Errorf("verify chain: leaf: %w", err)
	}
	rootCerts, err := parseCerts(rootPEM)
	if err != nil {
		return nil, fmt.Errorf("verify chain: root: %w", err)
	}
	roots := x509.NewCertPool()
	for _, c := range rootCerts {
		roots.AddCert(c)
	}
	inter := x509.NewCertPool()
	for _, c := range leafCerts[1:] {
		inter.AddCert(c)
	}
	for i, p := range intermediates {
		certs, err := parseCerts(p)
		if err != nil {
			return nil, fmt.Errorf("verify chain: intermediate %d: %w", i+1, err)
		}
		for _, c := range certs {
			inter.AddCert(c)
		}
	}
	leaf := leafCerts[0]
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   time.Now(),
		// Workload certificates carry server and client auth; the question here is trust, not purpose.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, fmt.Errorf("verify chain: leaf %s (issuer %q) against root(s) %s: %w",
			describeLeaf(leaf), leaf.Issuer.String(), fingerprints(rootCerts), err)
	}
	if len(chains) == 0 || len(chains[0]) == 0 {
		return nil, errors.New("verify chain: no chain returned")
	}
	chain := chains[0]
	out := &Chain{RootFingerprint: Fingerprint(chain[len(chain)-1]), Leaf: leaf}
	if len(chain) > 2 {
		out.IntermediateFingerprint = Fingerprint(chain[1])
	}
	for _, u := range leaf.URIs {
		if u.Scheme == "spiffe" {
			out.SPIFFEIDs = append(out.SPIFFEIDs, u.String())
		}
	}
	return out, nil
}

func describeLeaf(c *x509.Certificate) string {
	if len(c.URIs) > 0 {
		return c.URIs[0].String()
	}
	if c.Subject.CommonName != "" {
		return fmt.Sprintf("%q", c.Subject.CommonName)
	}
	return "serial " + c.SerialNumber.String()
}

func fingerprints(cs []*x509.Certificate) string {
	fps := make([]string, len(cs))
	for i, c := range cs {
		fps[i] = Fingerprint(c)
	}
	return strings.Join(fps, ", ")
}
