package artifacts

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

const (
	keyBody1 = "MIIEpAIBAAKCAQEA7secretbits\nAbCdEf0123456789+/xyz\n"
	certPEM  = "-----BEGIN CERTIFICATE-----\nMIICpublicbits\n-----END CERTIFICATE-----\n"
)

func TestRedactionCases(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	rsa := "-----BEGIN RSA PRIVATE KEY-----\n" + keyBody1 + "-----END RSA PRIVATE KEY-----\n"
	jsonEscaped, _ := json.Marshal(rsa)
	twiceEscaped, _ := json.Marshal(string(jsonEscaped))
	wrapped := b64(rsa)
	var lines []string
	for len(wrapped) > 20 {
		lines, wrapped = append(lines, wrapped[:20]), wrapped[20:]
	}
	lines = append(lines, wrapped)

	for _, c := range []struct {
		name, in string
		// secret must be gone; keep must stay.
		secret, keep []string
	}{
		{name: "full RSA block", in: "a\n" + rsa + "b\n", secret: []string{"secretbits", "Ab" + "CdEf"}, keep: []string{"a\n", "b\n"}},
		{name: "PKCS8 inside a JSON string", in: `{"key":` + string(jsonEscaped) + `,"x":1}`, secret: []string{"secretbits"}, keep: []string{`{"key":`, `,"x":1}`}},
		{name: "JSON escaped twice", in: `{"v":` + string(twiceEscaped) + `}`, secret: []string{"secretbits"}, keep: []string{`{"v":`}},
		{name: "truncated (no END)", in: "log: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANsecretbits\nAAAA", secret: []string{"secretbits", "AAAA"}, keep: []string{"log: "}},
		{name: "truncated in a JSON string", in: `{"k":"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEsecretbits","next":"v"}`, secret: []string{"secretbits"}, keep: []string{`"next":"v"`}},
		{name: "lower-case header", in: "-----begin rsa private key-----\nMIIEsecretbits\n-----end rsa private key-----\nafter", secret: []string{"secretbits"}, keep: []string{"after"}},
		{name: "odd-case header", in: "-----BeGiN Rsa PrIvAtE kEy-----\nMIIEsecretbits\n-----EnD rSa PRIVATE key-----", secret: []string{"secretbits"}},
		{name: "extra spaces in header", in: "----- BEGIN  RSA   PRIVATE KEY -----\nMIIEsecretbits\n-----END RSA PRIVATE KEY-----", secret: []string{"secretbits"}},
		{name: "indented body (YAML block)", in: "tls.key: |\n    -----BEGIN PRIVATE KEY-----\n    MIIEsecretbits\n    MIIEmorebits\n    -----END PRIVATE KEY-----\nnext: 1\n", secret: []string{"secretbits", "morebits"}, keep: []string{"tls.key: |", "next: 1"}},
		{name: "encrypted legacy key with headers", in: "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,ABCDEF\n\nMIIEsecretbits\n-----END RSA PRIVATE KEY-----\n", secret: []string{"secretbits", "ABCDEF"}},
		{name: "OpenSSH key", in: "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1secretbits\n-----END OPENSSH PRIVATE KEY-----", secret: []string{"secretbits"}},
		{name: "base64 of a PEM key (Secret data)", in: "data:\n  tls.key: " + b64(rsa) + "\n  tls.crt: " + b64(certPEM) + "\n", secret: []string{b64(rsa)[:40], b64(rsa)[40:80]}, keep: []string{"tls.key: ", "tls.crt: " + b64(certPEM)}},
		{name: "base64 of a PEM key (env value)", in: `{"name":"KEY","value":"` + b64(rsa) + `"}`, secret: []string{b64(rsa)[:40]}, keep: []string{`"name":"KEY"`}},
		{name: "base64 of a lower-case truncated key", in: "v=" + b64("-----begin private key-----\nMIIEsecretbits"), secret: []string{b64("-----begin private key-----\nMIIEsecretbits")[:30]}},
		{name: "base64 URL alphabet, unpadded", in: "k " + base64.RawURLEncoding.EncodeToString([]byte(rsa+"\xff\xfe")), secret: []string{base64.RawURLEncoding.EncodeToString([]byte(rsa))[:40]}},
		{name: "base64 of a bundle, key not at the start (alignment 1)", in: b64("x" + rsa), secret: []string{b64("x" + rsa)[:40]}},
		{name: "base64 of a bundle, key not at the start (alignment 2)", in: b64(certPEM + "xy" + rsa), secret: []string{b64(certPEM + "xy" + rsa)[80:120]}},
		{name: "base64 wrapped over lines", in: "blob:\n" + strings.Join(lines, "\n") + "\nend", secret: []string{lines[0], lines[2], lines[len(lines)-2]}, keep: []string{"blob:"}},
		{name: "certificate only: untouched", in: certPEM, keep: []string{certPEM}},
		{name: "base64 certificate only: untouched", in: "crt: " + b64(certPEM), keep: []string{b64(certPEM)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := string(RedactPrivateKeys([]byte(c.in)))
			for _, s := range c.secret {
				if strings.Contains(out, s) {
					t.Errorf("%q not redacted:\n%s", s, out)
				}
			}
			if len(c.secret) > 0 && !strings.Contains(out, redactedMarker) {
				t.Errorf("no marker:\n%s", out)
			}
			for _, s := range c.keep {
				if !strings.Contains(out, s) {
					t.Errorf("%q lost:\n%s", s, out)
				}
			}
		})
	}
}
