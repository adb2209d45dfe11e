// Package probe holds the conversation with one SMTP or LMTP server: a
// target and settings in, a Result out, every step timed by name. It judges
// nothing into monitoring states (the caller evaluates the Result) and
// renders nothing: server text stays raw in the Result.
//
// Run holds no package state and may run many times at once.
package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"time"

	"github.com/check-smtp/check-smtp/lib/internal/dane"
	"github.com/check-smtp/check-smtp/lib/internal/tlsverify"
	"github.com/check-smtp/check-smtp/lib/internal/wire"
)

// Target is where to connect.
type Target struct {
	Host       string // name or IP literal (no brackets), or a socket path
	UnixSocket bool
	Port       int
	Network    string // tcp, tcp4, tcp6 or unix
}

// Address is host:port, or the socket path.
func (t Target) Address() string {
	if t.UnixSocket {
		return t.Host
	}
	return net.JoinHostPort(t.Host, itoa(t.Port))
}

// TLSMode says whether and how TLS is started.
type TLSMode int

const (
	NoTLS TLSMode = iota
	ImplicitTLS
	STARTTLS
	// OpportunisticTLS upgrades with STARTTLS when the server offers it and
	// goes on in plaintext when it does not, as an MTA delivering mail does.
	OpportunisticTLS
)

// TLSPolicy is how the handshake is made and the peer judged.
type TLSPolicy struct {
	Mode       TLSMode
	ServerName string
	Insecure   bool // do not verify chain and name
	// Lenient records a verification failure in TLSState.VerifyError and
	// goes on: in domain mode a sender without a policy delivers anyway, so
	// the evaluation decides what the failure means.
	Lenient bool
	// DANE, when set, authenticates the server by its TLSA records (RFC
	// 7672) instead of PKIX: a match is enough, a mismatch ends the
	// conversation, only unusable records leave PKIX to decide.
	DANE  *DANEPolicy
	Roots *tlsverify.Roots
}

// DANEPolicy is the DNSSEC-secure TLSA RRset of the server.
type DANEPolicy struct {
	Records []dane.Record
	Host    string // the TLSA base domain: the server's name
	Port    int
}

// Auth is the AUTH step; Mech "" means none.
type Auth struct {
	Mech, User, Password string
	AllowPlaintext       bool
}

// Settings is the conversation to have.
type Settings struct {
	FQDN        string // EHLO/HELO/LHLO argument
	LMTP        bool
	Proxy       bool // send a PROXY v1 header first
	TLS         TLSPolicy
	Auth        Auth
	From        string
	Rcpts       []string // must be accepted
	RejectRcpts []string // must be refused
	Commands    []string // -C, in order
	// QuitAfter ends the conversation with QUIT right after this step
	// (banner, ehlo, starttls, tls, auth, mail or rcpt); "" runs it all.
	// With implicit TLS, tls still reads the banner first (a client must
	// not speak before the greeting); with STARTTLS, tls and starttls are
	// the same point, after the handshake. ehlo is the last greeting, over
	// TLS with STARTTLS.
	QuitAfter Step
	Verbose   bool // keep a transcript
	// Timeout is the -t value, for wording a timeout only: the deadline is
	// the context's.
	Timeout time.Duration
}

// Dialer connects; *net.Dialer is one.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Deps are what the probe uses from the outside world.
type Deps struct {
	Dialer Dialer
	Now    func() time.Time
}

// TLSState is what the handshake showed.
type TLSState struct {
	Version  string
	Cipher   string
	Chain    []*x509.Certificate // as presented, leaf first
	Verified bool                // chain and name verified (false with Insecure)
	// VerifiedChain is the chain verification built, leaf first and the
	// anchor last; nil unless Verified.
	VerifiedChain []*x509.Certificate
	// VerifyError is why the chain or name did not verify (Lenient only).
	VerifyError error
	// DANE is the verdict of TLSPolicy.DANE's records on the chain.
	DANE *dane.Verdict
}

// Leaf is the server's certificate, or nil.
func (t *TLSState) Leaf() *x509.Certificate {
	if t == nil || len(t.Chain) == 0 {
		return nil
	}
	return t.Chain[0]
}

// RcptReply is one RCPT TO and its reply.
type RcptReply struct {
	Addr       string
	MustRefuse bool
	Reply      wire.Reply
}

// CommandReply is one -C command and its reply.
type CommandReply struct {
	Command string
	Reply   wire.Reply
}

// Result is everything one conversation showed.
type Result struct {
	Target   Target
	Peer     net.IP // the address connected to (nil for a unix socket or before connecting)
	Started  time.Time
	Total    time.Duration
	Steps    []Timing // steps that ran, in the order they first ran
	Failure  *Failure // what ended the conversation early, if anything
	Banner   *wire.Reply
	Greeting *wire.Reply // the EHLO/HELO/LHLO reply the conversation went on with (after STARTTLS, the second)
	// STARTTLSOffered says whether the first EHLO reply offered STARTTLS.
	STARTTLSOffered bool
	TLS             *TLSState
	Rcpts           []RcptReply
	Commands        []CommandReply
	Quit            *wire.Reply
	// QuitError: QUIT could not be sent or its reply not read, or (Kind
	// KindProtocol) more data followed the reply to QUIT.
	QuitError *Failure
	// Transcript holds the raw lines of the conversation with -v. AUTH
	// payloads are already replaced; Secrets lists every form of the
	// credentials sent, for the renderer to redact anywhere.
	Transcript []string
	Secrets    []string
}

// Spent is the time of one step, and whether it ran.
func (r *Result) Spent(st Step) (time.Duration, bool) {
	for _, t := range r.Steps {
		if t.Step == st {
			return t.Duration, true
		}
	}
	return 0, false
}

// Run has the conversation under ctx's deadline and never returns later
// than the deadline plus scheduling noise.
func Run(ctx context.Context, tg Target, set Settings, deps Deps) *Result {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Dialer == nil {
		deps.Dialer = &net.Dialer{Resolver: &net.Resolver{PreferGo: true}}
	}
	if set.TLS.Mode != NoTLS && !set.TLS.Insecure {
		set.TLS.Roots.Preload() // the trust store is read while the connection is set up
	}
	start := deps.Now()
	s := &session{tg: tg, set: set, deps: deps, clock: newClock(deps.Now)}
	res := &Result{Target: tg, Started: start}
	err := s.converse(ctx, res)
	s.clock.stop()
	res.Total = deps.Now().Sub(start)
	if err != nil {
		f, ok := err.(*Failure)
		if !ok {
			f = s.ioError(err, "")
		}
		res.Failure = f
		if s.conn != nil && f.Kind != KindTimeout {
			dl, _ := ctx.Deadline()
			s.quitQuietly(dl)
		}
	}
	if s.conn != nil {
		s.conn.Close()
	}
	res.Steps = s.clock.steps
	res.Transcript, res.Secrets = s.transcript, s.secrets
	return res
}

func newTLSState(st tls.ConnectionState) *TLSState {
	return &TLSState{Version: tls.VersionName(st.Version), Cipher: tls.CipherSuiteName(st.CipherSuite),
		Chain: st.PeerCertificates}
}
