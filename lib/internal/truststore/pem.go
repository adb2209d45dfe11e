package truststore

import (
	"bytes"
	"encoding/base64"
)

// PEM framing as encoding/pem writes it.
const (
	pemBegin     = "-----BEGIN "
	pemEnd       = "\n" + pemEndMarker
	pemEndMarker = "-----END "
	pemEndOfLine = "-----"
)

// block is one PEM block delimited exactly as encoding/pem.Decode delimits
// it, its body left in base64: decoding every body of a bundle costs more
// than the rest of the scan, and most bodies are never needed.
type block struct {
	typ     []byte
	headers bool   // the block has header lines ("Key: value")
	body    []byte // the base64 lines; empty when Decode's Bytes would be
}

// nextBlock returns the first block of data and what follows it, or ok
// false when pem.Decode would return nil. It mirrors pem.Decode step for step
// except that it does not decode the body. A body that is not valid base64
// makes Decode skip the block and go on searching from just after its END
// marker instead of after its END line; both searches find the same next
// block (the rest of an END line holds only "TYPE-----" and blanks, and TYPE
// cannot hold "-----BEGIN "), so callers skip such blocks when they decode
// them. FuzzNextBlock checks the equivalence.
func nextBlock(data []byte) (b block, rest []byte, ok bool) {
	rest = data
	endTrailerIndex := 0
	for {
		if endTrailerIndex < 0 || endTrailerIndex > len(rest) {
			return block{}, data, false
		}
		rest = rest[endTrailerIndex:]

		// The first END line, then the last BEGIN line before it.
		endIndex := indexEnd(rest)
		if endIndex < 0 {
			return block{}, data, false
		}
		endTrailerIndex = endIndex + len(pemEnd)
		beginIndex := lastIndex(rest[:endIndex], pemBegin)
		if beginIndex < 0 || (beginIndex > 0 && rest[beginIndex-1] != '\n') {
			continue
		}
		rest = rest[beginIndex+len(pemBegin):]
		endIndex -= beginIndex + len(pemBegin)
		endTrailerIndex -= beginIndex + len(pemBegin)

		typeLine, next, consumed := getLine(rest)
		rest = next
		endIndex -= consumed
		endTrailerIndex -= consumed
		if !bytes.HasSuffix(typeLine, []byte(pemEndOfLine)) {
			continue
		}
		typeLine = typeLine[:len(typeLine)-len(pemEndOfLine)]

		headers := false
		for {
			if len(rest) == 0 {
				return block{}, data, false
			}
			line, next, consumed := getLine(rest)
			if bytes.IndexByte(line, ':') < 0 {
				break
			}
			headers = true
			rest = next
			endIndex -= consumed
			endTrailerIndex -= consumed
		}
		if headers && endIndex < 0 {
			continue
		}

		// The END line repeats the type and ends with five dashes and blanks.
		endTrailer := rest[endTrailerIndex:]
		endTrailerLen := len(typeLine) + len(pemEndOfLine)
		if len(endTrailer) < endTrailerLen {
			continue
		}
		restOfEndLine := endTrailer[endTrailerLen:]
		endTrailer = endTrailer[:endTrailerLen]
		if !bytes.HasPrefix(endTrailer, typeLine) || !bytes.HasSuffix(endTrailer, []byte(pemEndOfLine)) {
			continue
		}
		if s, _, _ := getLine(restOfEndLine); len(s) != 0 {
			continue
		}

		b = block{typ: typeLine, headers: headers}
		if endIndex > 0 {
			b.body = rest[:endIndex]
		}
		// endIndex may be -1 when the block is empty and END follows the
		// BEGIN line directly; the -1 below allows for that, as in Decode.
		_, rest, _ = getLine(rest[endIndex+len(pemEnd)-1:])
		return b, rest, true
	}
}

// getLine is pem's: the first line without its line ending or trailing
// blanks, the rest, and how many bytes the line took.
func getLine(data []byte) (line, rest []byte, consumed int) {
	i := bytes.IndexByte(data, '\n')
	var j int
	if i < 0 {
		i = len(data)
		j = i
	} else {
		j = i + 1
		if i > 0 && data[i-1] == '\r' {
			i--
		}
	}
	return bytes.TrimRight(data[0:i], " \t"), data[j:], j
}

// indexEnd is bytes.Index(s, pemEnd). It hops from dash to dash: base64
// holds none, while its newlines would make Index stop at every line.
func indexEnd(s []byte) int {
	for off := 0; ; {
		i := bytes.IndexByte(s[off:], '-')
		if i < 0 {
			return -1
		}
		at := off + i
		if at > 0 && s[at-1] == '\n' && bytes.HasPrefix(s[at:], []byte(pemEndMarker)) {
			return at - 1
		}
		off = at + 1
	}
}

// lastIndex is bytes.LastIndex(s, sep) for a sep that starts with a dash,
// hopping from dash to dash as indexEnd does.
func lastIndex(s []byte, sep string) int {
	last := -1
	for off := 0; ; {
		i := bytes.IndexByte(s[off:], sep[0])
		if i < 0 {
			return last
		}
		at := off + i
		if bytes.HasPrefix(s[at:], []byte(sep)) {
			last = at
		}
		off = at + 1
	}
}

// decodeBody decodes a block body as pem.Decode does; nil when Decode would
// reject the block.
func decodeBody(body []byte) []byte {
	b64 := body
	if bytes.ContainsAny(b64, " \t") {
		b64 = make([]byte, 0, len(body))
		for _, c := range body {
			if c != ' ' && c != '\t' {
				b64 = append(b64, c)
			}
		}
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
	n, err := base64.StdEncoding.Decode(out, b64)
	if err != nil {
		return nil
	}
	return out[:n]
}

// prefixChars is how much of a body decodePrefix decodes at least: 704
// base64 characters are 528 bytes of DER, past the end of the subject in
// every certificate of the usual bundles (the farthest ends near 490).
const prefixChars = 11 * 64

// decodePrefix decodes the first whole lines of body, at least prefixChars
// characters of them, into scratch. The bytes are the ones decodeBody would
// begin with, if it succeeds. ok is false when the lines are not plain
// base64 (blanks, padding, a line length that splits a quantum) or body is
// short: decode it whole then.
func decodePrefix(body, scratch []byte) (der []byte, ok bool) {
	if len(body) <= prefixChars {
		return nil, false
	}
	nl := bytes.IndexByte(body[prefixChars:], '\n')
	if nl < 0 {
		return nil, false
	}
	seg := body[:prefixChars+nl]
	// The decoder skips CR and LF itself; blanks would have been removed
	// first, and padding ends the data: leave those to decodeBody.
	if bytes.IndexByte(seg, ' ') >= 0 || bytes.IndexByte(seg, '\t') >= 0 || bytes.IndexByte(seg, '=') >= 0 {
		return nil, false
	}
	if need := base64.StdEncoding.DecodedLen(len(seg)); cap(scratch) < need {
		scratch = make([]byte, need)
	}
	n, err := base64.StdEncoding.Decode(scratch[:cap(scratch)], seg)
	if err != nil {
		return nil, false
	}
	return scratch[:n], true
}

// Framing of the only blocks framedBody accepts.
const (
	certBegin = "-----BEGIN CERTIFICATE-----"
	certEnd   = "\n-----END CERTIFICATE-----"
)

// framedBody reports whether w[start:start+n] is, judged from the lines
// around it alone, the body of a block nextBlock would find in the file w
// is a window of, with type CERTIFICATE and no headers: a line that is
// "-----BEGIN CERTIFICATE-----" (then blanks, and a CR), starting the file
// or a line; the body, holding no dash (so no other BEGIN or END) and no
// colon (so no header); then "-----END CERTIFICATE-----" and a line end
// (blanks, a CR) or the file's end. Whatever comes before, nextBlock's
// search reaches that BEGIN line before passing it, and the first END
// after it is this one. fileStart and fileEnd say whether w starts and
// ends where the file does. It may refuse what nextBlock finds (a BEGIN
// line that starts past the window), never the other way round:
// FuzzFramedBody checks it.
func framedBody(w []byte, start, n int, fileStart, fileEnd bool) bool {
	if n <= 0 || start <= 0 || start > len(w) || n > len(w)-start || w[start-1] != '\n' {
		return false
	}
	body := w[start : start+n]
	if bytes.IndexByte(body, '-') >= 0 || bytes.IndexByte(body, ':') >= 0 {
		return false
	}
	ls := bytes.LastIndexByte(w[:start-1], '\n') + 1 // where the BEGIN line starts
	if ls == 0 && !fileStart {
		return false
	}
	if line, _, _ := getLine(w[ls:start]); string(line) != certBegin {
		return false
	}
	rest, ok := bytes.CutPrefix(w[start+n:], []byte(certEnd))
	if !ok || (bytes.IndexByte(rest, '\n') < 0 && !fileEnd) {
		return false
	}
	line, _, _ := getLine(rest)
	return len(line) == 0
}
