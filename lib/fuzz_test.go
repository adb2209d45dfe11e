package checksmtp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzReadReply feeds arbitrary bytes to the reply reader: it never panics,
// and every reply it returns respects the limits (at most 100 lines, each at
// most 2000 bytes with its code). Seeds: testdata/fuzz/FuzzReadReply.
func FuzzReadReply(f *testing.F) {
	f.Add([]byte("220 mx.example.test ESMTP\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReaderSize(bytes.NewReader(data), readBufferSize)
		for i := 0; i <= len(data); i++ { // every reply consumes at least one byte
			rep, err := readReply(r, func(l string) {
				if len(l) > maxReplyLineBytes {
					t.Fatalf("line of %d bytes handed to the transcript", len(l))
				}
			})
			if err != nil {
				var pe *protocolError
				if !errors.As(err, &pe) && !errors.Is(err, io.EOF) {
					t.Fatalf("unexpected error type %T: %v", err, err)
				}
				if pe != nil {
					if msg := pe.Error(); len(msg) > maxQuoted+200 || !utf8.ValidString(msg) || strings.ContainsAny(msg, "|\r\n\x00") {
						t.Fatalf("error message not bounded and clean: %q", msg)
					}
				}
				return
			}
			if len(rep.lines) == 0 || len(rep.lines) > maxReplyLines {
				t.Fatalf("reply of %d lines", len(rep.lines))
			}
			if rep.code < 100 || rep.code > 599 {
				t.Fatalf("reply code %d", rep.code)
			}
			for _, l := range rep.lines {
				if len(l)+4 > maxReplyLineBytes {
					t.Fatalf("reply line of %d bytes", len(l)+4)
				}
			}
			if len(rep.String()) > maxReplyLines*(maxReplyLineBytes+1) {
				t.Fatalf("reply of %d bytes", len(rep.String()))
			}
		}
		t.Fatal("readReply returned more replies than there are bytes")
	})
}

var statusLine = regexp.MustCompile(`^SMTP (OK|WARNING|CRITICAL|UNKNOWN): `)

// FuzzRunArgs runs run(args) on arbitrary command lines, one argument per
// line of the input. Whatever the options say, the test hook pins the target
// to a refusing loopback port after parsing: nothing is dialled outside
// loopback and no run waits on a server. Seeds: testdata/fuzz/FuzzRunArgs.
func FuzzRunArgs(f *testing.F) {
	port := closedPort(f)
	// Fuzz targets run after every test has finished (and fuzzing runs no
	// test), so the package-level hook is not shared with a parallel run().
	pinned := false
	testHookAfterParse = func(c *config) {
		pinned = true
		c.host, c.unixSocket, c.network = "127.0.0.1", false, "tcp"
		c.port, _ = strconv.Atoi(port)
		c.proxy = false
	}
	f.Cleanup(func() { testHookAfterParse = nil })
	f.Add("-H\nmx.example.test\n-t\n0.5\n-v")
	f.Fuzz(func(t *testing.T, input string) {
		args := strings.Split(input, "\n")
		for _, a := range args {
			// Files named on the command line are read before the hook:
			// keep devices (an endless /dev/zero, a blocking /dev/stdin) out.
			if strings.Contains(a, "/dev") || strings.Contains(a, "/proc") || strings.Contains(a, "/sys") {
				t.Skip("names a device or kernel file")
			}
		}
		pinned = false
		ckr := run(args)
		out := format(ckr)
		if ckr.Status < 0 || ckr.Status > 3 {
			t.Fatalf("status %d", ckr.Status)
		}
		if !strings.HasSuffix(out, "\n") {
			t.Fatalf("stdout does not end with a newline: %q", out)
		}
		if ckr.Name == "" { // --help or --version
			return
		}
		if strings.Contains(out, "internal error") {
			t.Fatalf("panic recovered for %q:\n%s", args, out)
		}
		if !statusLine.MatchString(out) {
			t.Fatalf("no status line first: %q", out)
		}
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8: %q", out)
		}
		first, rest, _ := strings.Cut(out, "\n")
		if strings.Count(first, "|") > 1 || strings.Contains(rest, "|") {
			t.Fatalf("'|' outside the perfdata separator: %q", out)
		}
		if strings.ContainsAny(first, "\r\x00\x1b") {
			t.Fatalf("control character in the status line: %q", first)
		}
		if ckr.Status != 3 && !pinned {
			t.Fatalf("probed without the hook pinning the target: %q", out)
		}
	})
}
