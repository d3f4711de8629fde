package metallb

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"
	"time"

	"github.com/meshconform/meshconform/framework/images"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/e2e-framework/klient/decoder"
	"sigs.k8s.io/e2e-framework/klient/k8s"
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

// On the real manifest: the webhook Secret is filled, and the controller and speaker get a readiness probe that
// starts after 1 s and repeats every 2 s, while the probes' target and the liveness probes stay MetalLB's.
func TestAdjustOnTheManifest(t *testing.T) {
	kit, err := images.New(images.Options{CacheDir: images.DefaultCacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(kit.MetalLBManifest())
	if err != nil {
		t.Skipf("the MetalLB manifest is not built here (%v): run `meshconform images build metallb-manifest`", err)
	}
	defer f.Close()
	certs := map[string]string{"ca.crt": "CA", "tls.crt": "CRT", "tls.key": "KEY"}
	probes, secrets := 0, 0
	err = decoder.DecodeEach(context.Background(), f, func(ctx context.Context, obj k8s.Object) error {
		if err := Adjust(obj, certs); err != nil {
			return err
		}
		var pod *corev1.PodSpec
		switch o := obj.(type) {
		case *corev1.Secret:
			if o.Name == WebhookSecret {
				secrets++
				if o.StringData["tls.crt"] != "CRT" {
					t.Errorf("webhook Secret not filled: %v", o.StringData)
				}
			}
			return nil
		case *appsv1.Deployment:
			pod = &o.Spec.Template.Spec
		case *appsv1.DaemonSet:
			pod = &o.Spec.Template.Spec
		default:
			return nil
		}
		for _, c := range pod.Containers {
			if c.ReadinessProbe == nil {
				continue
			}
			probes++
			if c.ReadinessProbe.InitialDelaySeconds != 1 || c.ReadinessProbe.PeriodSeconds != 2 {
				t.Errorf("%s %s: readiness probe %+v", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), c.ReadinessProbe)
			}
			if c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/metrics" {
				t.Errorf("%s: probe target changed: %+v", obj.GetName(), c.ReadinessProbe)
			}
			if c.LivenessProbe == nil || c.LivenessProbe.InitialDelaySeconds != 10 {
				t.Errorf("%s: liveness probe changed: %+v", obj.GetName(), c.LivenessProbe)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if probes != 2 || secrets != 1 {
		t.Errorf("%d readiness probes and %d webhook Secrets adjusted, want the controller's and the speaker's, and one", probes, secrets)
	}
}
