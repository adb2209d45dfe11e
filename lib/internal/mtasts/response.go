package mtasts

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"strconv"
	"strings"
)

// The policy fetch is one GET with "Connection: close", so all it needs of
// HTTP/1.x (RFC 9112) is reading one response: the status line, the
// headers and the body in its three framings (Content-Length, chunked,
// until close). That is done here rather than with net/http, which would
// add some 0.8 MB and a dozen package initialisations to every run of the
// plugin, domain mode or not.

// response is an HTTP response head plus how its body is framed.
type response struct {
	status int
	header textproto.MIMEHeader
	// length is the Content-Length, -1 when the body is chunked or runs
	// until the connection closes (chunked tells which).
	length  int64
	chunked bool
}

// maxInterim bounds the 1xx responses skipped before the real one.
const maxInterim = 5

// responseError is a condition the fetch words itself. A type rather
// than errors.New so that the sentinels are constants.
type responseError string

func (e responseError) Error() string { return string(e) }

const (
	errTruncated responseError = "connection closed inside the response"
	errTooLarge  responseError = "body larger than the limit"
)

// readResponseHead reads the status line and headers of the final
// response, skipping interim 1xx responses, and works out the framing.
func readResponseHead(tp *textproto.Reader) (*response, error) {
	for range maxInterim + 1 {
		line, err := tp.ReadLine()
		if err != nil {
			if err == io.EOF {
				err = errTruncated
			}
			return nil, err
		}
		status, err := parseStatusLine(line)
		if err != nil {
			return nil, err
		}
		h, err := tp.ReadMIMEHeader()
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				err = errTruncated
			}
			return nil, err
		}
		if status == 101 {
			return nil, errors.New("HTTP 101: the server switched protocols unasked")
		}
		if status < 200 {
			continue // 100 Continue, 103 Early Hints: the answer follows
		}
		r := &response{status: status, header: h, length: -1}
		if err := r.framing(); err != nil {
			return nil, err
		}
		return r, nil
	}
	return nil, fmt.Errorf("more than %d interim (1xx) responses", maxInterim)
}

// parseStatusLine reads "HTTP/1.x SP 3DIGIT [SP reason]".
func parseStatusLine(line string) (int, error) {
	proto, rest, _ := strings.Cut(line, " ")
	if proto != "HTTP/1.1" && proto != "HTTP/1.0" {
		return 0, fmt.Errorf("not an HTTP/1.x status line: %q", shorten(line, 40))
	}
	code, _, _ := strings.Cut(rest, " ")
	if len(code) != 3 || strings.Trim(code, "0123456789") != "" || code[0] < '1' || code[0] > '5' {
		return 0, fmt.Errorf("invalid status code in %q", shorten(line, 40))
	}
	n, _ := strconv.Atoi(code)
	return n, nil
}

// framing sets length and chunked from the headers (RFC 9112 6.3).
func (r *response) framing() error {
	if r.status == 204 || r.status == 304 {
		r.length = 0
		return nil
	}
	if te := r.header.Values("Transfer-Encoding"); len(te) > 0 {
		// Transfer-Encoding overrides Content-Length. Only chunked is
		// understood; gzip and the like were not asked for.
		if len(te) != 1 || !strings.EqualFold(strings.TrimSpace(te[0]), "chunked") {
			return fmt.Errorf("Transfer-Encoding %q is not supported (only chunked)", shorten(strings.Join(te, ", "), 40))
		}
		r.chunked = true
		return nil
	}
	cls := r.header.Values("Content-Length")
	if len(cls) == 0 {
		return nil // the body runs until the connection closes
	}
	for _, cl := range cls[1:] {
		if strings.TrimSpace(cl) != strings.TrimSpace(cls[0]) {
			return fmt.Errorf("conflicting Content-Length headers %q", shorten(strings.Join(cls, ", "), 40))
		}
	}
	cl := strings.TrimSpace(cls[0])
	n, err := strconv.ParseInt(cl, 10, 64)
	if err != nil || n < 0 || cl[0] == '+' {
		return fmt.Errorf("invalid Content-Length %q", shorten(cl, 40))
	}
	r.length = n
	return nil
}

// readBody reads the body as framed, refusing one longer than limit
// without reading more than limit+1 bytes of it. A body that is too long
// returns errTooLarge.
func (r *response) readBody(br *bufio.Reader, limit int64) ([]byte, error) {
	switch {
	case r.chunked:
		return readChunked(br, limit)
	case r.length > limit:
		return nil, errTooLarge
	case r.length >= 0:
		body := make([]byte, r.length)
		if _, err := io.ReadFull(br, body); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				err = errTruncated
			}
			return nil, err
		}
		return body, nil
	}
	body, err := io.ReadAll(io.LimitReader(br, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit {
		return nil, errTooLarge
	}
	return body, nil
}

// readChunked decodes a chunked body (RFC 9112 7.1): chunks of
// hex-size[;extensions] CRLF data CRLF, a zero-size last chunk, trailer
// lines, an empty line. Line ends may be bare LF, as net/http accepts.
func readChunked(br *bufio.Reader, limit int64) ([]byte, error) {
	var body []byte
	for {
		line, err := readLine(br)
		if err != nil {
			return nil, err
		}
		sizeField, _, _ := strings.Cut(line, ";")
		sizeField = strings.TrimRight(sizeField, " \t")
		if sizeField == "" || len(sizeField) > 16 || strings.Trim(sizeField, "0123456789abcdefABCDEF") != "" {
			return nil, fmt.Errorf("invalid chunk size line %q", shorten(line, 40))
		}
		size, _ := strconv.ParseUint(sizeField, 16, 64)
		if size == 0 {
			break
		}
		if size > uint64(limit)-uint64(len(body)) {
			return nil, errTooLarge
		}
		start := len(body)
		body = append(body, make([]byte, size)...)
		if _, err := io.ReadFull(br, body[start:]); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				err = errTruncated
			}
			return nil, err
		}
		end, err := readLine(br)
		if err != nil {
			return nil, err
		}
		if end != "" {
			return nil, errors.New("chunk data not followed by CRLF")
		}
	}
	for { // trailer fields, then the empty line
		line, err := readLine(br)
		if err != nil {
			return nil, err
		}
		if line == "" {
			return body, nil
		}
	}
}

// maxChunkLine bounds a chunk-size or trailer line.
const maxChunkLine = 4096

// readLine reads a line ended by LF or CRLF, without the ending.
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		frag, err := br.ReadSlice('\n')
		b = append(b, frag...)
		if len(b) > maxChunkLine {
			return "", errors.New("chunk framing line too long")
		}
		if err == nil {
			break
		}
		if err == io.EOF {
			return "", errTruncated
		}
		if err != bufio.ErrBufferFull {
			return "", err
		}
	}
	s := strings.TrimSuffix(string(b), "\n")
	return strings.TrimSuffix(s, "\r"), nil
}
