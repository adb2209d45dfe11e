package checksmtp

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Limits on what a server may send in one reply. A reader never buffers more
// than maxReplyLineBytes of a line, so a hostile server cannot grow memory.
const (
	maxReplyLineBytes = 2000 // RFC 5321 allows 512; real servers stay far below 2000
	maxReplyLines     = 100
	readBufferSize    = 4096 // must exceed maxReplyLineBytes+2
)

// reply is one SMTP reply: a three-digit code and its text lines, code removed.
type reply struct {
	code  int
	lines []string
}

// String renders the reply as the server sent it, lines joined with newlines.
func (r reply) String() string {
	var b strings.Builder
	for i, l := range r.lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		sep := "-"
		if i == len(r.lines)-1 {
			sep = " "
		}
		b.WriteString(strconv.Itoa(r.code))
		if l != "" || sep == "-" {
			b.WriteString(sep)
		}
		b.WriteString(l)
	}
	return b.String()
}

// oneLine renders the reply on a single line for a status message.
func (r reply) oneLine() string {
	return strings.ReplaceAll(r.String(), "\n", " / ")
}

// text is the reply text without codes, lines joined with spaces.
func (r reply) text() string { return strings.Join(r.lines, " ") }

func (r reply) class() int { return r.code / 100 }

// protocolError reports a reply that breaks the SMTP reply grammar or a limit.
// The offending server text is kept raw, so that the session can remove
// credentials from it before it is sanitized and cut (see session.ioError).
type protocolError struct {
	msg    string
	server string // raw server line quoted after msg, if quoted
	quoted bool
}

func (e *protocolError) Error() string { return e.describe(nil) }

// describe words the error, redacting secrets from the server text first.
func (e *protocolError) describe(secrets []string) string {
	if !e.quoted {
		return e.msg
	}
	return e.msg + ": " + quoteServer(redact(e.server, secrets))
}

// readReply reads one complete (possibly multi-line) reply. onLine sees every
// raw line as it arrives, for the transcript.
func readReply(r *bufio.Reader, onLine func(string)) (reply, error) {
	var rep reply
	for {
		line, err := readLine(r)
		if err != nil {
			return rep, err
		}
		if onLine != nil {
			onLine(line)
		}
		code, last, text, perr := parseReplyLine(line)
		if perr != nil {
			return rep, perr
		}
		if len(rep.lines) == 0 {
			rep.code = code
		} else if code != rep.code {
			return rep, &protocolError{msg: fmt.Sprintf("malformed reply: continuation line changed code from %d to %d", rep.code, code)}
		}
		if len(rep.lines) == maxReplyLines {
			return rep, &protocolError{msg: fmt.Sprintf("reply longer than %d lines", maxReplyLines)}
		}
		rep.lines = append(rep.lines, text)
		if last {
			return rep, nil
		}
	}
}

var errLineTooLong = &protocolError{msg: fmt.Sprintf("reply line longer than %d bytes", maxReplyLineBytes)}

// readLine returns one line without its line ending. A bare LF is accepted as
// well as CRLF: being lenient here costs nothing and real servers differ.
func readLine(r *bufio.Reader) (string, error) {
	b, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(b) > maxReplyLineBytes+2 {
		return "", errLineTooLong
	}
	if err != nil {
		return "", err
	}
	b = bytes.TrimSuffix(b[:len(b)-1], []byte{'\r'})
	if len(b) > maxReplyLineBytes { // a bare LF ends a line one byte sooner
		return "", errLineTooLong
	}
	return string(b), nil
}

// parseReplyLine splits "250-text" / "250 text" / "250".
func parseReplyLine(line string) (code int, last bool, text string, err error) {
	if len(line) < 3 || !isDigit(line[0]) || !isDigit(line[1]) || !isDigit(line[2]) || line[0] < '1' || line[0] > '5' {
		return 0, false, "", &protocolError{msg: "malformed reply (not an SMTP reply code)", server: line, quoted: true}
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
	return 0, false, "", &protocolError{msg: "malformed reply (no space or dash after the code)", server: line, quoted: true}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
