package mtasts

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const (
	testDomain = "example.org"
	testURL    = "https://mta-sts.example.org/.well-known/mta-sts.txt"
	goodPolicy = "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.org\r\nmx: *.mx.example.org\r\nmax_age: 604800\r\n"
)

// hangGuard is how long a test waits for something that must happen
// promptly before calling it a hang; it never decides a pass.
const hangGuard = 10 * time.Second

// fixture is one test's CA and certificate for mta-sts.example.org.
type fixture struct {
	ca   *testCA
	cert tls.Certificate
}

func newFixture(t *testing.T) *fixture {
	ca := newTestCA(t, "Test CA")
	return &fixture{ca: ca, cert: ca.validLeaf(t, "mta-sts."+testDomain)}
}

// serve starts an HTTPS server on 127.0.0.1 with cert and returns its port.
func serve(t *testing.T, cert tls.Certificate, h http.HandlerFunc) int {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes refused on purpose
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).Port
}

// serveRaw starts a TLS listener on 127.0.0.1 whose connections (after
// the handshake) go to handle; it returns the port.
func serveRaw(t *testing.T, cert tls.Certificate, handle func(c *tls.Conn)) int {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := c.(*tls.Conn)
			func() {
				defer tc.Close()
				if tc.Handshake() != nil {
					return
				}
				handle(tc)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// readRequest reads the request head from c.
func readRequest(c net.Conn) (*http.Request, error) {
	return http.ReadRequest(bufio.NewReader(c))
}

func (fx *fixture) fetcher(port int) *Fetcher {
	return &Fetcher{
		LookupIP: func(ctx context.Context, host string) ([]net.IP, error) {
			if host != "mta-sts."+testDomain {
				return nil, fmt.Errorf("test resolver: unexpected %q", host)
			}
			return []net.IP{net.IPv4(127, 0, 0, 1)}, nil
		},
		Port:    port,
		RootCAs: fx.ca.pool,
	}
}

// fetch runs f.Fetch under timeout and then checks that no goroutine runs
// the package's code: Fetch must not leave any behind. The fetch tests are
// not parallel so that this check sees only its own fetch.
func fetch(t *testing.T, f *Fetcher, timeout time.Duration) (*Policy, FetchInfo, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p, info, err := f.Fetch(ctx, testDomain)
	if s := packageGoroutines(); s != "" {
		t.Errorf("goroutines running the package's code after Fetch returned:\n%s", s)
	}
	return p, info, err
}

// productFrame is a stack frame in a non-test file of this package, or
// in net/http's client transport (which Fetch must not use: it keeps
// connections and goroutines).
var productFrame = regexp.MustCompile(`(?m)^\t\S*/internal/mtasts/([a-z0-9_]+)\.go:\d+|net/http\.\(\*persistConn\)`)

// packageGoroutines returns the stacks of other goroutines that are in
// the package's production code.
func packageGoroutines() string {
	buf := make([]byte, 1<<20)
	stacks := strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n")
	var found []string
	for i, g := range stacks {
		if i == 0 { // the calling goroutine
			continue
		}
		for _, m := range productFrame.FindAllStringSubmatch(g, -1) {
			if !strings.HasSuffix(m[1], "_test") {
				found = append(found, g)
				break
			}
		}
	}
	return strings.Join(found, "\n\n")
}

func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err, want)
	}
	var fe *FetchError
	if !errors.As(err, &fe) || fe.URL != testURL {
		t.Errorf("error %q is not a *FetchError for %s", err, testURL)
	}
}

func TestFetchGoodPolicy(t *testing.T) {
	fx := newFixture(t)
	var got atomic.Pointer[http.Request]
	port := serve(t, fx.cert, func(w http.ResponseWriter, r *http.Request) {
		got.Store(r)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, goodPolicy)
	})
	p, info, err := fetch(t, fx.fetcher(port), hangGuard)
	if err != nil {
		t.Fatal(err)
	}
	if p.Mode != "enforce" || p.MaxAge != 604800 || len(p.MX) != 2 || p.MX[1] != "*.mx.example.org" {
		t.Errorf("policy %+v", p)
	}
	if info.URL != testURL || info.Addr != "127.0.0.1:"+strconv.Itoa(port) || info.ContentTypeWarning != "" || len(info.Skipped) != 0 {
		t.Errorf("info %+v", info)
	}
	r := got.Load()
	if r.Host != "mta-sts.example.org" || r.URL.Path != "/.well-known/mta-sts.txt" || r.Method != "GET" {
		t.Errorf("request %s %s to %s", r.Method, r.URL, r.Host)
	}
	if !r.Close {
		t.Error("request did not ask for Connection: close")
	}
	if r.TLS == nil || r.TLS.ServerName != "mta-sts.example.org" {
		t.Errorf("SNI: %+v", r.TLS)
	}
	if ae := r.Header.Get("Accept-Encoding"); ae != "" {
		t.Errorf("Accept-Encoding %q: the body limit is on what is sent", ae)
	}
}

// TestFetchHTTPFailures: every answer but a usable 200 fails the fetch,
// with a message saying what came back.
func TestFetchHTTPFailures(t *testing.T) {
	fx := newFixture(t)
	big := strings.Repeat("x: y\n", maxPolicySize/5+1)
	cases := []struct {
		name    string
		handler http.HandlerFunc
		want    string // the whole message when it starts with "MTA-STS"
	}{
		{"404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			"MTA-STS policy fetch " + testURL + ": HTTP 404"},
		{"500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) },
			"MTA-STS policy fetch " + testURL + ": HTTP 500"},
		{"204 no content", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) },
			"HTTP 204"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != wellKnownPath {
				t.Errorf("the redirect was followed to %s", r.URL)
			}
			http.Redirect(w, r, "https://mta-sts.example.org/elsewhere.txt", http.StatusMovedPermanently)
		}, `HTTP 301 redirect to "https://mta-sts.example.org/elsewhere.txt" (redirects are not followed)`},
		{"redirect 307", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/x", http.StatusTemporaryRedirect)
		}, `HTTP 307 redirect to "/x"`},
		{"redirect without location", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(302) },
			"HTTP 302 redirect without a Location"},
		{"oversize with Content-Length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", strconv.Itoa(len(goodPolicy)+len(big)))
			io.WriteString(w, goodPolicy+big)
		}, fmt.Sprintf("policy larger than 64 KiB (Content-Length %d)", len(goodPolicy)+len(big))},
		{"oversize chunked", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, goodPolicy)
			w.(http.Flusher).Flush() // no Content-Length from here: chunked
			io.WriteString(w, big)
		}, "MTA-STS policy fetch " + testURL + ": policy larger than 64 KiB"},
		{"gzip not asked for", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			io.WriteString(w, "\x1f\x8b")
		}, `Content-Encoding "gzip", which was not asked for`},
		{"malformed policy", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "version: STSv1\nmode: enforcing\n")
		}, "MTA-STS policy " + testURL + `: line 2: mode: "enforcing" is not enforce, testing or none`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, info, err := fetch(t, fx.fetcher(serve(t, fx.cert, c.handler)), hangGuard)
			if p != nil {
				t.Errorf("policy %+v despite the error", p)
			}
			wantErr(t, err, c.want)
			if strings.HasPrefix(c.want, "MTA-STS") && err.Error() != c.want {
				t.Errorf("error %q, want exactly %q", err, c.want)
			}
			if info.URL != testURL || info.Addr == "" {
				t.Errorf("info %+v", info)
			}
		})
	}
}

// TestFetchMalformedPolicyIsPolicyError: the caller can tell a policy that
// was fetched but is broken from a fetch that failed.
func TestFetchMalformedPolicyIsPolicyError(t *testing.T) {
	fx := newFixture(t)
	port := serve(t, fx.cert, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>\n")
	})
	_, info, err := fetch(t, fx.fetcher(port), hangGuard)
	var pe *PolicyError
	if !errors.As(err, &pe) || pe.Line != 1 {
		t.Fatalf("error %v, want a *PolicyError on line 1", err)
	}
	if info.ContentTypeWarning == "" {
		t.Error("no Content-Type warning kept with the parse error")
	}
}

// TestFetchSizeLimitExact: a policy of exactly 64 KiB is read and used,
// one byte more is refused, with and without Content-Length.
func TestFetchSizeLimitExact(t *testing.T) {
	fx := newFixture(t)
	for _, size := range []int{maxPolicySize, maxPolicySize + 1} {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d bytes chunked=%v", size, chunked), func(t *testing.T) {
				body := goodPolicy + "x-filler: " + strings.Repeat("y", size-len(goodPolicy)-11) + "\n"
				if len(body) != size {
					t.Fatalf("test body is %d bytes", len(body))
				}
				port := serve(t, fx.cert, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/plain")
					if chunked {
						io.WriteString(w, body[:10])
						w.(http.Flusher).Flush() // no Content-Length from here
					} else {
						w.Header().Set("Content-Length", strconv.Itoa(len(body)))
						io.WriteString(w, body[:10])
					}
					io.WriteString(w, body[10:])
				})
				p, _, err := fetch(t, fx.fetcher(port), hangGuard)
				if size == maxPolicySize {
					if err != nil || p.Mode != "enforce" {
						t.Fatalf("a policy of exactly 64 KiB: %v", err)
					}
					return
				}
				wantErr(t, err, "policy larger than 64 KiB")
			})
		}
	}
}

// TestFetchEndlessBody: a server that never stops sending is cut off at
// the limit, not read to the end.
func TestFetchEndlessBody(t *testing.T) {
	fx := newFixture(t)
	port := serveRaw(t, fx.cert, func(c *tls.Conn) {
		if _, err := readRequest(c); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
		chunk := "1000\r\n" + strings.Repeat("a", 0x1000) + "\r\n"
		for {
			if _, err := io.WriteString(c, chunk); err != nil {
				return
			}
		}
	})
	_, _, err := fetch(t, fx.fetcher(port), hangGuard)
	wantErr(t, err, "policy larger than 64 KiB")
}

func TestFetchContentType(t *testing.T) {
	fx := newFixture(t)
	cases := []struct {
		ct   []string // nil: no header at all
		warn string   // "" for none
	}{
		{[]string{"text/plain"}, ""},
		{[]string{"TEXT/PLAIN; charset=UTF-8"}, ""},
		{[]string{"text/html"}, `Content-Type "text/html", not text/plain`},
		{[]string{"application/octet-stream"}, `not text/plain`},
		{[]string{"text/plain;;;"}, ""}, // bad parameters, but text/plain
		{[]string{"text/plain ;charset=utf-8"}, ""},
		{[]string{"text/plain/x"}, `not text/plain`},
		{[]string{"text/plainx"}, `not text/plain`},
		{nil, "no Content-Type"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.ct), func(t *testing.T) {
			port := serve(t, fx.cert, func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Type"] = c.ct // nil also stops sniffing
				io.WriteString(w, goodPolicy)
			})
			p, info, err := fetch(t, fx.fetcher(port), hangGuard)
			if err != nil || p == nil {
				t.Fatalf("policy not parsed: %v", err)
			}
			if c.warn == "" && info.ContentTypeWarning != "" || !strings.Contains(info.ContentTypeWarning, c.warn) {
				t.Errorf("warning %q, want %q", info.ContentTypeWarning, c.warn)
			}
			if len(c.ct) > 0 && info.ContentType != c.ct[0] {
				t.Errorf("ContentType %q", info.ContentType)
			}
		})
	}
}

// TestFetchCertificates: the certificate must be PKIX-valid for
// mta-sts.DOMAIN under RootCAs.
func TestFetchCertificates(t *testing.T) {
	fx := newFixture(t)
	other := newTestCA(t, "Other CA")
	now := time.Now()
	cases := []struct {
		name string
		cert tls.Certificate
		want string
	}{
		{"wrong name", fx.ca.validLeaf(t, "mta-sts.example.net", "example.org"),
			"certificate is valid for mta-sts.example.net, example.org, not mta-sts.example.org (127.0.0.1:"},
		{"untrusted CA", other.validLeaf(t, "mta-sts."+testDomain),
			"certificate signed by unknown authority (127.0.0.1:"},
		{"expired", fx.ca.leaf(t, now.Add(-48*time.Hour), now.Add(-time.Hour), "mta-sts."+testDomain),
			"certificate has expired or is not yet valid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var served atomic.Bool
			port := serve(t, c.cert, func(w http.ResponseWriter, r *http.Request) { served.Store(true) })
			_, info, err := fetch(t, fx.fetcher(port), hangGuard)
			wantErr(t, err, "MTA-STS policy fetch "+testURL+": "+c.want)
			if served.Load() || info.Addr != "" {
				t.Errorf("a request went out over an unverified connection (info %+v)", info)
			}
		})
	}
	t.Run("wildcard certificate", func(t *testing.T) {
		port := serve(t, fx.ca.validLeaf(t, "*.example.org"), func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, goodPolicy)
		})
		if _, _, err := fetch(t, fx.fetcher(port), hangGuard); err != nil {
			t.Fatal(err)
		}
	})
}

// TestFetchVerifyHook: Verify replaces RootCAs and its error is reported
// as a certificate problem.
func TestFetchVerifyHook(t *testing.T) {
	fx := newFixture(t)
	untrusted := newTestCA(t, "Other CA").validLeaf(t, "mta-sts."+testDomain)
	port := serve(t, untrusted, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, goodPolicy) })

	var sawName string
	f := fx.fetcher(port)
	f.Verify = func(cs tls.ConnectionState) error {
		sawName = cs.ServerName
		if len(cs.PeerCertificates) == 0 {
			return errors.New("no certificate")
		}
		return nil
	}
	if _, _, err := fetch(t, f, hangGuard); err != nil {
		t.Fatalf("Verify accepted the chain, yet: %v", err)
	}
	if sawName != "mta-sts.example.org" {
		t.Errorf("Verify saw ServerName %q", sawName)
	}
	f.Verify = func(tls.ConnectionState) error { return errors.New("expired 3 days ago") }
	_, _, err := fetch(t, f, hangGuard)
	wantErr(t, err, ": certificate: expired 3 days ago (127.0.0.1:")
	f.Verify = func(tls.ConnectionState) error { return errors.New("certificate is revoked") }
	_, _, err = fetch(t, f, hangGuard)
	wantErr(t, err, ": certificate is revoked (127.0.0.1:")
}

// TestFetchDeadline: the context's deadline bounds every phase, and a
// fetch cut by it says "timeout".
func TestFetchDeadline(t *testing.T) {
	fx := newFixture(t)
	release := make(chan struct{})
	slowHTTP := serve(t, fx.cert, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	slowBody := serveRaw(t, fx.cert, func(c *tls.Conn) {
		readRequest(c)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\nversion: STSv1\n")
		c.Read(make([]byte, 1)) // until the client closes
	})
	// A TCP server that never speaks TLS.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.Read(make([]byte, 1<<16)); c.Read(make([]byte, 1)); c.Close() }()
		}
	}()
	silentTLS := ln.Addr().(*net.TCPAddr).Port
	t.Cleanup(func() { close(release) }) // registered last: runs before the servers close

	cases := []struct {
		name string
		port int
		want string
	}{
		{"no response", slowHTTP, "MTA-STS policy fetch " + testURL + ": timeout waiting for the response from 127.0.0.1:"},
		{"stalled body", slowBody, ": timeout waiting for the response"},
		{"no TLS handshake", silentTLS, "MTA-STS policy fetch " + testURL + ": timeout in the TLS handshake with 127.0.0.1:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := fetch(t, fx.fetcher(c.port), 300*time.Millisecond)
			wantErr(t, err, c.want)
		})
	}
	t.Run("resolver", func(t *testing.T) {
		f := fx.fetcher(slowHTTP)
		f.LookupIP = func(ctx context.Context, host string) ([]net.IP, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		_, _, err := fetch(t, f, 100*time.Millisecond)
		wantErr(t, err, ": timeout resolving mta-sts.example.org")
	})
}

// TestFetchCancel: a cancellation without deadline ends a fetch stuck on a
// silent server.
func TestFetchCancel(t *testing.T) {
	fx := newFixture(t)
	asked := make(chan struct{})
	release := make(chan struct{})
	port := serve(t, fx.cert, func(w http.ResponseWriter, r *http.Request) {
		close(asked)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-asked; cancel() }()
	_, _, err := fx.fetcher(port).Fetch(ctx, testDomain)
	wantErr(t, err, ": canceled waiting for the response")
	if s := packageGoroutines(); s != "" {
		t.Errorf("goroutines left:\n%s", s)
	}
}

// TestFetchClosesConnection: Fetch closes its connection even when the
// server would keep it alive.
func TestFetchClosesConnection(t *testing.T) {
	fx := newFixture(t)
	closed := make(chan error, 1)
	port := serveRaw(t, fx.cert, func(c *tls.Conn) {
		readRequest(c)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\n"+
			"Content-Length: "+strconv.Itoa(len(goodPolicy))+"\r\n\r\n"+goodPolicy)
		_, err := c.Read(make([]byte, 1)) // a keep-alive client would wait here
		closed <- err
	})
	if _, _, err := fetch(t, fx.fetcher(port), hangGuard); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-closed:
		if err == nil {
			t.Error("the client sent more after its one request")
		}
	case <-time.After(hangGuard):
		t.Fatal("the connection is still open after Fetch returned")
	}
}

// TestFetchRawResponses: response shapes from servers that are not Go's.
func TestFetchRawResponses(t *testing.T) {
	fx := newFixture(t)
	cases := []struct {
		name     string
		response string // "" with endless: headers without end
		endless  bool
		want     string // "" means success
	}{
		{"HTTP/1.0 close-delimited", "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + goodPolicy, false, ""},
		{"interim 100 first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
			strconv.FormatInt(int64(len(goodPolicy)), 16) + "\r\n" + goodPolicy + "\r\n0\r\nX-Trailer: 1\r\n\r\n", false, ""},
		{"LF-only headers", "HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: " + strconv.Itoa(len(goodPolicy)) + "\n\n" + goodPolicy, false, ""},
		{"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + goodPolicy, false,
			"closed the connection in the middle of the policy"},
		{"no response", "", false, "closed the connection without a complete response"},
		{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", false, "invalid HTTP response"},
		{"endless headers", "", true, "response headers larger than 64 KiB"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			port := serveRaw(t, fx.cert, func(conn *tls.Conn) {
				readRequest(conn)
				if !c.endless {
					io.WriteString(conn, c.response)
					return
				}
				io.WriteString(conn, "HTTP/1.1 200 OK\r\n")
				for {
					if _, err := io.WriteString(conn, "X-Filler: "+strings.Repeat("f", 1000)+"\r\n"); err != nil {
						return
					}
				}
			})
			p, _, err := fetch(t, fx.fetcher(port), hangGuard)
			if c.want == "" {
				if err != nil || p == nil || p.Mode != "enforce" {
					t.Fatalf("policy %+v, error %v", p, err)
				}
				return
			}
			wantErr(t, err, c.want)
		})
	}
}

// TestFetchAddresses: every address is tried in order; the first that
// completes a handshake is used and the failures before it are reported.
func TestFetchAddresses(t *testing.T) {
	fx := newFixture(t)
	port := serve(t, fx.cert, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, goodPolicy) })
	p := strconv.Itoa(port)
	// Nothing listens on 127.0.0.2 at the server's port: it is bound to
	// 127.0.0.1 only.
	refused := net.IPv4(127, 0, 0, 2)
	f := fx.fetcher(port)
	f.LookupIP = func(context.Context, string) ([]net.IP, error) {
		return []net.IP{refused, net.IPv4(127, 0, 0, 1)}, nil
	}
	pol, info, err := fetch(t, f, hangGuard)
	if err != nil || pol == nil {
		t.Fatal(err)
	}
	if info.Addr != "127.0.0.1:"+p || len(info.Skipped) != 1 || info.Skipped[0] != "connect to 127.0.0.2:"+p+": connection refused" {
		t.Errorf("info %+v", info)
	}

	f.LookupIP = func(context.Context, string) ([]net.IP, error) { return []net.IP{refused, refused}, nil }
	_, info, err = fetch(t, f, hangGuard)
	wantErr(t, err, ": connect to 127.0.0.2:"+p+": connection refused; connect to 127.0.0.2:"+p+": connection refused")
	if info.Addr != "" {
		t.Errorf("info %+v", info)
	}
}

func TestFetchResolverAndDomain(t *testing.T) {
	fx := newFixture(t)
	f := fx.fetcher(1)
	f.LookupIP = func(context.Context, string) ([]net.IP, error) { return nil, errors.New("NXDOMAIN") }
	_, _, err := fetch(t, f, hangGuard)
	wantErr(t, err, ": resolving mta-sts.example.org: NXDOMAIN")
	f.LookupIP = func(context.Context, string) ([]net.IP, error) { return nil, nil }
	_, _, err = fetch(t, f, hangGuard)
	wantErr(t, err, ": mta-sts.example.org has no addresses")
	f.LookupIP = nil
	_, _, err = fetch(t, f, hangGuard)
	wantErr(t, err, "no resolver configured")

	called := false
	f.LookupIP = func(context.Context, string) ([]net.IP, error) { called = true; return nil, nil }
	for _, d := range []string{"", "exa mple.org", "example.org/x", "example.org\r\nX-Injected: 1", "*.example.org", "bücher.example", "a..b", strings.Repeat("a.", 123) + "org"} {
		_, _, err := f.Fetch(context.Background(), d)
		if err == nil || !strings.Contains(err.Error(), "is not a domain name") {
			t.Errorf("domain %q: error %v", d, err)
		}
	}
	if called {
		t.Error("an invalid domain was looked up")
	}
	// A trailing dot is the same domain.
	f = fx.fetcher(serve(t, fx.cert, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, goodPolicy) }))
	if _, info, err := f.Fetch(context.Background(), testDomain+"."); err != nil || info.URL != testURL {
		t.Errorf("trailing dot: %v, %+v", err, info)
	}
}

// TestFetchIgnoresProxyEnvironment: the policy host is reached directly,
// whatever HTTPS_PROXY says. Not parallel: it sets the environment.
func TestFetchIgnoresProxyEnvironment(t *testing.T) {
	fx := newFixture(t)
	proxy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	var proxied atomic.Bool
	go func() {
		for {
			c, err := proxy.Accept()
			if err != nil {
				return
			}
			proxied.Store(true)
			c.Close()
		}
	}()
	for _, v := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "ALL_PROXY"} {
		t.Setenv(v, "http://"+proxy.Addr().String())
	}
	t.Setenv("NO_PROXY", "")
	port := serve(t, fx.cert, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, goodPolicy) })
	if _, _, err := fetch(t, fx.fetcher(port), hangGuard); err != nil {
		t.Fatal(err)
	}
	if proxied.Load() {
		t.Error("the fetch went through the proxy from the environment")
	}
}

func BenchmarkFetch(b *testing.B) {
	ca := newTestCA(b, "Test CA")
	cert := ca.validLeaf(b, "mta-sts."+testDomain)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, goodPolicy)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	f := &Fetcher{
		LookupIP: func(context.Context, string) ([]net.IP, error) { return []net.IP{net.IPv4(127, 0, 0, 1)}, nil },
		Port:     srv.Listener.Addr().(*net.TCPAddr).Port,
		RootCAs:  ca.pool,
	}
	for b.Loop() {
		if _, _, err := f.Fetch(context.Background(), testDomain); err != nil {
			b.Fatal(err)
		}
	}
}
