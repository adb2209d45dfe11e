package main

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net"
	"strings"
	"time"
)

const (
	benchUser = "user"
	benchPass = "pass"
)

// smtpServer is how the listeners answer.
type smtpServer struct {
	idle        time.Duration // a connection idle for this long is closed
	mailDelay   time.Duration // before the reply to MAIL FROM
	bannerDelay time.Duration // before the banner
}

// holdOpen is the tarpit: it never writes, reads and discards until the
// client goes away or the idle limit passes.
func (srv *smtpServer) holdOpen(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(srv.idle))
	io.Copy(io.Discard, c)
}

// session speaks SMTP on c. tlsConf non-nil means STARTTLS is offered.
func (srv *smtpServer) session(c net.Conn, tlsConf *tls.Config, offerStartTLS bool) {
	defer c.Close()
	if srv.bannerDelay > 0 {
		// A plain sleep: spinning, as preciseSleep does, in eight
		// sessions at once would take the CPU from the client measured.
		time.Sleep(srv.bannerDelay)
	}
	r := bufio.NewReaderSize(c, 4096)
	w := bufio.NewWriterSize(c, 4096)
	reply := func(s string) bool {
		c.SetDeadline(time.Now().Add(srv.idle))
		w.WriteString(s)
		return w.Flush() == nil
	}
	readLine := func() (string, bool) {
		c.SetDeadline(time.Now().Add(srv.idle))
		line, err := r.ReadString('\n')
		if err != nil {
			return "", false
		}
		return strings.TrimRight(line, "\r\n"), true
	}
	if !reply("220 localhost ESMTP benchserver\r\n") {
		return
	}
	inTLS := !offerStartTLS && tlsConf == nil // implicit TLS listener
	for {
		line, ok := readLine()
		if !ok {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "LHLO":
			var b strings.Builder
			b.WriteString("250-localhost greets you\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n")
			if offerStartTLS && !inTLS {
				b.WriteString("250-STARTTLS\r\n")
			}
			b.WriteString("250-AUTH PLAIN LOGIN\r\n250 SMTPUTF8\r\n")
			if !reply(b.String()) {
				return
			}
		case "HELO":
			if !reply("250 localhost\r\n") {
				return
			}
		case "STARTTLS":
			if !offerStartTLS || inTLS {
				if !reply("502 5.5.1 STARTTLS not available\r\n") {
					return
				}
				continue
			}
			if !reply("220 2.0.0 Ready to start TLS\r\n") {
				return
			}
			tc := tls.Server(c, tlsConf)
			tc.SetDeadline(time.Now().Add(srv.idle))
			if err := tc.Handshake(); err != nil {
				return
			}
			c, inTLS = tc, true
			r.Reset(c)
			w.Reset(c)
		case "AUTH":
			if !auth(arg, reply, readLine) {
				return
			}
		case "MAIL":
			if srv.mailDelay > 0 {
				preciseSleep(srv.mailDelay)
			}
			if !reply("250 2.1.0 Ok\r\n") {
				return
			}
		case "RCPT":
			if !reply("250 2.1.5 Ok\r\n") {
				return
			}
		case "DATA":
			if !reply("354 End data with <CR><LF>.<CR><LF>\r\n") {
				return
			}
			for {
				l, ok := readLine()
				if !ok {
					return
				}
				if l == "." {
					break
				}
			}
			if !reply("250 2.0.0 Ok: queued\r\n") {
				return
			}
		case "RSET":
			if !reply("250 2.0.0 Ok\r\n") {
				return
			}
		case "NOOP":
			if !reply("250 2.0.0 Ok\r\n") {
				return
			}
		case "VRFY":
			if !reply("252 2.0.0 Cannot VRFY user\r\n") {
				return
			}
		case "QUIT":
			reply("221 2.0.0 Bye\r\n")
			return
		default:
			if !reply("500 5.5.2 Error: command not recognized\r\n") {
				return
			}
		}
	}
}

// preciseSleep waits d to within microseconds: time.Sleep overshoots by up
// to a millisecond on a busy VM, which would blur the accuracy measurement,
// so the last 2 ms are spun on the monotonic clock.
func preciseSleep(d time.Duration) {
	deadline := time.Now().Add(d)
	if d > 2*time.Millisecond {
		time.Sleep(d - 2*time.Millisecond)
	}
	for time.Now().Before(deadline) {
	}
}

// auth handles AUTH PLAIN and AUTH LOGIN, with or without an initial response.
// It reports false when the connection should be dropped.
func auth(arg string, reply func(string) bool, readLine func() (string, bool)) bool {
	mech, initial, hasInitial := strings.Cut(arg, " ")
	next := func(prompt string) (string, bool) {
		if !reply("334 " + prompt + "\r\n") {
			return "", false
		}
		return readLine()
	}
	decode := func(s string) (string, bool) {
		if s == "*" {
			return "", false
		}
		b, err := base64.StdEncoding.DecodeString(s)
		return string(b), err == nil
	}
	var user, pass string
	switch strings.ToUpper(mech) {
	case "PLAIN":
		if !hasInitial {
			var ok bool
			if initial, ok = next(""); !ok {
				return false
			}
		}
		msg, ok := decode(initial)
		parts := strings.Split(msg, "\x00")
		if !ok || len(parts) != 3 {
			return reply("501 5.5.2 Cannot decode response\r\n")
		}
		user, pass = parts[1], parts[2]
	case "LOGIN":
		if !hasInitial {
			var ok bool
			if initial, ok = next("VXNlcm5hbWU6"); !ok {
				return false
			}
		}
		u, ok := decode(initial)
		if !ok {
			return reply("501 5.5.2 Cannot decode response\r\n")
		}
		p64, ok := next("UGFzc3dvcmQ6")
		if !ok {
			return false
		}
		p, ok := decode(p64)
		if !ok {
			return reply("501 5.5.2 Cannot decode response\r\n")
		}
		user, pass = u, p
	default:
		return reply("504 5.5.4 Unrecognized authentication type\r\n")
	}
	if user == benchUser && pass == benchPass {
		return reply("235 2.7.0 Authentication successful\r\n")
	}
	return reply("535 5.7.8 Authentication credentials invalid\r\n")
}
