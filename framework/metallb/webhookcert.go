package metallb

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"time"
)

const (
	// WebhookSecret is the manifest's Secret that MetalLB's controller mounts for its webhook server.
	WebhookSecret = "metallb-webhook-cert"
	// webhookDNSName and webhookCAName are what MetalLB's cert rotator (open-policy-agent/cert-controller, configured
	// in go.universe.tf/metallb internal/k8s) verifies an existing certificate against; one that verifies for 90
	// days ahead is kept, not regenerated.
	webhookDNSName = "metallb-webhook-service." + Namespace + ".svc"
	webhookCAName  = "cert"
	webhookCAOrg   = "metallb"
	// webhookValidity is far beyond the rotator's 90-day look-ahead.
	webhookValidity = 10 * 365 * 24 * time.Hour
)

// webhookCerts are the Secret's data as the rotator writes it: a CA (ca.crt, ca.key) and the webhook server's
// certificate signed by it (tls.crt, tls.key).
func webhookCerts(now time.Time) (map[string]string, error) {
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	begin, end := now.Add(-time.Hour), now.Add(webhookValidity)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: webhookCAName, Organization: []string{webhookCAOrg}},
		DNSNames:              []string{webhookCAName},
		NotBefore:             begin,
		NotAfter:              end,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: webhookDNSName},
		DNSNames:              []string{webhookDNSName},
		NotBefore:             begin,
		NotAfter:              end,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, err
	}
	certPEM := func(der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	keyPEM := func(k *rsa.PrivateKey) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	}
	return map[string]string{"ca.crt": certPEM(caDER), "ca.key": keyPEM(caKey), "tls.crt": certPEM(der), "tls.key": keyPEM(key)}, nil
}
