package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"strings"
	"syscall"

	"github.com/check-smtp/check-smtp/lib/internal/tlsverify"
)

// dial resolves and connects (TCP or unix socket), then sends the PROXY
// header if asked and returns its line for the transcript. The connection's
// deadline is the probe's deadline, so every later read and write is bounded
// too.
func (s *session) dial(ctx context.Context) (conn net.Conn, proxyLine string, err error) {
	addr := s.tg.Address()
	conn, err = s.deps.Dialer.DialContext(ctx, s.tg.Network, addr)
	if err != nil {
		return nil, "", s.describeDialError(addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	s.received = &countingConn{Conn: conn}
	conn = s.received
	if s.set.Proxy {
		h, err := proxyV1(conn.LocalAddr(), conn.RemoteAddr())
		if err == nil {
			_, err = conn.Write(h)
		}
		if err != nil {
			conn.Close()
			return nil, "", s.fail(KindConnect, "sending PROXY header: %v", err)
		}
		proxyLine = strings.TrimRight(string(h), "\r\n")
	}
	return conn, proxyLine, nil
}

// proxyV1 is the PROXY protocol v1 header for a connection from src to dst
// (what go-proxyproto's HeaderProxyFromAddrs(1, src, dst).Format() writes,
// without linking that package and its tables): TCP4 or TCP6 with both
// addresses and ports, UNKNOWN for anything but TCP (a unix socket).
func proxyV1(src, dst net.Addr) ([]byte, error) {
	s, ok1 := src.(*net.TCPAddr)
	d, ok2 := dst.(*net.TCPAddr)
	if !ok1 || !ok2 {
		return []byte("PROXY UNKNOWN\r\n"), nil
	}
	proto, sip, dip := "TCP4", s.IP.To4(), d.IP.To4()
	switch {
	case sip != nil:
	case len(s.IP) == net.IPv6len:
		proto, sip, dip = "TCP6", s.IP, d.IP.To16()
	default:
		return []byte("PROXY UNKNOWN\r\n"), nil
	}
	if dip == nil {
		return nil, errors.New("invalid address") // go-proxyproto's ErrInvalidAddress
	}
	return []byte("PROXY " + proto + " " + sip.String() + " " + dip.String() + " " +
		strconv.Itoa(s.Port) + " " + strconv.Itoa(d.Port) + "\r\n"), nil
}

// describeDialError words a connect failure for an operator.
func (s *session) describeDialError(addr string, err error) error {
	var dnsErr *net.DNSError
	switch {
	case isTimeout(err):
		return s.ioError(err, "connecting")
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return &Failure{Step: StepConnect, Kind: KindResolve, Err: err, Message: msgf("cannot resolve %s: no such host", s.tg.Host)}
		}
		return &Failure{Step: StepConnect, Kind: KindResolve, Err: err, Message: msgf("cannot resolve %s: %s", s.tg.Host, dnsErr.Err)}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &Failure{Step: StepConnect, Kind: KindConnect, Err: err, Message: msgf("connection refused by %s", addr)}
	case errors.Is(err, syscall.ENOENT):
		return &Failure{Step: StepConnect, Kind: KindConnect, Err: err, Message: msgf("no socket at %s", addr)}
	}
	return &Failure{Step: StepConnect, Kind: KindConnect, Err: err, Message: msgf("cannot connect to %s: %s", addr, trimNetError(err))}
}

// isTimeout reports whether err is the probe's deadline running out.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// handshake runs the TLS client handshake over conn. Verification is done
// afterwards, so that an expired or untrusted certificate can still be
// described (and -k can still report its expiry).
func (s *session) handshake(ctx context.Context) (*tls.Conn, error) {
	tc := tls.Client(s.conn, &tls.Config{
		ServerName:         s.set.TLS.ServerName,
		InsecureSkipVerify: true, // verified by tlsverify right after the handshake
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			// Remembered to word a refusal; none is sent.
			s.certAsked = true
			return &tls.Certificate{}, nil
		},
	})
	if err := tc.HandshakeContext(ctx); err != nil {
		if isTimeout(err) {
			return nil, s.ioError(err, "TLS handshake")
		}
		if s.clientCertRefused(err) {
			return nil, s.clientCertFailure(err)
		}
		hint := ""
		var rh tls.RecordHeaderError
		if errors.As(err, &rh) && s.set.TLS.Mode == ImplicitTLS {
			hint = " (the server answered in plaintext: a STARTTLS port? use -S)"
		}
		return nil, &Failure{Step: s.clock.current(), Kind: KindTLS, Err: err,
			Message: msgf("TLS handshake failed: %s%s", tlsverify.TrimPrefix(err), hint)}
	}
	return tc, nil
}

// remoteAlert is the TLS alert the server sent, if err is one.
func remoteAlert(err error) (string, bool) {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" && op.Err != nil {
		return strings.TrimPrefix(op.Err.Error(), "tls: "), true
	}
	return "", false
}

// clientCertRefused says whether err is the server refusing the handshake
// for want of a client certificate: TLS 1.3's "certificate required", or
// an alert after the server asked for one. In TLS 1.3 it arrives with the
// first read after the handshake.
func (s *session) clientCertRefused(err error) bool {
	alert, ok := remoteAlert(err)
	return ok && (alert == "certificate required" || s.certAsked && (alert == "bad certificate" || alert == "handshake failure"))
}

func (s *session) clientCertFailure(err error) *Failure {
	alert, _ := remoteAlert(err)
	st := s.clock.current()
	return &Failure{Step: st, Kind: KindTLS, Err: err,
		Message: msgf("the server demands a client certificate (TLS alert: %s) at step %s", alert, st)}
}
