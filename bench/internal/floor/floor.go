// Package floor is the smallest client that holds check-smtp's
// conversation: connect, banner, EHLO, [STARTTLS, EHLO], [AUTH PLAIN],
// MAIL, RSET, QUIT, verifying the server's certificate against a pool
// holding only its root (the physical limit of verification), or not at
// all. Whatever a whole check-smtp process costs beyond
// this client's is check-smtp's own cost; the bench's floor binary and the
// runner's reference timer of the MAIL step are this one client.
package floor

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"time"
)

// Mode is the conversation to hold.
type Mode int

const (
	Plain    Mode = iota // no TLS
	STARTTLS             // STARTTLS after the first EHLO
	Auth                 // STARTTLS, then AUTH PLAIN user/pass
	SMTPS                // implicit TLS from the first byte
)

// ParseMode reads a mode as the floor binary takes it: plain, starttls,
// auth or smtps.
func ParseMode(s string) (Mode, bool) {
	switch s {
	case "plain":
		return Plain, true
	case "starttls":
		return STARTTLS, true
	case "auth":
		return Auth, true
	case "smtps":
		return SMTPS, true
	}
	return 0, false
}

// Config is one conversation.
type Config struct {
	Addr       string         // host:port
	Mode       Mode           //
	Roots      *x509.CertPool // the only roots the chain is verified against; nil: not verified (as -k)
	ServerName string         // the name the certificate must hold
	Timeout    time.Duration  // for the whole conversation
}

// Result is what the conversation measured.
type Result struct {
	Mail time.Duration // the MAIL FROM round trip
}

// ErrReply is a reply that was not 2xx (or a line too short to be a reply).
var ErrReply = errors.New("floor: unexpected reply")

// Run holds the conversation and reports the first failure.
func Run(cfg Config) (Result, error) {
	var res Result
	c, err := net.DialTimeout("tcp", cfg.Addr, cfg.Timeout)
	if err != nil {
		return res, err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(cfg.Timeout)); err != nil {
		return res, err
	}
	s := &session{conn: c}
	tlsConf := &tls.Config{RootCAs: cfg.Roots, ServerName: cfg.ServerName, InsecureSkipVerify: cfg.Roots == nil}
	if cfg.Mode == SMTPS {
		if err := s.startTLS(c, tlsConf); err != nil {
			return res, err
		}
	}
	s.r = bufio.NewReader(s.conn)
	if err := s.expect(); err != nil { // banner
		return res, err
	}
	if err := s.cmd("EHLO floor\r\n"); err != nil {
		return res, err
	}
	if cfg.Mode == STARTTLS || cfg.Mode == Auth {
		if err := s.cmd("STARTTLS\r\n"); err != nil {
			return res, err
		}
		if err := s.startTLS(c, tlsConf); err != nil {
			return res, err
		}
		s.r = bufio.NewReader(s.conn)
		if err := s.cmd("EHLO floor\r\n"); err != nil {
			return res, err
		}
	}
	if cfg.Mode == Auth {
		if err := s.cmd("AUTH PLAIN AHVzZXIAcGFzcw==\r\n"); err != nil { // \0user\0pass
			return res, err
		}
	}
	start := time.Now()
	if err := s.cmd("MAIL FROM:<>\r\n"); err != nil {
		return res, err
	}
	res.Mail = time.Since(start)
	if err := s.cmd("RSET\r\n"); err != nil {
		return res, err
	}
	return res, s.cmd("QUIT\r\n")
}

type session struct {
	conn net.Conn
	r    *bufio.Reader
}

// startTLS runs the handshake over raw, verifying the chain in it.
func (s *session) startTLS(raw net.Conn, conf *tls.Config) error {
	tc := tls.Client(raw, conf)
	if err := tc.Handshake(); err != nil {
		return err
	}
	s.conn = tc
	return nil
}

func (s *session) cmd(line string) error {
	if _, err := s.conn.Write([]byte(line)); err != nil {
		return err
	}
	return s.expect()
}

// expect reads one reply, all its lines, and wants it 2xx.
func (s *session) expect() error {
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return err
		}
		if len(line) < 4 || line[0] != '2' {
			return ErrReply
		}
		if line[3] != '-' {
			return nil
		}
	}
}
