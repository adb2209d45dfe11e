package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadReply(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Reply
		err      string
	}{
		{"single line", "250 ok\r\n", Reply{250, []string{"ok"}}, ""},
		{"multi line", "250-a\r\n250-b\r\n250 c\r\n", Reply{250, []string{"a", "b", "c"}}, ""},
		{"bare LF", "220 hi\n", Reply{220, []string{"hi"}}, ""},
		{"code only", "221\r\n", Reply{221, []string{""}}, ""},
		{"not a code", "hello\r\n", Reply{}, "malformed reply (not an SMTP reply code): hello"},
		{"code 6xx", "650 x\r\n", Reply{}, "not an SMTP reply code"},
		{"bad separator", "250x\r\n", Reply{}, "no space or dash"},
		{"code change", "250-a\r\n251 b\r\n", Reply{}, "continuation line changed code from 250 to 251"},
		{"line of 2000 bytes is accepted", "250 " + strings.Repeat("x", MaxLineBytes-4) + "\r\n", Reply{250, []string{strings.Repeat("x", MaxLineBytes-4)}}, ""},
		{"line over 2000 bytes", "250 " + strings.Repeat("x", MaxLineBytes-3) + "\r\n", Reply{}, "reply line longer than 2000 bytes"},
		{"line far over the buffer", "250 " + strings.Repeat("x", 10000) + "\r\n", Reply{}, "reply line longer than 2000 bytes"},
		{"100 lines accepted", strings.Repeat("250-x\r\n", MaxLines-1) + "250 x\r\n", Reply{250, repeat("x", MaxLines)}, ""},
		{"101 lines refused", strings.Repeat("250-x\r\n", MaxLines) + "250 x\r\n", Reply{}, "reply longer than 100 lines"},
		{"EOF mid reply", "250-a\r\n", Reply{}, "EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadReply(bufio.NewReaderSize(strings.NewReader(tc.in), ReadBufferSize), nil)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got.Code != tc.want.Code || strings.Join(got.Lines, "\n") != strings.Join(tc.want.Lines, "\n") {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestReplyForms(t *testing.T) {
	r := Reply{250, []string{"mx", "SIZE 10", ""}}
	if got := r.String(); got != "250-mx\n250-SIZE 10\n250" {
		t.Errorf("String %q", got)
	}
	if got := r.OneLine(); got != "250-mx / 250-SIZE 10 / 250" {
		t.Errorf("OneLine %q", got)
	}
	if r.Class() != 2 || r.Text() != "mx SIZE 10 " {
		t.Errorf("Class %d Text %q", r.Class(), r.Text())
	}
}

// FuzzReadReply feeds arbitrary bytes to the reply reader: it never panics,
// and every reply it returns respects the limits (at most 100 lines, each at
// most 2000 bytes with its code). Seeds: testdata/fuzz/FuzzReadReply.
func FuzzReadReply(f *testing.F) {
	f.Add([]byte("220 mx.example.test ESMTP\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReaderSize(bytes.NewReader(data), ReadBufferSize)
		for i := 0; i <= len(data); i++ { // every reply consumes at least one byte
			rep, err := ReadReply(r, func(l string) {
				if len(l) > MaxLineBytes {
					t.Fatalf("line of %d bytes handed to the transcript", len(l))
				}
			})
			if err != nil {
				var pe *ProtocolError
				if !errors.As(err, &pe) && !errors.Is(err, io.EOF) {
					t.Fatalf("unexpected error type %T: %v", err, err)
				}
				if pe != nil && (len(pe.Msg) > 200 || len(pe.Server) > MaxLineBytes) {
					t.Fatalf("error not bounded: %q", pe.Error())
				}
				return
			}
			if len(rep.Lines) == 0 || len(rep.Lines) > MaxLines {
				t.Fatalf("reply of %d lines", len(rep.Lines))
			}
			if rep.Code < 100 || rep.Code > 599 {
				t.Fatalf("reply code %d", rep.Code)
			}
			for _, l := range rep.Lines {
				if len(l)+4 > MaxLineBytes {
					t.Fatalf("reply line of %d bytes", len(l)+4)
				}
			}
			if len(rep.String()) > MaxLines*(MaxLineBytes+1) {
				t.Fatalf("reply of %d bytes", len(rep.String()))
			}
		}
		t.Fatal("ReadReply returned more replies than there are bytes")
	})
}
