package probe

import (
	"errors"
	"fmt"
	"strings"
)

// ErrOutOfStep is the Err of a KindProtocol Failure for more data than one
// reply to one command: the server's replies are out of step with the
// commands.
var ErrOutOfStep = errors.New("replies out of step")

// Kind says what sort of thing ended a conversation.
type Kind string

const (
	KindResolve      Kind = "resolve"      // the name does not resolve
	KindConnect      Kind = "connect"      // refused, unreachable, no socket
	KindTimeout      Kind = "timeout"      // the deadline passed
	KindClosed       Kind = "closed"       // the server closed the connection
	KindRefused      Kind = "refused"      // the server answered with an unwanted code
	KindProtocol     Kind = "protocol"     // a reply broke the grammar or a limit, or came out of step
	KindTLS          Kind = "tls"          // the TLS handshake failed
	KindVerification Kind = "verification" // the certificate did not verify
	KindUnsupported  Kind = "unsupported"  // STARTTLS or an AUTH mechanism not offered
	KindLocal        Kind = "local"        // the check refused to go on (cleartext AUTH)
)

// Message is operator text with the server's words kept apart, so that the
// renderer can redact, sanitize and cut exactly those.
type Message []Piece

// Piece is literal text or, with Server set, text the server sent (raw).
type Piece struct {
	Text   string
	Server bool
}

// server marks raw server text for msgf.
type server string

// msgf formats like fmt.Sprintf; arguments of type server become server
// pieces of the message instead of being formatted into it.
func msgf(format string, a ...any) Message {
	var quoted []string
	args := make([]any, len(a))
	for i, v := range a {
		if s, ok := v.(server); ok {
			args[i] = fmt.Sprintf("\x00%d\x00", len(quoted))
			quoted = append(quoted, string(s))
			continue
		}
		args[i] = v
	}
	s := fmt.Sprintf(format, args...)
	if len(quoted) == 0 {
		return Message{{Text: s}}
	}
	var m Message
	for i, part := range strings.Split(s, "\x00") {
		if i%2 == 0 {
			if part != "" {
				m = append(m, Piece{Text: part})
			}
			continue
		}
		var n int
		fmt.Sscan(part, &n)
		m = append(m, Piece{Text: quoted[n], Server: true})
	}
	return m
}

// Render joins the pieces, passing server text through quote.
func (m Message) Render(quote func(string) string) string {
	var b strings.Builder
	for _, p := range m {
		if p.Server {
			b.WriteString(quote(p.Text))
		} else {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// String renders with server text as sent, for logs and errors.
func (m Message) String() string { return m.Render(func(s string) string { return s }) }

// append adds literal text at the end.
func (m Message) append(s string) Message { return append(m[:len(m):len(m)], Piece{Text: s}) }

// Failure is what ended the conversation early: at which step, what sort of
// thing, and how it reads.
type Failure struct {
	Step    Step
	Kind    Kind
	Message Message
	Err     error // the underlying error, if any (for errors.Is / As)
}

func (f *Failure) Error() string { return f.Message.String() }
func (f *Failure) Unwrap() error { return f.Err }
