package checksmtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"

	proxyproto "github.com/pires/go-proxyproto"
)

// resolver is the pure-Go resolver: it honours the context deadline, so a
// DNS server that never answers cannot outlive -t.
var resolver = &net.Resolver{PreferGo: true}

// dial resolves and connects (TCP or unix socket), then sends the PROXY
// header if asked and returns its line for the transcript. The connection's
// deadline is the probe's deadline, so every later read and write is bounded
// too.
func dial(ctx context.Context, cfg *config) (conn net.Conn, proxyLine string, err error) {
	d := &net.Dialer{Resolver: resolver}
	addr := cfg.host
	if !cfg.unixSocket {
		addr = net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port))
	}
	conn, err = d.DialContext(ctx, cfg.network, addr)
	if err != nil {
		return nil, "", describeDialError(cfg, addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if cfg.proxy {
		h, err := proxyproto.HeaderProxyFromAddrs(1, conn.LocalAddr(), conn.RemoteAddr()).Format()
		if err == nil {
			_, err = conn.Write(h)
		}
		if err != nil {
			conn.Close()
			return nil, "", fmt.Errorf("sending PROXY header: %w", err)
		}
		proxyLine = strings.TrimRight(string(h), "\r\n")
	}
	return conn, proxyLine, nil
}

// describeDialError words a connect failure for an operator, keeping the
// underlying error for timeout detection.
func describeDialError(cfg *config, addr string, err error) error {
	var dnsErr *net.DNSError
	switch {
	case isTimeout(err):
		return err
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return fmt.Errorf("cannot resolve %s: no such host", cfg.host)
		}
		return fmt.Errorf("cannot resolve %s: %s", cfg.host, dnsErr.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("connection refused by %s", addr)
	case errors.Is(err, syscall.ENOENT):
		return fmt.Errorf("no socket at %s", addr)
	}
	return fmt.Errorf("cannot connect to %s: %s", addr, trimNetError(err))
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
// afterwards by verifyPeer, so that an expired or untrusted certificate can
// still be described (and -k can still report its expiry).
func handshake(ctx context.Context, conn net.Conn, cfg *config) (*tls.Conn, error) {
	tc := tls.Client(conn, &tls.Config{
		ServerName:         cfg.serverName,
		InsecureSkipVerify: true, // verified by verifyPeer right after the handshake
	})
	if err := tc.HandshakeContext(ctx); err != nil {
		if isTimeout(err) {
			return nil, err
		}
		return nil, fmt.Errorf("TLS handshake failed: %v", trimTLSPrefix(err))
	}
	return tc, nil
}
