package artifacts

import (
	"bytes"
	"encoding/base64"
	"regexp"
)

// Redaction. Secrets are never read, but a private key can still reach the artifacts inside text: a program that
// printed one, a debug endpoint that embedded one, an env value in a pod spec. Every file the collector writes goes
// through RedactPrivateKeys, which catches:
//
//   - PEM private key blocks of any type (RSA, EC, ENCRYPTED, OPENSSH, PGP ... BLOCK), also inside JSON strings (\n
//     escaped once or more), with or without encryption headers (Proc-Type, DEK-Info);
//   - headers in any letter case and with extra spaces ("-----begin rsa private key-----", "----- BEGIN  PRIVATE KEY -----");
//   - truncated blocks (a BEGIN without its END: a log line cut short, a capped dump): everything from the BEGIN to
//     the end of the key's body is removed;
//   - base64 of any of these (a Secret-like data value, an env value, a kubeconfig's client-key-data), in any of
//     base64's alignments, standard or URL alphabet, on one line or wrapped.
//
// Certificates (public) are left alone.

const redactedMarker = "[private key redacted by meshconform]"

var (
	// keyHeader is a PEM private key BEGIN line.
	keyHeader = `-{3,}[ \t]*BEGIN\s+(?:[A-Z0-9]+\s+)*?PRIVATE\s+KEY(?:\s+BLOCK)?[ \t]*-*`
	// keyBody is what a key's body may hold: base64, whitespace (indentation, wrapping), escaped newlines of a JSON
	// string (once or more escaped), and "Name: value" header lines (Proc-Type, DEK-Info, PGP's Version).
	// The header-line alternative comes first: the leftmost-first semantics would otherwise stop at its '-' or ':'.
	keyBody   = `(?:[A-Za-z][A-Za-z0-9-]*[ \t]*:[^\r\n\\]*|[A-Za-z0-9+/=]|\s|\\+[rnt])*`
	keyFooter = `-{3,}[ \t]*END\s+(?:[A-Z0-9]+\s+)*?PRIVATE\s+KEY(?:\s+BLOCK)?[ \t]*-*`
	// privateKeyRE matches a whole block, or a truncated one up to where its body ends.
	privateKeyRE = regexp.MustCompile(`(?i)` + keyHeader + keyBody + `(?:` + keyFooter + `)?`)
	keyHeaderRE  = regexp.MustCompile(`(?i)` + keyHeader)

	// base64RunRE is a run of base64 text, possibly wrapped over lines or JSON-escaped lines.
	base64RunRE = regexp.MustCompile(`[A-Za-z0-9+/_-]+=*(?:(?:\s|\\+[rnt])+[A-Za-z0-9+/_-]+=*)*`)
	// base64Dashes is base64 of "---". Five dashes (a PEM header's) always hold a 3-byte group of dashes, whatever
	// the alignment of the key inside the encoded data, so every base64-encoded PEM header contains it.
	base64Dashes = []byte("LS0t")
)

// headerWindow is how much base64 after a "---" group is decoded to look for a key header (96 bytes decoded).
const headerWindow = 128

// RedactPrivateKeys replaces private keys (see above) with a marker.
func RedactPrivateKeys(b []byte) []byte {
	if bytes.Contains(b, []byte("---")) {
		b = privateKeyRE.ReplaceAll(b, []byte(redactedMarker))
	}
	if bytes.Contains(b, base64Dashes) {
		b = redactBase64Keys(b)
	}
	return b
}

// redactBase64Keys replaces every base64 run that decodes to text holding a private key header.
func redactBase64Keys(b []byte) []byte {
	var out []byte
	last := 0
	for _, m := range base64RunRE.FindAllIndex(b, -1) {
		run := b[m[0]:m[1]]
		if !bytes.Contains(run, base64Dashes) {
			continue
		}
		at := base64KeyAt(run)
		if at < 0 {
			continue
		}
		from, to := encodedExtent(run, at)
		out = append(out, b[last:m[0]+from]...)
		out = append(out, redactedMarker...)
		last = m[0] + to
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// base64KeyAt returns where in a base64 run a private key header is encoded (the "---" group that decodes to it),
// or -1.
func base64KeyAt(run []byte) int {
	for i := 0; i < len(run); {
		j := bytes.Index(run[i:], base64Dashes)
		if j < 0 {
			return -1
		}
		start := i + j
		if keyHeaderRE.Match(decodeLenient(run[start:], headerWindow)) {
			return start
		}
		i = start + 1
	}
	return -1
}

// encodedExtent is the part of a run that encodes the key found at offset at: from the start of the segment (a
// whitespace-separated piece) holding it, through the following segments while they look like full lines of a wrapped
// encoding (a length that is a multiple of 4, no padding). A word after the encoding is not taken along.
func encodedExtent(run []byte, at int) (from, to int) {
	isSep := func(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\\' }
	from = at
	for from > 0 && !isSep(run[from-1]) {
		from--
	}
	to = from
	for to < len(run) {
		end := to
		for end < len(run) && !isSep(run[end]) {
			end++
		}
		seg := run[to:end]
		if end > at && (len(seg)%4 != 0 || bytes.HasSuffix(seg, []byte("="))) {
			return from, end // the encoding's last segment
		}
		to = end
		// Skip a separator: whitespace, or an escaped newline (backslashes and the letter after them).
		next := to
		for next < len(run) && isSep(run[next]) {
			if run[next] == '\\' {
				for next < len(run) && run[next] == '\\' {
					next++
				}
				if next < len(run) && (run[next] == 'n' || run[next] == 'r' || run[next] == 't') {
					next++
				}
				continue
			}
			next++
		}
		if next == to {
			break
		}
		to = next
	}
	return from, len(run)
}

// decodeLenient decodes up to max base64 characters of s, skipping whitespace and escaped newlines, accepting both
// alphabets and a missing or partial last group; it stops at padding or anything else.
func decodeLenient(s []byte, max int) []byte {
	clean := make([]byte, 0, max)
	for i := 0; i < len(s) && len(clean) < max; i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			clean = append(clean, c)
		case c == '-':
			clean = append(clean, '+')
		case c == '_':
			clean = append(clean, '/')
		case c == ' ', c == '\t', c == '\r', c == '\n':
		case c == '\\':
			for i+1 < len(s) && s[i+1] == '\\' {
				i++
			}
			if i+1 < len(s) && (s[i+1] == 'n' || s[i+1] == 'r' || s[i+1] == 't') {
				i++
			}
		default:
			i = len(s)
		}
	}
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1]
	}
	dec := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, _ := base64.RawStdEncoding.Decode(dec, clean)
	return dec[:n]
}
