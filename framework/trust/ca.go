// Package trust gives every cluster of a mesh the same root of trust: one root CA, an intermediate CA per cluster
// signed by it, and the `cacerts` secret istiod reads them from (Istio's "plug-in CA" setup). Material is persisted
// so re-running `up` reuses it instead of rotating trust under a running mesh, and key material never reaches a
// log, an error or a fmt verb.
package trust

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Defaults follow Istio's tools/certs (O=Istio, 10-year root, 2-year intermediates). Keys are RSA 2048, the size
// istiod uses for its own self-signed CA; tools/certs uses 4096, which only makes generation slower.
const (
	DefaultRootCommonName       = "meshconform root CA"
	DefaultOrganization         = "Istio"
	DefaultRootValidity         = 10 * 365 * 24 * time.Hour
	DefaultIntermediateValidity = 2 * 365 * 24 * time.Hour
	DefaultRSABits              = 2048
	// IstiodSAN is the DNS SAN tools/certs puts on intermediates: istiod's in-cluster service name.
	IstiodSAN = "istiod.istio-system.svc"

	// RootCertFile and RootKeyFile are the file names of the persisted root in the trust directory.
	RootCertFile = "root-cert.pem"
	RootKeyFile  = "root-key.pem"

	// backdate absorbs clock skew between the host and nodes, so a fresh certificate is not "not yet valid".
	backdate = time.Hour
	// renewBefore: a persisted intermediate closer than this to expiry is replaced rather than reused.
	renewBefore = 30 * 24 * time.Hour
)

// Options shape a new root and the intermediates it signs. Zero values take the defaults above.
type Options struct {
	CommonName           string
	Organization         string
	RootValidity         time.Duration
	IntermediateValidity time.Duration
	RSABits              int
	// Now is the clock (tests set it); nil means time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.CommonName == "" {
		o.CommonName = DefaultRootCommonName
	}
	if o.Organization == "" {
		o.Organization = DefaultOrganization
	}
	if o.RootValidity == 0 {
		o.RootValidity = DefaultRootValidity
	}
	if o.IntermediateValidity == 0 {
		o.IntermediateValidity = DefaultIntermediateValidity
	}
	if o.RSABits == 0 {
		o.RSABits = DefaultRSABits
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// CA is the mesh's root: it signs one intermediate per cluster. It holds the root key, so it has no exported
// fields and formats as a redacted summary.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
	opts    Options
	// dir persists intermediates under dir/<cluster>/; empty means in memory only.
	dir   string
	locks *clusterLocks
}

// NewRoot creates a self-signed root CA in memory; its intermediates are not persisted.
func NewRoot(opts Options) (*CA, error) {
	opts = opts.withDefaults()
	key, err := rsa.GenerateKey(rand.Reader, opts.RSABits)
	if err != nil {
		return nil, fmt.Errorf("generate root key: %w", err)
	}
	now := opts.Now()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{opts.Organization}, CommonName: opts.CommonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(opts.RootValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	if tmpl.SerialNumber, err = serial(); err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("sign root certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse new root certificate: %w", err)
	}
	return &CA{cert: cert, certPEM: encodeCert(cert), key: key, opts: opts, locks: newClusterLocks()}, nil
}

// LoadOrCreate returns the root persisted in dir, creating it on the first run. The same root on every run is what
// makes `up` idempotent: a new root would split trust between clusters already installed and new ones.
func LoadOrCreate(dir string) (*CA, error) {
	return LoadOrCreateWith(dir, Options{})
}

// LoadOrCreateWith is LoadOrCreate with options for a root it has to create (a loaded root keeps its own names and
// validity; opts still set intermediates' validity, key size and clock). dir is dedicated to trust material and is
// made 0700; files in it are 0600.
func LoadOrCreateWith(dir string, opts Options) (*CA, error) {
	if dir == "" {
		return nil, errors.New("trust directory: empty path")
	}
	opts = opts.withDefaults()
	if err := ensurePrivateDir(dir); err != nil {
		return nil, err
	}
	certPath, keyPath := filepath.Join(dir, RootCertFile), filepath.Join(dir, RootKeyFile)
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	certMissing, keyMissing := errors.Is(certErr, fs.ErrNotExist), errors.Is(keyErr, fs.ErrNotExist)
	switch {
	case certErr != nil && !certMissing:
		return nil, fmt.Errorf("read root certificate: %w", certErr)
	case keyErr != nil && !keyMissing:
		return nil, fmt.Errorf("read root key %s: %w", keyPath, keyErr)
	case certMissing && keyMissing:
		ca, err := NewRoot(opts)
		if err != nil {
			return nil, err
		}
		keyPEM, err := encodeKey(ca.key)
		if err != nil {
			return nil, fmt.Errorf("encode root key: %w", err)
		}
		// Key first: a crash in between leaves "key without cert", which the next run reports instead of reusing.
		if err := writePrivateFile(keyPath, keyPEM); err != nil {
			return nil, err
		}
		if err := writePrivateFile(certPath, ca.certPEM); err != nil {
			return nil, err
		}
		ca.dir = dir
		return ca, nil
	case certMissing || keyMissing:
		// Never generate over half a root: the other half may be what a running mesh trusts.
		return nil, fmt.Errorf("trust directory %s holds only one of %s and %s: restore the missing file, or remove "+
			"the directory to create a new root (every cluster then needs new cacerts and an istiod restart)",
			dir, RootCertFile, RootKeyFile)
	}

	cert, err := parseSingleCert(certPEM)
	if err != nil {
		return nil, fmt.Errorf("root certificate %s: %w", certPath, err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("root key %s: %w", keyPath, err)
	}
	if !keyMatches(key, cert) {
		return nil, fmt.Errorf("root key %s does not belong to root certificate %s", keyPath, certPath)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return nil, fmt.Errorf("root certificate %s is not a CA certificate", certPath)
	}
	if err := cert.CheckSignatureFrom(cert); err != nil {
		return nil, fmt.Errorf("root certificate %s is not self-signed: %w", certPath, err)
	}
	if now := opts.Now(); now.After(cert.NotAfter) || now.Before(cert.NotBefore) {
		return nil, fmt.Errorf("root certificate %s is valid %s to %s, not now: remove %s to create a new root",
			certPath, cert.NotBefore.Format(time.RFC3339), cert.NotAfter.Format(time.RFC3339), dir)
	}
	// Tighten permissions a copy or an older version may have left loose.
	if err := os.Chmod(keyPath, 0o600); err != nil {
		return nil, fmt.Errorf("restrict root key permissions: %w", err)
	}
	return &CA{cert: cert, certPEM: encodeCert(cert), key: key, opts: opts, dir: dir, locks: newClusterLocks()}, nil
}

// Cert is the root certificate.
func (ca *CA) Cert() *x509.Certificate { return ca.cert }

// CertPEM is the PEM of the root certificate (what `root-cert.pem` holds).
func (ca *CA) CertPEM() []byte { return append([]byte(nil), ca.certPEM...) }

// RootFingerprint is the root's SHA-256 fingerprint (format: see Fingerprint).
func (ca *CA) RootFingerprint() string { return Fingerprint(ca.cert) }

// Dir is where the CA persists its material; empty for an in-memory CA.
func (ca *CA) Dir() string { return ca.dir }

// Format prints a summary for every verb, so %v, %+v, %#v or %x of a CA never reach the key.
func (ca CA) Format(f fmt.State, _ rune) {
	fp := ""
	if ca.cert != nil {
		fp = Fingerprint(ca.cert)
	}
	fmt.Fprintf(f, "trust.CA{root: %q, sha256: %s, key: <redacted>}", subjectCN(ca.cert), fp)
}

func subjectCN(c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	return c.Subject.CommonName
}

// clusterLocks serialises work on one cluster's directory, so parallel per-cluster setup cannot interleave writes.
type clusterLocks struct {
	mu sync.Mutex
	m  map[string]*sync.Mutex
}

func newClusterLocks() *clusterLocks { return &clusterLocks{m: map[string]*sync.Mutex{}} }

func (l *clusterLocks) lock(name string) func() {
	l.mu.Lock()
	m, ok := l.m[name]
	if !ok {
		m = &sync.Mutex{}
		l.m[name] = m
	}
	l.mu.Unlock()
	m.Lock()
	return m.Unlock
}

func serial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certificate serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil // RFC 5280: positive, non-zero
}

func encodeCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// encodeKey writes RSA keys as PKCS#1 ("RSA PRIVATE KEY"), the form every istiod version parses; other keys (a
// user-supplied ECDSA root) as PKCS#8.
func encodeKey(k crypto.Signer) ([]byte, error) {
	if rk, ok := k.(*rsa.PrivateKey); ok {
		return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}), nil
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// parseKey accepts the three PEM forms istiod accepts. Errors never quote the input.
func parseKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var k any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", block.Type, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%T cannot sign", k)
	}
	return s, nil
}

func keyMatches(k crypto.Signer, c *x509.Certificate) bool {
	pub, ok := k.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(c.PublicKey)
}

// parseCerts returns every CERTIFICATE block in data, in order.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate %d: %w", len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return out, nil
}

func parseSingleCert(data []byte) (*x509.Certificate, error) {
	certs, err := parseCerts(data)
	if err != nil {
		return nil, err
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("%d certificates, want 1", len(certs))
	}
	return certs[0], nil
}

func ensurePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create trust directory: %w", err)
	}
	// MkdirAll leaves an existing directory's mode alone; this one holds keys.
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("restrict trust directory %s: %w", dir, err)
	}
	return nil
}

// writePrivateFile replaces path atomically with a 0600 file, so a reader never sees half a key and a crash never
// leaves a truncated one.
func writePrivateFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
