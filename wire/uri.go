package wire

import (
	"strings"
	"unicode/utf8"

	whatwg "github.com/nlnwa/whatwg-url/url"
)

// Resource URIs are judged only in canonical form: a URI that either RFC
// 3986 §6 syntax-based normalization or the WHATWG URL Standard's parsing
// and serialization (the parser of every browser, Node.js and Deno, which
// the TypeScript SDK looks resources up with) would rewrite is refused
// rather than matched, so that no two spellings of one resource can be
// judged differently. A URI the WHATWG parser rejects is refused too: a
// backend might still look it up literally. Opaque custom schemes (db:,
// mem:) that neither rewrites pass byte for byte.

// URIProblem returns why a resource URI is not canonical, naming the
// canonical form where one exists, or "" when it is canonical.
func URIProblem(u string) string {
	if why := rfc3986Problem(u); why != "" {
		return NormalFormProblem(why) + "; send it normalized (RFC 3986 section 6)"
	}
	if label := aLabel(u); label != "" {
		return "has the IDNA A-label " + Quote(label) + " in its host, which URL parsers validate differently; send an ASCII host without xn-- labels"
	}
	canon, ok := WHATWGHref(u)
	if !ok {
		return "is not a URL the WHATWG URL Standard can parse"
	}
	if canon != u {
		return "is not in the canonical form of the WHATWG URL Standard; send " + Quote(canon)
	}
	return ""
}

// NormalFormProblem phrases an RFC 3986 normal-form problem.
func NormalFormProblem(why string) string { return "is not in normal form (" + why + ")" }

// ShortURIProblem is URIProblem without the advice.
func ShortURIProblem(u string) string {
	if why := rfc3986Problem(u); why != "" {
		return NormalFormProblem(why)
	}
	return URIProblem(u)
}

// WHATWGHref is the WHATWG URL serialization of u (what Node's
// new URL(u).href gives), and whether u parses at all.
func WHATWGHref(u string) (string, bool) {
	parsed, err := whatwg.Parse(u)
	if err != nil {
		return "", false
	}
	return parsed.Href(false), true
}

// rfc3986Problem returns why the URI is not already in the normal form of
// RFC 3986 section 6 (syntax-based normalization), or "" when it is. In
// addition, percent-encoded "/", "\" and NUL are refused in the path,
// since backends that decode before resolving a path would read them as
// separators.
func rfc3986Problem(u string) string {
	for i := 0; i < len(u); i++ {
		c := u[i]
		if c <= 0x20 || c >= 0x7f || strings.IndexByte("\"<>\\^`{|}", c) >= 0 {
			r, _ := utf8.DecodeRuneInString(u[i:])
			return "character " + Quote(string(r)) + " must be percent-encoded"
		}
		if c == '%' {
			if i+2 >= len(u) || !isUpperHex(u[i+1]) || !isUpperHex(u[i+2]) {
				return "percent-encoding must be % and two upper-case hex digits"
			}
			v := unhex(u[i+1])<<4 | unhex(u[i+2])
			if isUnreserved(v) {
				return "percent-encoded unreserved character"
			}
		}
	}
	colon := strings.IndexByte(u, ':')
	if colon <= 0 {
		return "no scheme"
	}
	for i := 0; i < colon; i++ {
		c := u[i]
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		case c >= 'A' && c <= 'Z':
			return "scheme must be lower case"
		default:
			return "invalid scheme"
		}
	}
	rest := u[colon+1:]
	if end := strings.IndexAny(rest, "?#"); end >= 0 {
		rest = rest[:end]
	}
	path := rest
	if strings.HasPrefix(rest, "//") {
		auth := rest[2:]
		if end := strings.IndexByte(auth, '/'); end >= 0 {
			path = auth[end:]
			auth = auth[:end]
		} else {
			path = ""
		}
		host := auth[strings.LastIndexByte(auth, '@')+1:]
		if strings.HasSuffix(host, ":") {
			return "empty port"
		}
		if host != strings.ToLower(host) {
			return "host must be lower case"
		}
	}
	if strings.Contains(path, "//") {
		return "empty path segment"
	}
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "." || seg == ".." {
			return "dot segment in path"
		}
	}
	if strings.Contains(path, "%2F") || strings.Contains(path, "%5C") || strings.Contains(path, "%00") {
		return "percent-encoded separator or NUL in path"
	}
	return ""
}

func isUpperHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}

func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// aLabel returns the first IDNA A-label ("xn--…") in the host of a URI
// with a special scheme (whose host the WHATWG parser passes through
// UTS #46 domain-to-ASCII), or "". Parsers disagree on which A-labels are
// valid: Node.js applies the IDNA Bidi rule and its own Unicode version,
// github.com/nlnwa/whatwg-url does not (the differential fuzzer found
// "https://xn--fub3s/": accepted unchanged here, rejected by new URL()),
// so a backend could fail to look up, or look up differently, what was
// judged. Such hosts are refused; opaque hosts of other schemes are not
// domain names and pass.
func aLabel(u string) string {
	scheme, rest, ok := strings.Cut(u, ":")
	if !ok || !strings.HasPrefix(rest, "//") {
		return ""
	}
	switch strings.ToLower(scheme) {
	case "http", "https", "ws", "wss", "ftp", "file":
	default:
		return ""
	}
	auth := rest[2:]
	if end := strings.IndexAny(auth, "/?#"); end >= 0 {
		auth = auth[:end]
	}
	host := auth[strings.LastIndexByte(auth, '@')+1:]
	if strings.HasPrefix(host, "[") {
		return "" // an IP literal
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	for label := range strings.SplitSeq(host, ".") {
		if len(label) >= 4 && strings.EqualFold(label[:4], "xn--") {
			return label
		}
	}
	return ""
}
