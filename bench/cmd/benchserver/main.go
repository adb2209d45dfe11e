// Command benchserver is an instant SMTP server for benchmarking check-smtp on
// loopback. It listens on three ports of -addr (127.0.0.1):
//
//   - plain: SMTP that offers STARTTLS and AUTH PLAIN LOGIN;
//   - smtps: the same conversation inside implicit TLS (no STARTTLS offered);
//   - tarpit: accepts connections and never sends a banner;
//
// and, with -mx-addrs, on one more port of each of those addresses: the
// plain conversation of an MX, its banner sent after -mx-delay.
//
// At start it makes a chain of the -chain shape (see makeTLS) for
// localhost, 127.0.0.1, ::1 and the -names, writes its root as PEM to
// -cafile (so that clients can verify with --cafile or a pool of that root
// alone), then prints one line on stdout:
//
//	READY plain=PORT smtps=PORT tarpit=PORT mx=PORT
//
// (mx=0 without -mx-addrs). It runs until killed or until -lifetime has
// passed.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net"
	"strings"
	"time"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("benchserver: ")
	var (
		srv      smtpServer
		caFile   = flag.String("cafile", "", "write the root certificate (PEM) to this file (required)")
		chain    = flag.String("chain", "simple", "certificate chain: simple (P-256 root and leaf) or le (P-256 leaf, P-384 intermediate, RSA-4096 root)")
		names    = flag.String("names", "", "more names for the leaf certificate, comma-separated")
		addr     = flag.String("addr", "127.0.0.1", "loopback address to listen on")
		mxAddrs  = flag.String("mx-addrs", "", "loopback addresses, comma-separated, that each listen on one more port (the same on all), as MX hosts")
		lifetime = flag.Duration("lifetime", 30*time.Minute, "exit after this long, whatever happens")
		quickAck = flag.Bool("quickack", true, "acknowledge every segment at once (TCP_QUICKACK, Linux), see quickack_linux.go")
	)
	flag.DurationVar(&srv.mailDelay, "mail-delay", 0, "fixed delay before the reply to MAIL FROM")
	flag.DurationVar(&srv.bannerDelay, "mx-delay", 0, "fixed delay before the banner of the -mx-addrs listeners")
	flag.DurationVar(&srv.idle, "idle", time.Minute, "close a connection idle for this long (the tarpit too)")
	flag.Parse()
	if *caFile == "" {
		log.Fatal("-cafile is required")
	}
	mx := splitList(*mxAddrs)
	for _, a := range append([]string{*addr}, mx...) {
		if ip := net.ParseIP(a); ip == nil || !ip.IsLoopback() {
			log.Fatalf("%q: only loopback addresses are allowed", a)
		}
	}
	tlsConf, err := makeTLS(*chain, *caFile, append([]string{"localhost", "127.0.0.1", "::1"}, splitList(*names)...))
	if err != nil {
		log.Fatal(err)
	}
	plain := listen(*addr, 0)
	smtps := listen(*addr, 0)
	tarpit := listen(*addr, 0)
	serve := func(l net.Listener, handle func(net.Conn)) { go accept(l, *quickAck, handle) }
	serve(plain, func(c net.Conn) { srv.session(c, tlsConf, true) })
	serve(smtps, func(c net.Conn) { srv.session(tls.Server(c, tlsConf), nil, false) })
	serve(tarpit, srv.holdOpen)
	mxPort := 0
	if len(mx) > 0 {
		delayed := srv // the banner delay is for the MX listeners only
		srv.bannerDelay = 0
		ls := listenAll(mx)
		mxPort = port(ls[0])
		for _, l := range ls {
			serve(l, func(c net.Conn) { delayed.session(c, tlsConf, true) })
		}
	}
	fmt.Printf("READY plain=%d smtps=%d tarpit=%d mx=%d\n", port(plain), port(smtps), port(tarpit), mxPort)
	time.Sleep(*lifetime)
	log.Print("lifetime over, exiting")
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func listen(addr string, port int) net.Listener {
	l, err := net.Listen("tcp", net.JoinHostPort(addr, fmt.Sprint(port)))
	if err != nil {
		log.Fatal(err)
	}
	return l
}

// listenAll listens on one port of every address: the port the first
// address is given, tried on the others, and another if one of them has it
// taken.
func listenAll(addrs []string) []net.Listener {
	for try := 0; try < 20; try++ {
		first := listen(addrs[0], 0)
		ls := []net.Listener{first}
		for _, a := range addrs[1:] {
			l, err := net.Listen("tcp", net.JoinHostPort(a, fmt.Sprint(port(first))))
			if err != nil {
				break
			}
			ls = append(ls, l)
		}
		if len(ls) == len(addrs) {
			return ls
		}
		for _, l := range ls {
			l.Close()
		}
	}
	log.Fatalf("no port free on all of %v", addrs)
	return nil
}

func port(l net.Listener) int { return l.Addr().(*net.TCPAddr).Port }

func accept(l net.Listener, quickAck bool, handle func(net.Conn)) {
	for {
		c, err := l.Accept()
		if err != nil {
			log.Print(err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		if quickAck {
			c = withQuickAck(c)
		}
		go handle(c)
	}
}
