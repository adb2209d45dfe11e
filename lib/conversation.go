package checksmtp

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/mackerelio/checkers"
)

// result is everything the probe learned, ready for evaluation.
type result struct {
	spent      map[step]time.Duration
	order      []step // steps that ran, in conversation order
	total      time.Duration
	fatal      *checkError // what ended the conversation early, if anything
	findings   []finding   // judgements that did not end it
	greeting   string      // banner text, for the OK message
	tls        *tlsInfo
	checkedAt  time.Time
	transcript []string
	secrets    []string
}

// probe runs the whole conversation under one deadline and never returns
// later than the deadline plus scheduling noise.
func probe(cfg *config, deadline time.Time) *result {
	start := time.Now()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	s := &session{cfg: cfg, clock: newStepClock()}
	res := &result{checkedAt: start}
	err := s.converse(ctx, res)
	s.clock.stop()
	res.total = time.Since(start)
	if err != nil {
		ce, ok := err.(*checkError)
		if !ok {
			ce = s.ioError(err, "").(*checkError)
		}
		res.fatal = ce
		if s.conn != nil && !ce.timeout {
			dl, _ := ctx.Deadline()
			s.quitQuietly(dl)
		}
	}
	if s.conn != nil {
		s.conn.Close()
	}
	res.spent, res.order = s.clock.spent, s.clock.order
	res.transcript, res.secrets = s.transcript, s.secrets
	return res
}

// converse walks the steps of the conversation in order. Each step either
// succeeds, adds a finding and goes on, or returns the error that ends it.
func (s *session) converse(ctx context.Context, res *result) error {
	cfg := s.cfg

	s.clock.enter(stepConnect)
	conn, proxyLine, err := dial(ctx, cfg)
	if err != nil {
		if isTimeout(err) {
			return s.ioError(err, "connecting")
		}
		return s.failf("%v", err)
	}
	s.attach(conn)
	if proxyLine != "" {
		s.note("C: %s", proxyLine)
	}
	if err := s.refuseCleartextAuth(); err != nil {
		return err
	}

	if cfg.implicitTLS {
		s.clock.enter(stepTLS)
		if err := s.startTLS(ctx, res); err != nil {
			return err
		}
	}

	s.clock.enter(stepBanner)
	banner, err := s.read("waiting for the banner")
	if err != nil {
		return err
	}
	if banner.class() != 2 {
		return s.failf("server refused the connection at step banner: %s", s.quote(banner))
	}
	res.greeting = banner.text()

	s.clock.enter(stepEHLO)
	greet, ext, err := s.hello(cfg.proxy)
	if err != nil {
		return err
	}

	if cfg.startTLS {
		// Judged before the step starts: a step that sent nothing is not timed.
		if _, ok := ext["STARTTLS"]; !ok {
			return s.failf("STARTTLS not offered by the server (EHLO reply: %s)", s.quote(greet))
		}
		s.clock.enter(stepSTARTTLS)
		rep, err := s.cmd("STARTTLS")
		if err != nil {
			return err
		}
		if rep.code != 220 {
			return s.failf("STARTTLS refused: %s", s.quote(rep))
		}
		if s.r.Buffered() > 0 {
			// Cleartext sent before the handshake would be dropped with the
			// old reader; a server (or a man in the middle) that does this
			// is not speaking STARTTLS as RFC 3207 describes.
			return s.failf("server sent data after its STARTTLS reply, before the TLS handshake (possible STARTTLS injection)")
		}
		s.clock.enter(stepTLS)
		if err := s.startTLS(ctx, res); err != nil {
			return err
		}
		// RFC 3207: forget what was learnt before TLS and greet again.
		s.clock.enter(stepEHLO)
		if greet, ext, err = s.hello(false); err != nil {
			return err
		}
	}

	if cfg.expect != "" && !strings.Contains(banner.String(), cfg.expect) && !strings.Contains(greet.String(), cfg.expect) {
		res.findings = append(res.findings, finding{checkers.WARNING,
			fmt.Sprintf("neither the banner nor the EHLO reply contains %q: %s", cfg.expect, s.quote(banner))})
	}

	if cfg.authMech != "" {
		if err := s.authOffered(ext); err != nil {
			return err
		}
		s.clock.enter(stepAuth)
		if err := s.authenticate(); err != nil {
			return err
		}
	}

	s.clock.enter(stepMail)
	rep, err := s.cmd("MAIL FROM:<" + cfg.from + ">")
	if err != nil {
		return err
	}
	if rep.class() != 2 {
		return s.rejected("MAIL FROM", rep)
	}

	if len(cfg.rcpts)+len(cfg.rejectRcpts) > 0 {
		s.clock.enter(stepRcpt)
		if err := s.recipients(res); err != nil {
			return err
		}
	}

	if len(cfg.commands) > 0 {
		s.clock.enter(stepCommand)
		if err := s.extraCommands(res); err != nil {
			return err
		}
	}

	s.clock.enter(stepRSET)
	if rep, err = s.cmd("RSET"); err != nil {
		return err
	}
	if rep.class() != 2 {
		return s.rejected("RSET", rep)
	}

	s.clock.enter(stepQuit)
	return s.quit(res)
}

// refuseCleartextAuth stops before anything is sent when AUTH would go out
// unencrypted to an address that is not loopback (a host name is only known
// to be loopback once connected).
func (s *session) refuseCleartextAuth() error {
	cfg := s.cfg
	if cfg.authMech == "" || cfg.implicitTLS || cfg.startTLS || cfg.allowPlaintextAuth || cfg.unixSocket {
		return nil
	}
	if ta, ok := s.conn.RemoteAddr().(*net.TCPAddr); ok && ta.IP.IsLoopback() {
		return nil
	}
	return &checkError{status: checkers.UNKNOWN,
		msg: fmt.Sprintf("refusing to send AUTH in cleartext to %s (%s): use -s or -S, or --allow-plaintext-auth", s.cfg.host, s.conn.RemoteAddr())}
}

// startTLS runs the handshake over the current connection, verifies the
// peer and records what it showed.
func (s *session) startTLS(ctx context.Context, res *result) error {
	tc, err := handshake(ctx, s.conn, s.cfg)
	if err != nil {
		if isTimeout(err) {
			return s.ioError(err, "TLS handshake")
		}
		return s.failf("%v", err)
	}
	st := tc.ConnectionState()
	res.tls = newTLSInfo(st)
	s.attach(tc)
	s.note("* TLS: %s, %s, certificate subject %q, issuer %q, NotAfter %s", res.tls.version, res.tls.cipher,
		res.tls.subject(), res.tls.issuer(), res.tls.notAfter())
	if err := verifyPeer(st, s.cfg, time.Now()); err != nil {
		return s.failf("%v", err)
	}
	return nil
}

// proxyHint is appended to a failed first greeting after a PROXY header.
const proxyHint = " (sent after a PROXY header: a server that does not expect one reads it as a command and answers it here; check that it accepts PROXY protocol v1, or drop -r)"

// hello greets with LHLO, or EHLO falling back to HELO on a 5xx. It returns
// the reply that was accepted and the EHLO extensions (keyword -> params).
// afterProxy marks the first greeting after a PROXY header: a server that
// took the header for a command answers it with a 5xx where the EHLO reply
// is expected, so there is no HELO fallback (it would read every later
// reply one step late and could end in OK).
func (s *session) hello(afterProxy bool) (reply, map[string]string, error) {
	hint := ""
	if afterProxy {
		hint = proxyHint
	}
	withHint := func(err error) error {
		if ce, ok := err.(*checkError); ok && !ce.timeout && hint != "" {
			ce.msg += hint
		}
		return err
	}
	fqdn := s.cfg.fqdn
	if s.cfg.lmtp {
		rep, err := s.cmd("LHLO " + fqdn)
		if err != nil {
			return rep, nil, withHint(err)
		}
		if rep.class() != 2 {
			return rep, nil, s.failf("LHLO refused at step ehlo (is this an LMTP server?): %s%s", s.quote(rep), hint)
		}
		return rep, extensions(rep), nil
	}
	ehlo, err := s.cmd("EHLO " + fqdn)
	if err != nil {
		return ehlo, nil, withHint(err)
	}
	if ehlo.class() == 2 {
		return ehlo, extensions(ehlo), nil
	}
	if ehlo.class() != 5 || afterProxy {
		return ehlo, nil, withHint(s.rejected("EHLO", ehlo))
	}
	helo, err := s.cmd("HELO " + fqdn)
	if err != nil {
		return helo, nil, err
	}
	if helo.class() != 2 {
		return helo, nil, s.failf("EHLO and HELO both refused at step ehlo (an LMTP server? use -L): EHLO: %s; HELO: %s",
			s.quote(ehlo), s.quote(helo))
	}
	return helo, map[string]string{}, nil
}

// extensions reads the EHLO keywords from every line after the first.
func extensions(rep reply) map[string]string {
	ext := map[string]string{}
	for _, l := range rep.lines[min(1, len(rep.lines)):] {
		k, v, _ := strings.Cut(l, " ")
		k = strings.ToUpper(k)
		if rest, ok := strings.CutPrefix(k, "AUTH="); ok { // pre-RFC 4954 servers
			k, v = "AUTH", strings.TrimSpace(rest+" "+v)
		}
		if old, ok := ext[k]; ok && v != "" {
			v = old + " " + v
		}
		ext[k] = v
	}
	return ext
}

// authOffered checks that the EHLO reply offers the -A mechanism.
func (s *session) authOffered(ext map[string]string) error {
	mech := s.cfg.authMech
	offered := strings.Fields(strings.ToUpper(ext["AUTH"]))
	if slices.Contains(offered, mech) {
		return nil
	}
	if len(offered) > 0 {
		return s.failf("AUTH %s not offered: the server offers %s", mech, strings.Join(offered, " "))
	}
	hint := ""
	if !s.cfg.implicitTLS && !s.cfg.startTLS {
		// Most submission servers offer AUTH only once TLS is up.
		hint = " (many servers offer AUTH only over TLS: try -S or -s)"
	}
	return s.failf("AUTH %s not offered: the server offers no AUTH mechanism%s", mech, hint)
}

// authenticate runs AUTH for -A. The payloads go out base64-encoded and are
// never written to the transcript; every form of them is remembered so the
// output can be scrubbed even if the server echoes one back.
func (s *session) authenticate() error {
	mech := s.cfg.authMech
	s.addSecret(s.cfg.authPassword)
	client := newSASLClient(mech, s.cfg.authUser, s.cfg.authPassword)
	_, ir, err := client.Start()
	if err != nil {
		return s.failf("AUTH %s: %v", mech, err)
	}
	line := "AUTH " + mech
	if ir != nil {
		enc := "="
		if len(ir) > 0 {
			enc = s.encodeSecret(ir)
		}
		line += " " + enc
	}
	rep, err := s.cmdShown(line, "AUTH "+mech+redactedIf(ir != nil))
	for err == nil && rep.code == 334 {
		challenge, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(rep.text()))
		if derr != nil {
			s.send("*", "*")
			return s.failf("AUTH %s: server challenge is not base64: %s", mech, s.quote(rep))
		}
		resp, cerr := client.Next(challenge)
		if cerr != nil {
			s.send("*", "*")
			return s.failf("AUTH %s: %v", mech, cerr)
		}
		if mech == "CRAM-MD5" {
			// "user digest": the digest answers this challenge only, but a
			// server echoing it back still must not get it printed.
			if i := bytes.LastIndexByte(resp, ' '); i >= 0 {
				s.addSecret(string(resp[i+1:]))
			}
		}
		rep, err = s.cmdShown(s.encodeSecret(resp), "<redacted>")
	}
	if err != nil {
		return err
	}
	if rep.class() != 2 {
		return s.failf("AUTH %s refused at step auth: %s", mech, s.quote(rep))
	}
	return nil
}

func (s *session) encodeSecret(b []byte) string {
	enc := base64.StdEncoding.EncodeToString(b)
	s.addSecret(enc)
	s.addSecret(strings.TrimRight(enc, "="))
	return enc
}

// addSecret remembers v and its base64 forms, padded and not (an echo may
// drop the padding), for redact.
func (s *session) addSecret(v string) {
	if v == "" {
		return
	}
	enc := base64.StdEncoding.EncodeToString([]byte(v))
	s.secrets = append(s.secrets, v, enc, strings.TrimRight(enc, "="))
}

func redactedIf(b bool) string {
	if b {
		return " <redacted>"
	}
	return ""
}

// recipients sends RCPT TO for each address that must be accepted, then for
// each that must be refused.
func (s *session) recipients(res *result) error {
	for _, addr := range s.cfg.rcpts {
		rep, err := s.cmd("RCPT TO:<" + addr + ">")
		if err != nil {
			return err
		}
		if rep.class() != 2 {
			return s.rejected("RCPT TO:<"+addr+">", rep)
		}
	}
	for _, addr := range s.cfg.rejectRcpts {
		rep, err := s.cmd("RCPT TO:<" + addr + ">")
		if err != nil {
			return err
		}
		switch rep.class() {
		case 5:
		case 4:
			// Greylisting or a transient fault: not the refusal asked for, not proof of a relay.
			res.findings = append(res.findings, finding{checkers.WARNING,
				fmt.Sprintf("RCPT TO:<%s> got a temporary failure, expected a permanent rejection: %s", addr, s.quote(rep))})
		default:
			return s.failf("RCPT TO:<%s> accepted, expected a rejection: %s", addr, s.quote(rep))
		}
	}
	return nil
}

// extraCommands sends each -C and checks its reply against its -R. Every
// pair is judged; a later match never clears an earlier mismatch.
func (s *session) extraCommands(res *result) error {
	for _, cc := range s.cfg.commands {
		rep, err := s.cmd(cc.command)
		if err != nil {
			return err
		}
		switch {
		case cc.response != nil && !cc.response.MatchString(rep.String()):
			res.findings = append(res.findings, finding{checkers.WARNING,
				fmt.Sprintf("reply to -C %q does not match -R %q: %s", cc.command, cc.response.String(), s.quote(rep))})
		case cc.response == nil && rep.class() == 5:
			res.findings = append(res.findings, finding{checkers.WARNING,
				fmt.Sprintf("-C %q refused: %s", cc.command, s.quote(rep))})
		}
	}
	return nil
}

// quit ends the session. A failed QUIT is a WARNING, or nothing with -q.
func (s *session) quit(res *result) error {
	rep, err := s.cmd("QUIT")
	if s.cfg.ignoreQuit {
		return nil
	}
	if err != nil {
		ce := err.(*checkError)
		if ce.timeout {
			return ce
		}
		res.findings = append(res.findings, finding{checkers.WARNING, "QUIT failed: " + ce.msg})
		return nil
	}
	if rep.class() != 2 {
		res.findings = append(res.findings, finding{checkers.WARNING, "QUIT refused: " + s.quote(rep)})
	}
	return nil
}

// quitQuietly says goodbye after a refusal, untimed and unjudged, so the
// server does not log a lost connection. Only when the last reply was read
// whole (the server is in step with us), and for at most a second.
func (s *session) quitQuietly(deadline time.Time) {
	if !s.inSync {
		return
	}
	s.conn.SetDeadline(earliest(deadline, time.Now().Add(time.Second)))
	s.w.WriteString("QUIT\r\n")
	if s.w.Flush() == nil {
		readReply(s.r, nil)
	}
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
