package mtasts

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"
)

// Fetcher fetches MTA-STS policies. The zero value is not usable: LookupIP
// is required. A Fetcher holds no connections between calls and may be
// used by several goroutines at once.
type Fetcher struct {
	// LookupIP resolves mta-sts.DOMAIN. It is the caller's resolver, so
	// that the policy host is found the way remote senders find it.
	LookupIP func(ctx context.Context, host string) ([]net.IP, error)
	// Port is the HTTPS port; 0 means 443. Tests point it elsewhere.
	Port int
	// RootCAs verifies the server certificate; nil means the system roots.
	// Ignored when Verify is set.
	RootCAs *x509.CertPool
	// Verify, when set, replaces the verification with RootCAs: it must
	// check the chain and that the leaf is valid for cs.ServerName
	// (mta-sts.DOMAIN), and return an error saying what is wrong. It lets
	// the caller share its own (cheaper, staged) root handling.
	Verify func(cs tls.ConnectionState) error
}

// FetchInfo describes a fetch, complete or not: what was asked, where it
// went, and the findings that do not stop the policy from being used.
type FetchInfo struct {
	URL  string // https://mta-sts.DOMAIN/.well-known/mta-sts.txt
	Addr string // the address (ip:port) that answered; "" if none did
	// Skipped lists the addresses tried before Addr and why each failed,
	// e.g. "connect to 192.0.2.1:443: connection refused".
	Skipped []string
	// ContentType is the Content-Type header as sent.
	ContentType string
	// ContentTypeWarning is set when the Content-Type is not text/plain:
	// RFC 8461 3.3 requires it, and some senders ignore such a policy.
	ContentTypeWarning string
}

// FetchError is the error of Fetch: the policy URL and what went wrong,
// which is a *PolicyError when the policy was fetched but is malformed.
type FetchError struct {
	URL string
	Err error
}

func (e *FetchError) Error() string {
	var pe *PolicyError
	if errors.As(e.Err, &pe) {
		return "MTA-STS policy " + e.URL + ": " + e.Err.Error()
	}
	return "MTA-STS policy fetch " + e.URL + ": " + e.Err.Error()
}

func (e *FetchError) Unwrap() error { return e.Err }

const (
	wellKnownPath  = "/.well-known/mta-sts.txt"
	maxHeaderBytes = 64 << 10 // status line and headers together
	// maxResponseBytes bounds what is read after the headers: the body is
	// cut at 64 KiB, but chunked framing may add to it many times over.
	maxResponseBytes = 2 << 20
	// minConnectTime is the least time an address gets to connect before
	// the next is tried, as net.Dialer does for a name's addresses.
	minConnectTime = 2 * time.Second
)

// Fetch gets and parses the policy of domain (an A-label name) from
// https://mta-sts.DOMAIN/.well-known/mta-sts.txt as RFC 8461 3.3 says:
// the addresses of mta-sts.DOMAIN from LookupIP are tried in order until
// one completes a TLS handshake with SNI and PKIX verification for
// mta-sts.DOMAIN; then one HTTP/1.1 GET, where only status 200 is
// accepted, a redirect is reported and not followed, and a body over
// 64 KiB is refused without being read. Everything happens under ctx,
// whose deadline bounds the whole fetch, and before Fetch returns its
// connection is closed and nothing it started is left running.
//
// The error, when there is one, is a *FetchError. FetchInfo is filled as
// far as the fetch got, also on error.
func (f *Fetcher) Fetch(ctx context.Context, domain string) (*Policy, FetchInfo, error) {
	domain = strings.TrimSuffix(domain, ".")
	host := "mta-sts." + domain
	info := FetchInfo{URL: "https://" + host + wellKnownPath}
	fail := func(err error) (*Policy, FetchInfo, error) {
		return nil, info, &FetchError{URL: info.URL, Err: err}
	}
	if !isHostName(domain) || len(host) > 253 {
		return fail(fmt.Errorf("%q is not a domain name in A-labels", shorten(domain, 80)))
	}
	if f.LookupIP == nil {
		return fail(errors.New("no resolver configured (Fetcher.LookupIP is nil)"))
	}
	ips, err := f.LookupIP(ctx, host)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fail(fmt.Errorf("%s resolving %s", ctxWord(ctxErr), host))
		}
		return fail(fmt.Errorf("resolving %s: %w", host, err))
	}
	if len(ips) == 0 {
		return fail(fmt.Errorf("%s has no addresses", host))
	}
	conn, err := f.connect(ctx, host, ips, &info)
	if err != nil {
		return fail(err)
	}
	// The TCP connection is closed without TLS close_notify, whose write
	// could wait (up to 5 s in crypto/tls) on a peer that reads nothing.
	defer conn.NetConn().Close()

	body, err := get(ctx, conn, host, &info)
	if err != nil {
		return fail(err)
	}
	p, err := ParsePolicy(body)
	if err != nil {
		return fail(err)
	}
	return p, info, nil
}

// connect tries each address until one completes the TLS handshake.
func (f *Fetcher) connect(ctx context.Context, host string, ips []net.IP, info *FetchInfo) (*tls.Conn, error) {
	port := f.Port
	if port == 0 {
		port = 443
	}
	cfg := &tls.Config{ServerName: host, RootCAs: f.RootCAs, MinVersion: tls.VersionTLS12}
	if f.Verify != nil {
		// Verification moves into VerifyConnection; the handshake still
		// fails on its error, which is what the caller's Verify returned.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if err := f.Verify(cs); err != nil {
				return &verifyError{err}
			}
			return nil
		}
	}
	var errs []string
	for i, ip := range ips {
		addr := net.JoinHostPort(ip.String(), strconv.Itoa(port))
		conn, err := dialTLS(ctx, addr, cfg, len(ips)-i)
		if err == nil {
			info.Addr = addr
			info.Skipped = errs
			return conn, nil
		}
		errs = append(errs, err.Error())
		if ctx.Err() != nil {
			break // the deadline is spent: the remaining addresses get no time
		}
	}
	return nil, errors.New(strings.Join(errs, "; "))
}

// dialTLS connects to addr and completes the TLS handshake. The connect
// gets a share of the remaining time (left addresses still to try, this
// one included) so that one unreachable address does not use up the
// deadline; the handshake may use all of it.
func dialTLS(ctx context.Context, addr string, cfg *tls.Config, left int) (*tls.Conn, error) {
	cctx := ctx
	if dl, ok := ctx.Deadline(); ok && left > 1 {
		share := time.Until(dl) / time.Duration(left)
		if share < minConnectTime {
			share = minConnectTime
		}
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, share)
		defer cancel()
	}
	var d net.Dialer // never a proxy: the policy host is reached directly
	raw, err := d.DialContext(cctx, "tcp", addr)
	if err != nil {
		if ctxErr := cctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%s connecting to %s", ctxWord(ctxErr), addr)
		}
		return nil, fmt.Errorf("connect to %s: %s", addr, opErr(err))
	}
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, describeHandshakeError(ctx, addr, err)
	}
	return conn, nil
}

// describeHandshakeError words a failed handshake: a certificate problem
// starts with "certificate", a deadline with "timeout".
func describeHandshakeError(ctx context.Context, addr string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil || isTimeout(err) {
		if ctxErr == nil {
			ctxErr = context.DeadlineExceeded
		}
		return fmt.Errorf("%s in the TLS handshake with %s", ctxWord(ctxErr), addr)
	}
	var ve *verifyError
	if errors.As(err, &ve) {
		msg := ve.err.Error()
		if !strings.HasPrefix(msg, "certificate") {
			msg = "certificate: " + msg
		}
		return fmt.Errorf("%s (%s)", msg, addr)
	}
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) {
		err = cv.Err
	}
	var (
		he x509.HostnameError
		ua x509.UnknownAuthorityError
		ci x509.CertificateInvalidError
	)
	if cv != nil || errors.As(err, &he) || errors.As(err, &ua) || errors.As(err, &ci) {
		msg := strings.TrimPrefix(err.Error(), "x509: ")
		if !strings.HasPrefix(msg, "certificate") {
			msg = "certificate: " + msg
		}
		return fmt.Errorf("%s (%s)", msg, addr)
	}
	return fmt.Errorf("TLS handshake with %s: %s", addr, opErr(err))
}

// verifyError marks an error of Fetcher.Verify: a certificate problem.
type verifyError struct{ err error }

func (e *verifyError) Error() string { return e.err.Error() }
func (e *verifyError) Unwrap() error { return e.err }

// get sends the GET on conn and returns the body of a 200 response.
func get(ctx context.Context, conn *tls.Conn, host string, info *FetchInfo) ([]byte, error) {
	// The deadline covers the request and the response; a cancellation
	// without deadline closes the connection to unblock the reads.
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// The TCP connection is closed, not the TLS one: tls.Conn.Close sends
	// close_notify first, and the server's answer to it could still be
	// read as a response.
	unblocked := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		conn.NetConn().Close()
		close(unblocked)
	})
	defer func() {
		if !stop() {
			<-unblocked // the AfterFunc goroutine ran: wait for it to end
		}
	}()

	body, err := exchange(conn, host, info)
	if err != nil || ctx.Err() != nil {
		// An ended context fails the fetch even if a response got in.
		if ctxErr := ctx.Err(); ctxErr != nil || errors.As(err, new(deadlineError)) {
			if ctxErr == nil {
				ctxErr = context.DeadlineExceeded
			}
			return nil, fmt.Errorf("%s waiting for the response from %s", ctxWord(ctxErr), info.Addr)
		}
		return nil, err
	}
	return body, nil
}

// exchange writes the request and reads the response. The connection is
// closed by the caller after one request: no keep-alive.
func exchange(conn net.Conn, host string, info *FetchInfo) ([]byte, error) {
	req := "GET " + wellKnownPath + " HTTP/1.1\r\n" +
		"Host: " + host + "\r\n" +
		"User-Agent: check-smtp\r\n" +
		"Accept: text/plain\r\n" +
		"Connection: close\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return nil, ioError("sending the request to "+info.Addr, err)
	}
	// The head is read through a limit so that a server sending endless
	// headers cannot make us buffer them; the body has its own.
	lim := &limitedReader{r: conn, n: maxHeaderBytes}
	br := bufio.NewReader(lim)
	resp, err := readResponseHead(textproto.NewReader(br))
	switch {
	case err == nil:
	case lim.n <= 0:
		return nil, fmt.Errorf("response headers larger than %d KiB", maxHeaderBytes>>10)
	case errors.Is(err, errTruncated):
		return nil, fmt.Errorf("%s closed the connection without a complete response", info.Addr)
	default:
		return nil, ioError("invalid HTTP response", err)
	}
	lim.n = maxResponseBytes // the body is limited below; this bounds chunk framing

	info.ContentType = resp.header.Get("Content-Type")
	switch {
	case resp.status >= 300 && resp.status < 400:
		where := resp.header.Get("Location")
		if where == "" {
			return nil, fmt.Errorf("HTTP %d redirect without a Location (redirects are not followed)", resp.status)
		}
		return nil, fmt.Errorf("HTTP %d redirect to %q (redirects are not followed)", resp.status, shorten(where, 200))
	case resp.status != 200:
		return nil, fmt.Errorf("HTTP %d", resp.status)
	}
	if ce := resp.header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return nil, fmt.Errorf("Content-Encoding %q, which was not asked for", shorten(ce, 40))
	}
	if resp.length > maxPolicySize {
		return nil, fmt.Errorf("policy larger than 64 KiB (Content-Length %d)", resp.length)
	}
	info.ContentTypeWarning = contentTypeWarning(info.ContentType)

	body, err := resp.readBody(br, maxPolicySize)
	switch {
	case err == nil:
		return body, nil
	case errors.Is(err, errTooLarge):
		return nil, errors.New("policy larger than 64 KiB")
	case lim.n <= 0:
		return nil, fmt.Errorf("response larger than %d MiB", maxResponseBytes>>20)
	case errors.Is(err, errTruncated):
		return nil, fmt.Errorf("%s closed the connection in the middle of the policy", info.Addr)
	}
	return nil, ioError("reading the policy", err)
}

// deadlineError marks an I/O error caused by the connection's deadline,
// which is the context's: the caller words it as a timeout.
type deadlineError struct{}

func (deadlineError) Error() string { return "timeout" }

// ioError words an I/O error after what was being done, keeping a
// deadline recognisable.
func ioError(doing string, err error) error {
	if isTimeout(err) {
		return deadlineError{}
	}
	return fmt.Errorf("%s: %s", doing, opErr(err))
}

// contentTypeWarning says what is wrong with a Content-Type other than
// text/plain. Parameters such as charset are not looked at: the media
// type is what senders check.
func contentTypeWarning(ct string) string {
	if ct == "" {
		return "no Content-Type (RFC 8461 requires text/plain)"
	}
	mt, _, _ := strings.Cut(ct, ";")
	if !strings.EqualFold(strings.Trim(mt, " \t"), "text/plain") {
		return fmt.Sprintf("Content-Type %q, not text/plain (some senders ignore such a policy)", shorten(ct, 60))
	}
	return ""
}

// limitedReader is io.LimitedReader with a limit that can be raised.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// ctxWord names a context's end in an error message.
func ctxWord(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return "canceled"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// opErr strips the operation, addresses and system call from a
// net.OpError, which the message already names: "connection refused".
func opErr(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err
	}
	var se *os.SyscallError
	if errors.As(err, &se) && se.Err != nil {
		err = se.Err
	}
	return err.Error()
}
