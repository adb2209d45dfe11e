package checksmtp

import (
	"context"
	"net"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

var statusLine = regexp.MustCompile(`^SMTP (OK|WARNING|CRITICAL|UNKNOWN): `)

// FuzzRunArgs runs run(args) on arbitrary command lines, one argument per
// line of the input. Whatever the options say, the injected dialer pins the
// connection to a refusing loopback port: nothing is dialled outside
// loopback and no run waits on a server. Seeds: testdata/fuzz/FuzzRunArgs.
func FuzzRunArgs(f *testing.F) {
	port := smtptest.ClosedPort(f)
	var pinned atomic.Bool
	env := processEnviron()
	// Every DNS lookup (domain mode, --dns-server) goes to a closed loopback
	// port, whatever the options say.
	env.dnsPin = []string{"127.0.0.1:" + closedUDPPort(f)}
	env.dialer = dialerFunc(func(ctx context.Context, _, _ string) (net.Conn, error) {
		pinned.Store(true)
		var d net.Dialer
		return d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", port))
	})
	f.Add("-H\nmx.example.test\n-t\n0.5\n-v")
	f.Fuzz(func(t *testing.T, input string) {
		args := strings.Split(input, "\n")
		for _, a := range args {
			// Files named on the command line are read before dialing:
			// keep devices (an endless /dev/zero, a blocking /dev/stdin) out.
			if strings.Contains(a, "/dev") || strings.Contains(a, "/proc") || strings.Contains(a, "/sys") {
				t.Skip("names a device or kernel file")
			}
		}
		pinned.Store(false)
		ckr := runIn(env, args)
		out := format(ckr)
		if ckr.Status < 0 || ckr.Status > 3 {
			t.Fatalf("status %d", ckr.Status)
		}
		if !strings.HasSuffix(out, "\n") {
			t.Fatalf("stdout does not end with a newline: %q", out)
		}
		if ckr.Name == "" { // --help or --version
			return
		}
		if strings.Contains(out, "internal error") {
			t.Fatalf("panic recovered for %q:\n%s", args, out)
		}
		if !statusLine.MatchString(out) {
			t.Fatalf("no status line first: %q", out)
		}
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8: %q", out)
		}
		first, rest, _ := strings.Cut(out, "\n")
		if strings.Count(first, "|") > 1 || strings.Contains(rest, "|") {
			t.Fatalf("'|' outside the perfdata separator: %q", out)
		}
		if strings.ContainsAny(first, "\r\x00\x1b") {
			t.Fatalf("control character in the status line: %q", first)
		}
		// Nagios rewrites ';' in the message (single-server mode; domain
		// mode words its own message).
		if msg, _, _ := strings.Cut(first, " | "); strings.Contains(msg, ";") && !strings.Contains(input, "-M") && !strings.Contains(input, "--mx") {
			t.Fatalf("';' in the message: %q", first)
		}
		if ckr.Status != 3 && !pinned.Load() && !strings.Contains(out, " lookup ") {
			t.Fatalf("probed without the hook pinning the target: %q", out)
		}
	})
}

// dialerFunc makes a function a probe.Dialer.
type dialerFunc func(ctx context.Context, network, address string) (net.Conn, error)

func (f dialerFunc) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return f(ctx, network, address)
}

// closedUDPPort is a loopback UDP port nothing listens on.
func closedUDPPort(t testing.TB) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(pc.LocalAddr().String())
	pc.Close()
	return p
}
