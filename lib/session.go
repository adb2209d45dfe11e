package checksmtp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/mackerelio/checkers"
)

// checkError ends the conversation: the state it maps to and a message for
// the operator, which names the step. A timeout takes its state from -t.
type checkError struct {
	status  checkers.Status
	timeout bool
	msg     string
}

func (e *checkError) Error() string { return e.msg }

// finding is one judgement about the service; the worst one sets the status.
type finding struct {
	status checkers.Status
	msg    string
}

// session is one connection to the server: buffered I/O, the step clock and
// the transcript.
type session struct {
	cfg        *config
	conn       net.Conn
	r          *bufio.Reader
	w          *bufio.Writer
	clock      *stepClock
	transcript []string
	secrets    []string // every credential form sent, redacted from all output
	inSync     bool     // the last thing that happened was a whole reply read
}

func (s *session) attach(conn net.Conn) {
	s.conn = conn
	s.r = bufio.NewReaderSize(conn, readBufferSize)
	s.w = bufio.NewWriter(conn)
	s.inSync = false
}

func (s *session) note(format string, a ...any) {
	if s.cfg.verbose {
		s.transcript = append(s.transcript, fmt.Sprintf(format, a...))
	}
}

// send writes one command line and flushes; shown is what the transcript
// gets (AUTH payloads are replaced there).
func (s *session) send(line, shown string) error {
	s.note("C: %s", shown)
	s.inSync = false
	s.w.WriteString(line)
	s.w.WriteString("\r\n")
	if err := s.w.Flush(); err != nil {
		return s.ioError(err, "sending "+firstWord(shown))
	}
	return nil
}

// read reads one reply; doing names what the client was waiting for.
func (s *session) read(doing string) (reply, error) {
	rep, err := readReply(s.r, func(l string) { s.note("S: %s", l) })
	if err != nil {
		return rep, s.ioError(err, doing)
	}
	s.inSync = true
	return rep, nil
}

// cmd sends a command and reads its reply.
func (s *session) cmd(line string) (reply, error) {
	return s.cmdShown(line, line)
}

func (s *session) cmdShown(line, shown string) (reply, error) {
	if err := s.send(line, shown); err != nil {
		return reply{}, err
	}
	return s.read("reply to " + firstWord(shown))
}

// ioError turns a transport or protocol error into a checkError at the
// running step.
func (s *session) ioError(err error, doing string) error {
	st := s.clock.current()
	var pe *protocolError
	var ce *checkError
	switch {
	case errors.As(err, &ce):
		return ce
	case isTimeout(err):
		return &checkError{timeout: true, msg: fmt.Sprintf("timeout after %ss at step %s (%s)", fmtSeconds(s.cfg.timeout.Seconds()), st, doing)}
	case errors.As(err, &pe):
		return &checkError{status: checkers.CRITICAL, msg: fmt.Sprintf("%s at step %s", pe.describe(s.secrets), st)}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		// A server that closes with our command unread sends a reset instead
		// of a FIN; which one arrives first is a race, the meaning is the same.
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return &checkError{status: checkers.CRITICAL, msg: fmt.Sprintf("connection closed by server at step %s (%s)", st, doing)}
	}
	return &checkError{status: checkers.CRITICAL, msg: fmt.Sprintf("%s at step %s (%s)", trimNetError(err), st, doing)}
}

// failf is a CRITICAL end of the conversation at the running step.
func (s *session) failf(format string, a ...any) error {
	return &checkError{status: checkers.CRITICAL, msg: fmt.Sprintf(format, a...)}
}

// rejected reports a reply with an unwanted code: "<what> rejected at step X: <reply>".
func (s *session) rejected(what string, rep reply) error {
	return s.failf("%s rejected at step %s: %s", what, s.clock.current(), s.quote(rep))
}

// quote quotes a reply for a message. Credentials are removed before the
// text is sanitized and cut: a server echoing an AUTH payload must not leave
// a mangled ("|" rewritten) or partial (cut) form of it behind.
func (s *session) quote(r reply) string { return quoteServer(redact(r.oneLine(), s.secrets)) }

func trimNetError(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

func firstWord(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' || s[i] == ':' {
			return s[:i]
		}
	}
	return s
}
