// Package wire reads SMTP replies (RFC 5321 section 4.2) within fixed limits.
// It knows the reply grammar and nothing about what a reply means, nor how
// it is shown: the server's text is kept raw.
package wire

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Limits on what a server may send in one reply. A reader never buffers more
// than MaxLineBytes of a line, so a hostile server cannot grow memory.
const (
	MaxLineBytes   = 2000 // RFC 5321 allows 512; real servers stay far below 2000
	MaxLines       = 100
	ReadBufferSize = 4096 // must exceed MaxLineBytes+2
)

// Reply is one SMTP reply: a three-digit code and its text lines, code removed.
type Reply struct {
	Code  int
	Lines []string
}

// String renders the reply as the server sent it, lines joined with newlines.
func (r Reply) String() string {
	var b strings.Builder
	for i, l := range r.Lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		sep := "-"
		if i == len(r.Lines)-1 {
			sep = " "
		}
		b.WriteString(strconv.Itoa(r.Code))
		if l != "" || sep == "-" {
			b.WriteString(sep)
		}
		b.WriteString(l)
	}
	return b.String()
}

// OneLine renders the reply on a single line for a status message.
func (r Reply) OneLine() string {
	return strings.ReplaceAll(r.String(), "\n", " / ")
}

// Text is the reply text without codes, lines joined with spaces.
func (r Reply) Text() string { return strings.Join(r.Lines, " ") }

// Class is the first digit of the code: 2 success, 3 more input, 4 and 5 failure.
func (r Reply) Class() int { return r.Code / 100 }

// ProtocolError reports a reply that breaks the reply grammar or a limit.
// Server is the offending line, raw, when there is one worth quoting.
type ProtocolError struct {
	Msg    string
	Server string
	Quoted bool
}

func (e *ProtocolError) Error() string {
	if !e.Quoted {
		return e.Msg
	}
	return e.Msg + ": " + e.Server
}

// ReadReply reads one complete (possibly multi-line) reply. onLine sees every
// raw line as it arrives, for the transcript.
func ReadReply(r *bufio.Reader, onLine func(string)) (Reply, error) {
	var rep Reply
	for {
		line, err := readLine(r)
		if err != nil {
			return rep, err
		}
		if onLine != nil {
			onLine(line)
		}
		code, last, text, perr := parseLine(line)
		if perr != nil {
			return rep, perr
		}
		if len(rep.Lines) == 0 {
			rep.Code = code
		} else if code != rep.Code {
			return rep, &ProtocolError{Msg: fmt.Sprintf("malformed reply: continuation line changed code from %d to %d", rep.Code, code)}
		}
		if len(rep.Lines) == MaxLines {
			return rep, &ProtocolError{Msg: fmt.Sprintf("reply longer than %d lines", MaxLines)}
		}
		rep.Lines = append(rep.Lines, text)
		if last {
			return rep, nil
		}
	}
}

func lineTooLong() error {
	return &ProtocolError{Msg: fmt.Sprintf("reply line longer than %d bytes", MaxLineBytes)}
}

// readLine returns one line without its line ending. A bare LF is accepted as
// well as CRLF: being lenient here costs nothing and real servers differ.
func readLine(r *bufio.Reader) (string, error) {
	b, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(b) > MaxLineBytes+2 {
		return "", lineTooLong()
	}
	if err != nil {
		return "", err
	}
	b = bytes.TrimSuffix(b[:len(b)-1], []byte{'\r'})
	if len(b) > MaxLineBytes { // a bare LF ends a line one byte sooner
		return "", lineTooLong()
	}
	return string(b), nil
}

// parseLine splits "250-text" / "250 text" / "250".
func parseLine(line string) (code int, last bool, text string, err error) {
	if len(line) < 3 || !isDigit(line[0]) || !isDigit(line[1]) || !isDigit(line[2]) || line[0] < '1' || line[0] > '5' {
		return 0, false, "", &ProtocolError{Msg: "malformed reply (not an SMTP reply code)", Server: line, Quoted: true}
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	if len(line) == 3 {
		return code, true, "", nil
	}
	switch line[3] {
	case ' ':
		return code, true, line[4:], nil
	case '-':
		return code, false, line[4:], nil
	}
	return 0, false, "", &ProtocolError{Msg: "malformed reply (no space or dash after the code)", Server: line, Quoted: true}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
