package metallb

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"
)

// validCert is the check MetalLB's cert rotator (open-policy-agent/cert-controller pkg/rotator ValidCert, the
// version MetalLB v0.15.2 pins) runs before keeping a Secret's certificates: the pair matches, and the certificate
// verifies against the CA for the name and key usages at a time 90 days ahead. (The package itself cannot be
// imported here: its controller-runtime does not build against our client-go.)
func validCert(ca, cert, key, name string, usages []x509.ExtKeyUsage, at time.Time) error {
	pool := x509.NewCertPool()
	b, _ := pem.Decode([]byte(ca))
	if b == nil {
		return errString("bad CA")
	}
	cac, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return err
	}
	pool.AddCert(cac)
	if _, err := tls.X509KeyPair([]byte(cert), []byte(key)); err != nil {
		return err
	}
	b, _ = pem.Decode([]byte(cert))
	if b == nil {
		return errString("bad cert")
	}
	crt, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return err
	}
	_, err = crt.Verify(x509.VerifyOptions{DNSName: name, Roots: pool, CurrentTime: at, KeyUsages: usages})
	return err
}

type errString string

func (e errString) Error() string { return string(e) }

func TestWebhookCertsSatisfyMetalLBsRotator(t *testing.T) {
	certs, err := webhookCerts(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(90 * 24 * time.Hour)
	if err := validCert(certs["ca.crt"], certs["ca.crt"], certs["ca.key"], webhookCAName, nil, at); err != nil {
		t.Errorf("CA refused: %v", err)
	}
	server := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if err := validCert(certs["ca.crt"], certs["tls.crt"], certs["tls.key"], webhookDNSName, server, at); err != nil {
		t.Errorf("server certificate refused: %v", err)
	}
	if err := validCert(certs["ca.crt"], certs["tls.crt"], certs["tls.key"], "other.metallb-system.svc", server, at); err == nil {
		t.Error("a certificate for another name was accepted: the check proves nothing")
	}
	if err := validCert(certs["ca.crt"], certs["tls.crt"], certs["ca.key"], webhookDNSName, server, at); err == nil {
		t.Error("a mismatched key was accepted")
	}
	if err := validCert(certs["ca.crt"], certs["tls.crt"], certs["tls.key"], webhookDNSName, server, time.Now().Add(webhookValidity+time.Hour)); err == nil {
		t.Error("accepted after expiry")
	}
}
