package probe

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"

	"github.com/check-smtp/check-smtp/lib/internal/wire"
)

// session is one connection to the server: buffered I/O, the step clock and
// the transcript.
type session struct {
	tg         Target
	set        Settings
	deps       Deps
	conn       net.Conn
	r          *bufio.Reader
	w          *bufio.Writer
	clock      *clock
	transcript []string
	secrets    []string // every credential form sent, redacted from all output
	inSync     bool     // the last thing that happened was a whole reply read
	// lastCmd and lastStep are the command whose reply was read last ("" for
	// the banner) and the step it was read in, for "out of step" messages.
	lastCmd  string
	lastStep Step
	received *countingConn // the connection as dialled, counting what the server sent
	// certAsked: the server asked for a client certificate in the handshake.
	certAsked bool
}

// countingConn counts the bytes read: a banner timeout with nothing at
// all received reads differently from one that got half a line.
type countingConn struct {
	net.Conn
	n int64
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n += int64(n)
	return n, err
}

func (s *session) attach(conn net.Conn) {
	s.conn = conn
	s.r = bufio.NewReaderSize(conn, wire.ReadBufferSize)
	s.w = bufio.NewWriter(conn)
	s.inSync = false
}

func (s *session) note(format string, a ...any) {
	if s.set.Verbose {
		s.transcript = append(s.transcript, fmt.Sprintf(format, a...))
	}
}

// send writes one command line and flushes; shown is what the transcript
// gets (AUTH payloads are replaced there).
func (s *session) send(line, shown string) error {
	if f := s.inStep(); f != nil {
		return f
	}
	if w := firstWord(shown); !strings.HasPrefix(w, "<") && w != "*" { // not an AUTH payload
		s.lastCmd = w
	}
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
func (s *session) read(doing string) (wire.Reply, error) {
	rep, err := wire.ReadReply(s.r, func(l string) { s.note("S: %s", l) })
	if err != nil {
		return rep, s.ioError(err, doing)
	}
	s.inSync = true
	s.lastStep = s.clock.current()
	s.clock.replied(rep)
	return rep, nil
}

// inStep checks that the server sent one reply to the last command and no
// more, before the next command goes out (or after the reply to QUIT):
// data already buffered means the replies are out of step, and every later
// reply would be read as the answer to the wrong command.
func (s *session) inStep() *Failure {
	if !s.inSync || s.r == nil || s.r.Buffered() == 0 {
		return nil
	}
	s.inSync = false // QUIT after this would read the extra data as its reply
	if s.clock.current() != s.lastStep {
		s.clock.abandon()
	}
	extra, _ := s.r.Peek(s.r.Buffered())
	line, _, _ := strings.Cut(string(extra), "\n")
	line = strings.TrimSuffix(line, "\r")
	after := "the banner"
	if s.lastCmd != "" {
		after = "the reply to " + s.lastCmd
	}
	return &Failure{Step: s.lastStep, Kind: KindProtocol, Err: ErrOutOfStep,
		Message: msgf("replies out of step at step %s: more data after %s: %s", s.lastStep, after, server(line))}
}

// noBannerHint adds a hint to a banner timeout when the server sent
// nothing at all: a TLS server waits for the ClientHello, so a plaintext
// or STARTTLS client waits for a greeting that never comes.
func (s *session) noBannerHint(err error) error {
	f, ok := err.(*Failure)
	if !ok || f.Kind != KindTimeout || s.set.TLS.Mode == ImplicitTLS || s.received == nil || s.received.n > 0 {
		return err
	}
	f.Message = f.Message.append(": nothing received, an implicit-TLS port? try -s")
	return f
}

// cmd sends a command and reads its reply.
func (s *session) cmd(line string) (wire.Reply, error) {
	return s.cmdShown(line, line)
}

func (s *session) cmdShown(line, shown string) (wire.Reply, error) {
	if err := s.send(line, shown); err != nil {
		return wire.Reply{}, err
	}
	return s.read("reply to " + firstWord(shown))
}

// ioError turns a transport or protocol error into a Failure at the
// running step.
func (s *session) ioError(err error, doing string) *Failure {
	st := s.clock.current()
	var pe *wire.ProtocolError
	var f *Failure
	switch {
	case errors.As(err, &f):
		return f
	case s.clientCertRefused(err):
		return s.clientCertFailure(err)
	case isTimeout(err):
		return &Failure{Step: st, Kind: KindTimeout, Err: err,
			Message: msgf("timeout after %ss at step %s (%s)", fmtSeconds(s.set.Timeout.Seconds()), st, doing)}
	case errors.As(err, &pe):
		m := msgf("%s", pe.Msg)
		if pe.Quoted {
			m = msgf("%s: %s", pe.Msg, server(pe.Server))
		}
		return &Failure{Step: st, Kind: KindProtocol, Err: err, Message: m.append(" at step " + string(st))}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		// A server that closes with our command unread sends a reset instead
		// of a FIN; which one arrives first is a race, the meaning is the same.
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return &Failure{Step: st, Kind: KindClosed, Err: err,
			Message: msgf("connection closed by server at step %s (%s)", st, doing)}
	}
	return &Failure{Step: st, Kind: KindConnect, Err: err,
		Message: msgf("%s at step %s (%s)", trimNetError(err), st, doing)}
}

// fail ends the conversation at the running step.
func (s *session) fail(kind Kind, format string, a ...any) *Failure {
	return &Failure{Step: s.clock.current(), Kind: kind, Message: msgf(format, a...)}
}

// rejected reports a reply with an unwanted code: "<what> rejected at step X: <reply>".
func (s *session) rejected(what string, rep wire.Reply) *Failure {
	return s.fail(KindRefused, "%s rejected at step %s: %s", what, s.clock.current(), quoted(rep))
}

// quoted marks a reply as server text in a message.
func quoted(r wire.Reply) server { return server(r.OneLine()) }

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

func fmtSeconds(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func itoa(n int) string { return strconv.Itoa(n) }
