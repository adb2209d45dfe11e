package probe

import (
	"bytes"
	"context"
	"encoding/base64"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/check-smtp/check-smtp/lib/internal/dane"
	"github.com/check-smtp/check-smtp/lib/internal/tlsverify"
	"github.com/check-smtp/check-smtp/lib/internal/wire"
)

// converse walks the steps of the conversation in order. Each step either
// succeeds, records what it saw and goes on, or returns the Failure that
// ends the conversation.
func (s *session) converse(ctx context.Context, res *Result) error {
	set := s.set

	s.clock.enter(StepConnect)
	conn, proxyLine, err := s.dial(ctx)
	if err != nil {
		return err
	}
	s.attach(conn)
	if ta, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		res.Peer = ta.IP
	}
	if proxyLine != "" {
		s.note("C: %s", proxyLine)
	}
	if err := s.refuseCleartextAuth(); err != nil {
		return err
	}

	if set.TLS.Mode == ImplicitTLS {
		s.clock.enter(StepTLS)
		if err := s.startTLS(ctx, res); err != nil {
			return err
		}
	}

	s.clock.enter(StepBanner)
	banner, err := s.read("waiting for the banner")
	if err != nil {
		return s.noBannerHint(err)
	}
	res.Banner = &banner
	if banner.Class() != 2 {
		return s.fail(KindRefused, "server refused the connection at step banner: %s", quoted(banner))
	}
	// With implicit TLS, "tls" too ends here: a client must not speak
	// before the greeting.
	if set.QuitAfter == StepBanner || set.QuitAfter == StepTLS && set.TLS.Mode == ImplicitTLS {
		return s.quit(res)
	}

	s.clock.enter(StepEHLO)
	if set.Proxy {
		// A server that took the PROXY header for a command answers it
		// right after the banner: hello reads that answer as the EHLO
		// reply and words it, so it is not "out of step" here.
		s.inSync = false
	}
	greet, ext, err := s.hello(set.Proxy)
	if err != nil {
		return err
	}

	_, res.STARTTLSOffered = ext["STARTTLS"]
	if set.TLS.Mode == STARTTLS || set.TLS.Mode == OpportunisticTLS && res.STARTTLSOffered {
		// Judged before the step starts: a step that sent nothing is not timed.
		if !res.STARTTLSOffered {
			return s.fail(KindUnsupported, "STARTTLS not offered by the server (EHLO reply: %s)", quoted(greet))
		}
		s.clock.enter(StepSTARTTLS)
		rep, err := s.cmd("STARTTLS")
		if err != nil {
			return err
		}
		if rep.Code != 220 {
			return s.fail(KindRefused, "STARTTLS refused: %s", quoted(rep))
		}
		if s.r.Buffered() > 0 {
			// Cleartext sent before the handshake would be dropped with the
			// old reader; a server (or a man in the middle) that does this
			// is not speaking STARTTLS as RFC 3207 describes.
			return s.fail(KindProtocol, "server sent data after its STARTTLS reply, before the TLS handshake (possible STARTTLS injection)")
		}
		s.clock.enter(StepTLS)
		if err := s.startTLS(ctx, res); err != nil {
			return err
		}
		if set.QuitAfter == StepSTARTTLS || set.QuitAfter == StepTLS {
			return s.quit(res)
		}
		// RFC 3207: forget what was learnt before TLS and greet again.
		s.clock.enter(StepEHLO)
		if greet, ext, err = s.hello(false); err != nil {
			return err
		}
	}
	res.Greeting = &greet
	if set.QuitAfter == StepEHLO {
		return s.quit(res)
	}

	if set.Auth.Mech != "" {
		if err := s.authOffered(ext); err != nil {
			return err
		}
		s.clock.enter(StepAuth)
		if err := s.authenticate(); err != nil {
			return err
		}
		if set.QuitAfter == StepAuth {
			return s.quit(res)
		}
	}

	s.clock.enter(StepMail)
	rep, err := s.cmd("MAIL FROM:<" + set.From + ">")
	if err != nil {
		return err
	}
	if rep.Class() != 2 {
		f := s.rejected("MAIL FROM", rep)
		f.Message = f.Message.append(s.mailHint(rep))
		return f
	}
	if set.QuitAfter == StepMail {
		return s.quit(res)
	}

	if len(set.Rcpts)+len(set.RejectRcpts) > 0 {
		s.clock.enter(StepRcpt)
		if err := s.recipients(res); err != nil {
			return err
		}
		if set.QuitAfter == StepRcpt {
			return s.quit(res)
		}
	}

	if len(set.Commands) > 0 {
		s.clock.enter(StepCommand)
		for _, c := range set.Commands {
			rep, err := s.cmd(c)
			if err != nil {
				return err
			}
			res.Commands = append(res.Commands, CommandReply{Command: c, Reply: rep})
		}
	}

	s.clock.enter(StepRSET)
	if rep, err = s.cmd("RSET"); err != nil {
		return err
	}
	if rep.Class() != 2 {
		return s.rejected("RSET", rep)
	}

	return s.quit(res)
}

// quit ends a conversation that went well: QUIT, timed, its reply
// recorded for the evaluation. Only more than one reply to the command
// before it ends the conversation here.
func (s *session) quit(res *Result) error {
	s.clock.enter(StepQuit)
	if f := s.inStep(); f != nil {
		return f
	}
	rep, err := s.cmd("QUIT")
	if err != nil {
		res.QuitError = s.ioError(err, "reply to QUIT")
		return nil
	}
	res.Quit = &rep
	if f := s.inStep(); f != nil {
		res.QuitError = f
	}
	return nil
}

// mailHint is added to a refused MAIL FROM when the refusal reads like
// the port's policy rather than the sender: STARTTLS or AUTH wanted first.
func (s *session) mailHint(rep wire.Reply) string {
	t := strings.ToLower(rep.Text())
	switch {
	case strings.Contains(t, "starttls"):
		if s.set.TLS.Mode == NoTLS {
			return " (use -S)"
		}
	case s.set.Auth.Mech == "" && (rep.Code == 530 || strings.HasPrefix(t, "5.7.0") || strings.Contains(t, "authenticat")):
		return " (use -A/-U, or --quit-after ehlo)"
	}
	return ""
}

// refuseCleartextAuth stops before anything is sent when AUTH would go out
// unencrypted to an address that is not loopback (a host name is only known
// to be loopback once connected).
func (s *session) refuseCleartextAuth() error {
	a := s.set.Auth
	if a.Mech == "" || s.set.TLS.Mode != NoTLS || a.AllowPlaintext || s.tg.UnixSocket {
		return nil
	}
	if ta, ok := s.conn.RemoteAddr().(*net.TCPAddr); ok && ta.IP.IsLoopback() {
		return nil
	}
	return s.fail(KindLocal, "refusing to send AUTH in cleartext to %s (%s): use -s or -S, or --allow-plaintext-auth", s.tg.Host, s.conn.RemoteAddr())
}

// startTLS runs the handshake over the current connection, verifies the
// peer and records what it showed.
func (s *session) startTLS(ctx context.Context, res *Result) error {
	tc, err := s.handshake(ctx)
	if err != nil {
		return err
	}
	st := tc.ConnectionState()
	res.TLS = newTLSState(st)
	s.attach(tc)
	leaf := res.TLS.Leaf()
	switch {
	case !s.set.Verbose:
		// The names are rendered only for the transcript.
	case leaf != nil:
		s.note("* TLS: %s, %s, certificate subject %q, issuer %q, NotAfter %s", res.TLS.Version, res.TLS.Cipher,
			leaf.Subject.String(), leaf.Issuer.String(), leaf.NotAfter.UTC().Format(time.RFC3339))
	default:
		s.note("* TLS: %s, %s, certificate subject %q, issuer %q, NotAfter %s", res.TLS.Version, res.TLS.Cipher, "", "", "")
	}
	if len(st.PeerCertificates) == 0 {
		return s.fail(KindVerification, "server sent no certificate")
	}
	if d := s.set.TLS.DANE; d != nil {
		v := dane.Verify(d.Records, st.PeerCertificates, d.Host, s.deps.Now())
		res.TLS.DANE = &v
		switch v.Result {
		case dane.Match:
			// RFC 7672 3.1: the match authenticates the server, PKIX is
			// not judged (nor, for DANE-EE, the name and dates).
			return nil
		case dane.Mismatch:
			return &Failure{Step: s.clock.current(), Kind: KindVerification, Message: msgf("%s", v.Describe(d.Port, d.Host))}
		}
		// Only unusable records: senders fall back to PKIX-less TLS; the
		// check goes on as without DANE.
	}
	if s.set.TLS.Insecure {
		return nil
	}
	verified, err := tlsverify.VerifyChain(st.PeerCertificates, s.set.TLS.ServerName, s.set.TLS.Roots, s.deps.Now())
	if err != nil {
		if s.set.TLS.Lenient {
			res.TLS.VerifyError = err
			return nil
		}
		return &Failure{Step: s.clock.current(), Kind: KindVerification, Err: err, Message: msgf("%s", err.Error())}
	}
	res.TLS.Verified, res.TLS.VerifiedChain = true, verified
	return nil
}

// proxyHint is appended to a failed first greeting after a PROXY header.
const proxyHint = " (sent after a PROXY header: a server that does not expect one reads it as a command and answers it here: check that it accepts PROXY protocol v1, or drop -r)"

// hello greets with LHLO, or EHLO falling back to HELO on a 5xx. It returns
// the reply that was accepted and the EHLO extensions (keyword -> params).
// afterProxy marks the first greeting after a PROXY header: a server that
// took the header for a command answers it with a 5xx where the EHLO reply
// is expected, so there is no HELO fallback (it would read every later
// reply one step late and could end in OK).
func (s *session) hello(afterProxy bool) (wire.Reply, map[string]string, error) {
	hint := ""
	if afterProxy {
		hint = proxyHint
	}
	withHint := func(err error) error {
		if f, ok := err.(*Failure); ok && f.Kind != KindTimeout && hint != "" {
			f.Message = f.Message.append(hint)
		}
		return err
	}
	fqdn := s.set.FQDN
	if s.set.LMTP {
		rep, err := s.cmd("LHLO " + fqdn)
		if err != nil {
			return rep, nil, withHint(err)
		}
		if rep.Class() != 2 {
			return rep, nil, s.fail(KindRefused, "LHLO refused at step ehlo (is this an LMTP server?): %s%s", quoted(rep), hint)
		}
		return rep, extensions(rep), nil
	}
	ehlo, err := s.cmd("EHLO " + fqdn)
	if err != nil {
		return ehlo, nil, withHint(err)
	}
	if ehlo.Class() == 2 {
		return ehlo, extensions(ehlo), nil
	}
	if ehlo.Class() != 5 || afterProxy {
		return ehlo, nil, withHint(s.rejected("EHLO", ehlo))
	}
	helo, err := s.cmd("HELO " + fqdn)
	if err != nil {
		return helo, nil, err
	}
	if helo.Class() != 2 {
		return helo, nil, s.fail(KindRefused, "EHLO and HELO both refused at step ehlo (an LMTP server? use -L): EHLO: %s, then HELO: %s",
			quoted(ehlo), quoted(helo))
	}
	return helo, map[string]string{}, nil
}

// extensions reads the EHLO keywords from every line after the first.
func extensions(rep wire.Reply) map[string]string {
	ext := map[string]string{}
	for _, l := range rep.Lines[min(1, len(rep.Lines)):] {
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

// authOffered checks that the EHLO reply offers the AUTH mechanism.
func (s *session) authOffered(ext map[string]string) error {
	mech := s.set.Auth.Mech
	offered := strings.Fields(strings.ToUpper(ext["AUTH"]))
	if slices.Contains(offered, mech) {
		return nil
	}
	if len(offered) > 0 {
		return s.fail(KindUnsupported, "AUTH %s not offered: the server offers %s", mech, server(strings.Join(offered, " ")))
	}
	hint := ""
	if s.set.TLS.Mode == NoTLS {
		// Most submission servers offer AUTH only once TLS is up.
		hint = " (many servers offer AUTH only over TLS: try -S or -s)"
	}
	return s.fail(KindUnsupported, "AUTH %s not offered: the server offers no AUTH mechanism%s", mech, hint)
}

// authenticate runs AUTH. The payloads go out base64-encoded and are never
// written to the transcript; every form of them is remembered so the output
// can be scrubbed even if the server echoes one back.
func (s *session) authenticate() error {
	a := s.set.Auth
	mech := a.Mech
	s.addSecret(a.Password)
	client := newSASLClient(mech, a.User, a.Password)
	_, ir, err := client.Start()
	if err != nil {
		return s.fail(KindLocal, "AUTH %s: %v", mech, err)
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
	for err == nil && rep.Code == 334 {
		challenge, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(rep.Text()))
		if derr != nil {
			s.send("*", "*")
			return s.fail(KindProtocol, "AUTH %s: server challenge is not base64: %s", mech, quoted(rep))
		}
		resp, cerr := client.Next(challenge)
		if cerr != nil {
			s.send("*", "*")
			return s.fail(KindProtocol, "AUTH %s: %v", mech, cerr)
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
	if rep.Class() != 2 {
		return s.fail(KindRefused, "AUTH %s refused at step auth: %s", mech, quoted(rep))
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
// drop the padding).
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
// each that must be refused. A refusal of the first kind, or an acceptance
// of the second, ends the conversation; a 4xx to the second is recorded.
func (s *session) recipients(res *Result) error {
	for _, addr := range s.set.Rcpts {
		rep, err := s.cmd("RCPT TO:<" + addr + ">")
		if err != nil {
			return err
		}
		res.Rcpts = append(res.Rcpts, RcptReply{Addr: addr, Reply: rep})
		if rep.Class() != 2 {
			return s.rejected("RCPT TO:<"+addr+">", rep)
		}
	}
	for _, addr := range s.set.RejectRcpts {
		rep, err := s.cmd("RCPT TO:<" + addr + ">")
		if err != nil {
			return err
		}
		res.Rcpts = append(res.Rcpts, RcptReply{Addr: addr, MustRefuse: true, Reply: rep})
		if rep.Class() != 5 && rep.Class() != 4 {
			return s.fail(KindRefused, "RCPT TO:<%s> accepted, expected a rejection: %s", addr, quoted(rep))
		}
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
	s.conn.SetDeadline(earliest(deadline, s.deps.Now().Add(time.Second)))
	s.w.WriteString("QUIT\r\n")
	if s.w.Flush() == nil {
		wire.ReadReply(s.r, nil)
	}
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
