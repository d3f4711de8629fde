package trust

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const spiffeClient = "spiffe://cluster.local/ns/echo/sa/client"

// workloadCert signs a leaf the way istiod does from a cluster's plug-in CA: the intermediate key from cacerts.
func workloadCert(t *testing.T, b *Bundle, spiffeID string) []byte {
	t.Helper()
	signer, err := parseKey(b.SecretData()[CAKeyKey])
	if err != nil {
		t.Fatalf("intermediate key from SecretData: %v", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(spiffeID)
	if err != nil {
		t.Fatal(err)
	}
	sn, err := serial()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{},
		URIs:         []*url.URL{u},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, b.Cert(), key.Public(), signer)
	if err != nil {
		t.Fatalf("sign workload certificate: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func mustRoot(t *testing.T) *CA {
	t.Helper()
	ca, err := NewRoot(Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func mustIntermediate(t *testing.T, ca *CA, cluster string) *Bundle {
	t.Helper()
	b, err := ca.Intermediate(cluster)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLeafVerifiesOnlyThroughItsOwnIntermediate(t *testing.T) {
	ca := mustRoot(t)
	b1, b2 := mustIntermediate(t, ca, "cluster1"), mustIntermediate(t, ca, "cluster2")
	leaf := workloadCert(t, b1, spiffeClient)

	got, err := VerifyChain(leaf, ca.CertPEM(), b1.CACert)
	if err != nil {
		t.Fatalf("leaf from cluster1 with cluster1's intermediate: %v", err)
	}
	if got.IntermediateFingerprint != b1.Fingerprint() {
		t.Errorf("intermediate fingerprint %s, want cluster1's %s", got.IntermediateFingerprint, b1.Fingerprint())
	}
	if got.RootFingerprint != ca.RootFingerprint() {
		t.Errorf("root fingerprint %s, want %s", got.RootFingerprint, ca.RootFingerprint())
	}
	if len(got.SPIFFEIDs) != 1 || got.SPIFFEIDs[0] != spiffeClient {
		t.Errorf("SPIFFE IDs %v, want [%s]", got.SPIFFEIDs, spiffeClient)
	}

	if _, err := VerifyChain(leaf, ca.CertPEM(), b2.CACert); err == nil {
		t.Error("leaf from cluster1 verified with only cluster2's intermediate")
	}
	if _, err := VerifyChain(leaf, ca.CertPEM()); err == nil {
		t.Error("leaf verified with no intermediate at all")
	}
	other := mustRoot(t)
	if _, err := VerifyChain(leaf, other.CertPEM(), b1.CACert); err == nil {
		t.Error("leaf verified against an unrelated root")
	}

	// Istio hands a workload leaf+intermediate+root in one cert-chain.pem; that alone must suffice.
	workloadChain := append(append([]byte(nil), leaf...), b1.CertChain...)
	got, err = VerifyChain(workloadChain, ca.CertPEM())
	if err != nil {
		t.Fatalf("leaf with its own chain appended: %v", err)
	}
	if got.IntermediateFingerprint != b1.Fingerprint() {
		t.Errorf("intermediate fingerprint from appended chain %s, want %s", got.IntermediateFingerprint, b1.Fingerprint())
	}
}

func TestIntermediatesDifferRootIsShared(t *testing.T) {
	ca := mustRoot(t)
	b1, b2 := mustIntermediate(t, ca, "cluster1"), mustIntermediate(t, ca, "cluster2")
	if b1.Fingerprint() == b2.Fingerprint() {
		t.Fatal("two clusters got the same intermediate")
	}
	if !bytes.Equal(b1.RootCert, b2.RootCert) || !bytes.Equal(b1.RootCert, ca.CertPEM()) {
		t.Fatal("clusters carry different roots")
	}
	if bytes.Equal(b1.SecretData()[CAKeyKey], b2.SecretData()[CAKeyKey]) {
		t.Fatal("two clusters share an intermediate key")
	}

	root := ca.Cert()
	if root.Subject.CommonName != DefaultRootCommonName || len(root.Subject.Organization) != 1 || root.Subject.Organization[0] != "Istio" {
		t.Errorf("root subject %s", root.Subject)
	}
	if !root.IsCA || root.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("root is not a signing CA: IsCA=%v usage=%b", root.IsCA, root.KeyUsage)
	}
	if years := time.Until(root.NotAfter).Hours() / 24 / 365; years < 9.9 || years > 10.1 {
		t.Errorf("root valid for %.2f years, want 10", years)
	}

	c := b1.Cert()
	if c.Subject.CommonName != "Intermediate CA cluster1" || c.Subject.Organization[0] != "Istio" {
		t.Errorf("intermediate subject %s", c.Subject)
	}
	if !c.IsCA || c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("intermediate IsCA=%v MaxPathLen=%d zero=%v, want CA with pathlen 0", c.IsCA, c.MaxPathLen, c.MaxPathLenZero)
	}
	want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	if c.KeyUsage != want {
		t.Errorf("intermediate key usage %b, want %b", c.KeyUsage, want)
	}
	if len(c.DNSNames) != 1 || c.DNSNames[0] != IstiodSAN {
		t.Errorf("intermediate DNS SANs %v, want [%s]", c.DNSNames, IstiodSAN)
	}
	if years := time.Until(c.NotAfter).Hours() / 24 / 365; years < 1.9 || years > 2.1 {
		t.Errorf("intermediate valid for %.2f years, want 2", years)
	}
	if err := c.CheckSignatureFrom(root); err != nil {
		t.Errorf("intermediate not signed by root: %v", err)
	}
	block, _ := pem.Decode(b1.SecretData()[CAKeyKey])
	if block == nil || block.Type != "RSA PRIVATE KEY" {
		t.Fatalf("ca-key.pem is not a PKCS#1 RSA key")
	}
	k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil || k.N.BitLen() != DefaultRSABits {
		t.Errorf("intermediate key: err=%v", err)
	}
}

func TestSecretDataAndChainOrder(t *testing.T) {
	ca := mustRoot(t)
	b := mustIntermediate(t, ca, "cluster1")
	data := b.SecretData()
	if len(data) != 4 {
		t.Errorf("SecretData has %d keys, want 4", len(data))
	}
	for _, k := range []string{"ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem"} {
		if len(data[k]) == 0 {
			t.Errorf("SecretData[%q] empty or missing", k)
		}
	}
	chain, err := parseCerts(data["cert-chain.pem"])
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 2 || Fingerprint(chain[0]) != b.Fingerprint() || Fingerprint(chain[1]) != ca.RootFingerprint() {
		t.Fatalf("cert-chain.pem is not intermediate then root")
	}
	if !bytes.Equal(data["cert-chain.pem"], append(append([]byte(nil), data["ca-cert.pem"]...), data["root-cert.pem"]...)) {
		t.Error("cert-chain.pem is not ca-cert.pem followed by root-cert.pem")
	}
	// Callers must not be able to corrupt the bundle through the returned map.
	data["ca-cert.pem"][0] = 'X'
	if b.SecretData()["ca-cert.pem"][0] == 'X' {
		t.Error("SecretData aliases the bundle's bytes")
	}
}

func TestFingerprintFormat(t *testing.T) {
	ca := mustRoot(t)
	fp := ca.RootFingerprint()
	if !regexp.MustCompile(`^([0-9A-F]{2}:){31}[0-9A-F]{2}$`).MatchString(fp) {
		t.Fatalf("fingerprint %q is not 32 upper-case hex pairs joined by colons", fp)
	}
	sum := sha256.Sum256(ca.Cert().Raw)
	if strings.ReplaceAll(fp, ":", "") != strings.ToUpper(hex.EncodeToString(sum[:])) {
		t.Fatalf("fingerprint %s is not SHA-256 of the DER", fp)
	}
	if got, err := FingerprintPEM(ca.CertPEM()); err != nil || got != fp {
		t.Fatalf("FingerprintPEM = %q, %v; want %q", got, err, fp)
	}
	if _, err := FingerprintPEM([]byte("not pem")); err == nil {
		t.Fatal("FingerprintPEM accepted garbage")
	}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestLoadOrCreateIsStableAndPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "trust")
	ca1, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	b1 := mustIntermediate(t, ca1, "cluster1")

	if m := mode(t, dir); m != 0o700 {
		t.Errorf("trust dir mode %o, want 700", m)
	}
	for _, f := range []string{RootCertFile, RootKeyFile} {
		if m := mode(t, filepath.Join(dir, f)); m != 0o600 {
			t.Errorf("%s mode %o, want 600", f, m)
		}
	}
	if m := mode(t, filepath.Join(dir, "cluster1")); m != 0o700 {
		t.Errorf("cluster dir mode %o, want 700", m)
	}
	for _, f := range []string{CACertKey, CAKeyKey, RootCertKey, CertChainKey} {
		if m := mode(t, filepath.Join(dir, "cluster1", f)); m != 0o600 {
			t.Errorf("cluster1/%s mode %o, want 600", f, m)
		}
	}

	// A key left readable by others is tightened on the next load.
	if err := os.Chmod(filepath.Join(dir, RootKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	ca2, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ca1.RootFingerprint() != ca2.RootFingerprint() {
		t.Fatalf("second LoadOrCreate rotated the root: %s then %s", ca1.RootFingerprint(), ca2.RootFingerprint())
	}
	if m := mode(t, filepath.Join(dir, RootKeyFile)); m != 0o600 {
		t.Errorf("root key mode after reload %o, want 600", m)
	}
	b2 := mustIntermediate(t, ca2, "cluster1")
	if b1.Fingerprint() != b2.Fingerprint() {
		t.Fatal("persisted intermediate was not reused")
	}
	d1, d2 := b1.SecretData(), b2.SecretData()
	for k := range d1 {
		if !bytes.Equal(d1[k], d2[k]) {
			t.Errorf("%s differs between runs: cacerts would change on every up", k)
		}
	}
	// The loaded root still signs: a new cluster's intermediate chains to the same root.
	b3 := mustIntermediate(t, ca2, "cluster3")
	if _, err := VerifyChain(workloadCert(t, b3, spiffeClient), ca1.CertPEM(), b3.CACert); err != nil {
		t.Fatalf("intermediate from reloaded root: %v", err)
	}
}

func TestLoadOrCreateRefusesHalfARoot(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreate(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, RootKeyFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir); err == nil || !strings.Contains(err.Error(), "only one of") {
		t.Fatalf("LoadOrCreate with the key missing: err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, RootKeyFile)); err == nil {
		t.Fatal("LoadOrCreate wrote a new key beside the old certificate")
	}
}

func TestIntermediateNotChainingToRootIsRegenerated(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Plant a valid intermediate from another root, as a leftover from an earlier trust directory would be.
	foreign := mustIntermediate(t, mustRoot(t), "cluster1")
	cdir := filepath.Join(dir, "cluster1")
	if err := os.MkdirAll(cdir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, data := range foreign.SecretData() {
		if err := os.WriteFile(filepath.Join(cdir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	b := mustIntermediate(t, ca, "cluster1")
	if b.Fingerprint() == foreign.Fingerprint() {
		t.Fatal("intermediate of another root was reused")
	}
	if err := b.Cert().CheckSignatureFrom(ca.Cert()); err != nil {
		t.Fatalf("regenerated intermediate not signed by the root: %v", err)
	}
	onDisk, err := os.ReadFile(filepath.Join(cdir, CACertKey))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, b.CACert) {
		t.Fatal("regenerated intermediate was not persisted")
	}
	rootOnDisk, err := os.ReadFile(filepath.Join(cdir, RootCertKey))
	if err != nil || !bytes.Equal(rootOnDisk, ca.CertPEM()) {
		t.Fatalf("cluster1/root-cert.pem still holds the other root (err %v)", err)
	}

	// A corrupt key is replaced the same way.
	if err := os.WriteFile(filepath.Join(cdir, CAKeyKey), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	b2 := mustIntermediate(t, ca, "cluster1")
	if b2.Fingerprint() == b.Fingerprint() {
		t.Fatal("intermediate with a corrupt key was reused")
	}
}

func TestIntermediateNearExpiryIsRenewed(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := mustIntermediate(t, ca, "cluster1")
	later := func() time.Time { return time.Now().Add(DefaultIntermediateValidity - 10*24*time.Hour) }
	ca2, err := LoadOrCreateWith(dir, Options{Now: later})
	if err != nil {
		t.Fatal(err)
	}
	if ca2.RootFingerprint() != ca.RootFingerprint() {
		t.Fatal("root changed")
	}
	b2 := mustIntermediate(t, ca2, "cluster1")
	if b2.Fingerprint() == b.Fingerprint() {
		t.Fatal("intermediate 10 days from expiry was reused")
	}
	if !b2.Cert().NotAfter.After(b.Cert().NotAfter) {
		t.Fatal("renewed intermediate does not outlive the old one")
	}
}

func TestIntermediateRejectsPathLikeNames(t *testing.T) {
	ca := mustRoot(t)
	for _, name := range []string{"", "../cluster1", "a/b", "Cluster1", "."} {
		if _, err := ca.Intermediate(name); err == nil {
			t.Errorf("Intermediate(%q) accepted", name)
		}
	}
}

func TestFormattingNeverShowsKeys(t *testing.T) {
	ca := mustRoot(t)
	b := mustIntermediate(t, ca, "cluster1")
	keyPEM := b.SecretData()[CAKeyKey]
	block, _ := pem.Decode(keyPEM)
	rootKey, err := encodeKey(ca.key)
	if err != nil {
		t.Fatal(err)
	}
	rootBlock, _ := pem.Decode(rootKey)
	secrets := []string{
		"PRIVATE KEY",
		strings.Split(string(keyPEM), "\n")[1], // a base64 line of the key body
		strings.Split(string(rootKey), "\n")[1],
		fmt.Sprintf("%x", block.Bytes[:16]),
		fmt.Sprintf("%x", rootBlock.Bytes[:16]),
		fmt.Sprint(block.Bytes[:8]),
		ca.key.(*rsa.PrivateKey).D.String()[:20],
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		for _, arg := range []any{ca, *ca, b, *b, []*Bundle{b}, map[string]*CA{"x": ca}} {
			out := fmt.Sprintf(verb, arg)
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Fatalf("fmt %s of %T shows key material", verb, arg)
				}
			}
			if !strings.Contains(out, "redacted") {
				t.Errorf("fmt %s of %T = %q, want a redacted summary", verb, arg, out)
			}
		}
	}
}
