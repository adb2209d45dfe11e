package checksmtp

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

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
		// The contract every plugin output keeps, domain mode's too.
		smtptest.AssertPluginOutput(t, out)
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
