package trust

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
)

// Keys of the cacerts secret, and the file names of a persisted intermediate (the layout of Istio's tools/certs,
// so `kubectl create secret generic cacerts --from-file=<dir>/<cluster>/...` works by hand too).
const (
	CACertKey    = "ca-cert.pem"
	CAKeyKey     = "ca-key.pem"
	RootCertKey  = "root-cert.pem"
	CertChainKey = "cert-chain.pem"
)

// Bundle is one cluster's plug-in CA material. The private key is unexported on purpose: SecretData is the only
// way out, and Format redacts it.
type Bundle struct {
	Cluster string
	// CACert is the cluster's intermediate certificate (ca-cert.pem).
	CACert []byte
	// RootCert is the mesh root (root-cert.pem).
	RootCert []byte
	// CertChain is the intermediate followed by the root (cert-chain.pem).
	CertChain []byte

	caKey []byte
	cert  *x509.Certificate
}

// SecretData is the Data of the cacerts secret: exactly the four keys istiod reads.
func (b *Bundle) SecretData() map[string][]byte {
	return map[string][]byte{
		CACertKey:    bytes.Clone(b.CACert),
		CAKeyKey:     bytes.Clone(b.caKey),
		RootCertKey:  bytes.Clone(b.RootCert),
		CertChainKey: bytes.Clone(b.CertChain),
	}
}

// Cert is the parsed intermediate certificate.
func (b *Bundle) Cert() *x509.Certificate { return b.cert }

// Fingerprint is the intermediate's SHA-256 fingerprint (format: see Fingerprint).
func (b *Bundle) Fingerprint() string { return Fingerprint(b.cert) }

// Format prints a summary for every verb, so no fmt verb reaches the key.
func (b Bundle) Format(f fmt.State, _ rune) {
	fp := ""
	if b.cert != nil {
		fp = Fingerprint(b.cert)
	}
	fmt.Fprintf(f, "trust.Bundle{cluster: %q, intermediate sha256: %s, key: <redacted>}", b.Cluster, fp)
}

// Cluster names become directory names; a DNS label (what topologies require) cannot escape the trust directory.
var clusterName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// Intermediate returns the cluster's intermediate CA signed by the root. A persisted CA reuses dir/<cluster>/ when
// it still chains to this root, matches its key and is not near expiry, so cacerts stays byte-identical across
// runs; otherwise it issues a new one (safe: workloads trust the root, not the intermediate).
func (ca *CA) Intermediate(cluster string) (*Bundle, error) {
	if !clusterName.MatchString(cluster) {
		return nil, fmt.Errorf("intermediate CA: cluster name %q is not a DNS label", cluster)
	}
	defer ca.locks.lock(cluster)()
	if ca.dir == "" {
		return ca.issue(cluster)
	}
	dir := filepath.Join(ca.dir, cluster)
	if err := ensurePrivateDir(dir); err != nil {
		return nil, fmt.Errorf("%s: %w", cluster, err)
	}
	b, err := ca.loadIntermediate(cluster, dir)
	if err != nil {
		return nil, err
	}
	if b == nil {
		if b, err = ca.issue(cluster); err != nil {
			return nil, err
		}
	}
	// Write all four files (root and chain too): a stale root-cert.pem beside a reused intermediate would mislead
	// anyone building cacerts by hand. Unchanged files are left alone.
	for name, data := range b.SecretData() {
		path := filepath.Join(dir, name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
			continue
		}
		if err := writePrivateFile(path, data); err != nil {
			return nil, fmt.Errorf("%s: persist intermediate: %w", cluster, err)
		}
	}
	return b, nil
}

// loadIntermediate returns the persisted intermediate, or nil when it is missing or unusable (unusable material is
// replaced, not reported: the root alone defines trust). Only I/O errors other than "missing" are returned.
func (ca *CA) loadIntermediate(cluster, dir string) (*Bundle, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CACertKey))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("%s: read intermediate: %w", cluster, err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, CAKeyKey))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("%s: read intermediate key: %w", cluster, err)
	}
	cert, err := parseSingleCert(certPEM)
	if err != nil {
		return nil, nil
	}
	key, err := parseKey(keyPEM)
	if err != nil || !keyMatches(key, cert) || !cert.IsCA {
		return nil, nil
	}
	now := ca.opts.Now()
	if now.Add(renewBefore).After(cert.NotAfter) {
		return nil, nil
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, nil
	}
	keyOut, err := encodeKey(key)
	if err != nil {
		return nil, nil
	}
	return ca.bundle(cluster, cert, keyOut), nil
}

// issue signs a new intermediate shaped like tools/certs' intermediate.conf: CA with pathlen 0 (istiod only signs
// leaf workload certificates from it), O=Istio, L=<cluster>, DNS SAN istiod.istio-system.svc.
func (ca *CA) issue(cluster string) (*Bundle, error) {
	key, err := rsa.GenerateKey(rand.Reader, ca.opts.RSABits)
	if err != nil {
		return nil, fmt.Errorf("%s: generate intermediate key: %w", cluster, err)
	}
	now := ca.opts.Now()
	notAfter := now.Add(ca.opts.IntermediateValidity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter // an intermediate outliving its root only fails later and more confusingly
	}
	tmpl := &x509.Certificate{
		Subject: pkix.Name{
			Organization: []string{ca.opts.Organization},
			Locality:     []string{cluster},
			CommonName:   "Intermediate CA " + cluster,
		},
		DNSNames:              []string{IstiodSAN},
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	if tmpl.SerialNumber, err = serial(); err != nil {
		return nil, fmt.Errorf("%s: %w", cluster, err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, fmt.Errorf("%s: sign intermediate certificate: %w", cluster, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%s: parse new intermediate certificate: %w", cluster, err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, fmt.Errorf("%s: encode intermediate key: %w", cluster, err)
	}
	return ca.bundle(cluster, cert, keyPEM), nil
}

func (ca *CA) bundle(cluster string, cert *x509.Certificate, keyPEM []byte) *Bundle {
	certPEM := encodeCert(cert)
	chain := append(append([]byte(nil), certPEM...), ca.certPEM...)
	return &Bundle{
		Cluster:   cluster,
		CACert:    certPEM,
		RootCert:  bytes.Clone(ca.certPEM),
		CertChain: chain,
		caKey:     keyPEM,
		cert:      cert,
	}
}
