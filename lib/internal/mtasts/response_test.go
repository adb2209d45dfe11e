package mtasts

import (
	"bufio"
	"errors"
	"net/textproto"
	"strings"
	"testing"
)

// readAll runs the response reader over raw bytes; the head comes back
// also when the body fails.
func readAll(raw string, limit int64) (*response, []byte, error) {
	br := bufio.NewReader(strings.NewReader(raw))
	r, err := readResponseHead(textproto.NewReader(br))
	if err != nil {
		return nil, nil, err
	}
	body, err := r.readBody(br, limit)
	return r, body, err
}

func TestReadResponse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		raw    string
		status int
		body   string
		want   string // part of the error; "" for none
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, "hello", ""},
		{"content-length, more follows", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhello", 200, "he", ""},
		{"repeated equal content-length", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhe", 200, "he", ""},
		{"until close", "HTTP/1.0 200 OK\r\n\r\nhello", 200, "hello", ""},
		{"no reason phrase", "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx", 200, "x", ""},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 1\n\nx", 200, "x", ""},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n", 200, "hello world", ""},
		{"chunked upper hex, bare LF", "HTTP/1.1 200 OK\nTransfer-Encoding: Chunked\n\nA\n0123456789\n0\n\n", 200, "0123456789", ""},
		{"chunked overrides content-length", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n", 200, "ab", ""},
		{"interim responses skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 200, "x", ""},
		{"204 has no body", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 204, "", ""},
		{"304 has no body", "HTTP/1.1 304 Not Modified\r\n\r\n", 304, "", ""},
		{"404 with body", "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!", 404, "no!", ""},
		{"exactly the limit", "HTTP/1.1 200 OK\r\n\r\n" + strings.Repeat("a", 100), 200, strings.Repeat("a", 100), ""},
		{"exactly the limit chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n32\r\n" + strings.Repeat("a", 50) + "\r\n32\r\n" + strings.Repeat("a", 50) + "\r\n0\r\n\r\n", 200, strings.Repeat("a", 100), ""},

		{"empty", "", 0, "", string(errTruncated)},
		{"head cut", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", 0, "", string(errTruncated)},
		{"head cut mid-line", "HTTP/1.1 200 OK\r\nContent-Len", 0, "", "malformed MIME header"}, // textproto's word for it
		{"HTTP/2", "HTTP/2 200\r\n\r\n", 0, "", "not an HTTP/1.x status line"},
		{"HTTP/0.9", "version: STSv1\n", 0, "", "not an HTTP/1.x status line"},
		{"status letters", "HTTP/1.1 2OO OK\r\n\r\n", 0, "", "invalid status code"},
		{"status 600", "HTTP/1.1 600 X\r\n\r\n", 0, "", "invalid status code"},
		{"status 4 digits", "HTTP/1.1 2000 X\r\n\r\n", 0, "", "invalid status code"},
		{"101", "HTTP/1.1 101 Switching Protocols\r\n\r\n", 0, "", "switched protocols"},
		{"endless interim", strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 6) + "HTTP/1.1 200 OK\r\n\r\n", 0, "", "more than 5 interim"},
		{"malformed header", "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", 0, "", "malformed MIME header"},
		{"conflicting content-length", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", 0, "", "conflicting Content-Length"},
		{"negative content-length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, "", `invalid Content-Length "-1"`},
		{"plus content-length", "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx", 0, "", `invalid Content-Length "+1"`},
		{"huge content-length", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", 0, "", "invalid Content-Length"},
		{"gzip transfer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, "", `Transfer-Encoding "gzip, chunked" is not supported`},
		{"truncated content-length", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 200, "", string(errTruncated)},
		{"over the limit", "HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n" + strings.Repeat("a", 101), 200, "", string(errTooLarge)},
		{"over the limit until close", "HTTP/1.0 200 OK\r\n\r\n" + strings.Repeat("a", 101), 200, "", string(errTooLarge)},
		{"over the limit chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n32\r\n" + strings.Repeat("a", 50) + "\r\n33\r\n", 200, "", string(errTooLarge)},
		{"huge chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n", 200, "", string(errTooLarge)},
		{"chunk size too long", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000001\r\nx\r\n", 200, "", "invalid chunk size"},
		{"chunk size not hex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 200, "", "invalid chunk size"},
		{"chunk size empty", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n;x\r\n", 200, "", "invalid chunk size"},
		{"chunk without CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n0\r\n\r\n", 200, "", "chunk data not followed by CRLF"},
		{"chunk line too long", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("e", maxChunkLine) + "\r\n", 200, "", "chunk framing line too long"},
		{"chunked cut", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", 200, "", string(errTruncated)},
		{"chunked no last chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n", 200, "", string(errTruncated)},
		{"chunked no final line", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", 200, "", string(errTruncated)},
	}
	for _, c := range cases {
		r, body, err := readAll(c.raw, 100)
		if c.want != "" {
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: body %q, error %v; want %q", c.name, body, err, c.want)
			}
			if c.status != 0 && (r == nil || r.status != c.status) {
				t.Errorf("%s: the head should have been read (status %d)", c.name, c.status)
			}
			continue
		}
		if err != nil || r.status != c.status || string(body) != c.body {
			t.Errorf("%s: status %v, body %q, error %v; want %d %q", c.name, r, body, err, c.status, c.body)
		}
	}
}

// FuzzReadResponse: the response reader never returns more body than the
// limit, and on success a Content-Length body is exactly that long.
// Seeds: testdata/fuzz/FuzzReadResponse.
func FuzzReadResponse(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	f.Fuzz(func(t *testing.T, raw string) {
		r, body, err := readAll(raw, 64)
		if err != nil {
			var re responseError
			if errors.As(err, &re) && re != errTruncated && re != errTooLarge {
				t.Fatalf("unknown responseError %q", re)
			}
			return
		}
		if len(body) > 64 {
			t.Fatalf("%d bytes of body past a limit of 64", len(body))
		}
		if r.status < 200 || r.status > 599 {
			t.Fatalf("final status %d", r.status)
		}
		if !r.chunked && r.length >= 0 && int64(len(body)) != r.length {
			t.Fatalf("Content-Length %d, body %d bytes", r.length, len(body))
		}
	})
}
