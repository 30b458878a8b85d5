package tracker

// Percent-encoding, both directions, byte-exact: info_hash and peer_id are
// binary, so nothing here treats the text as UTF-8.

// errTooLong is unescape's signal that the value does not fit its buffer;
// callers turn it into the refusal that suits the parameter.
const errTooLong failure = "parameter too long"

// unescape decodes s into buf and returns the filled prefix. '+' decodes as
// a space (see parseAnnounceQuery). It fails with errTooLong when the result
// would not fit buf, and with errBadEscape on a malformed escape.
func unescape(buf []byte, s string) ([]byte, error) {
	n := 0
	for i := 0; i < len(s); i++ {
		if n == len(buf) {
			if err := checkEscapes(s[i:]); err != nil {
				return nil, err
			}
			return nil, errTooLong
		}
		switch c := s[i]; c {
		case '%':
			if i+2 >= len(s) {
				return nil, errBadEscape
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return nil, errBadEscape
			}
			buf[n] = hi<<4 | lo
			i += 2
		case '+':
			buf[n] = ' '
		default:
			buf[n] = c
		}
		n++
	}
	return buf[:n], nil
}

// unescapeExact decodes s into dst, which it must fill exactly; otherwise it
// returns wrongLen (or errBadEscape).
func unescapeExact(dst []byte, s string, wrongLen error) error {
	b, err := unescape(dst, s)
	switch {
	case err == errTooLong:
		return wrongLen
	case err != nil:
		return err
	case len(b) != len(dst):
		return wrongLen
	}
	return nil
}

// checkEscapes reports whether every '%' in s starts a valid escape.
func checkEscapes(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i+2 >= len(s) {
			return errBadEscape
		}
		if _, ok := unhex(s[i+1]); !ok {
			return errBadEscape
		}
		if _, ok := unhex(s[i+2]); !ok {
			return errBadEscape
		}
		i += 2
	}
	return nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// appendEscaped appends b with every byte outside RFC 3986's unreserved set
// escaped; it is what clients put in info_hash and peer_id.
func appendEscaped(dst, b []byte) []byte {
	const hexDigits = "0123456789ABCDEF"
	for _, c := range b {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return dst
}
