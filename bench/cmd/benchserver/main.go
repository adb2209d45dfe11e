// Command benchserver is an instant SMTP server for benchmarking check-smtp on
// loopback. It listens on three ports of 127.0.0.1:
//
//   - plain: SMTP that offers STARTTLS and AUTH PLAIN LOGIN;
//   - smtps: the same conversation inside implicit TLS (no STARTTLS offered);
//   - tarpit: accepts connections and never sends a banner.
//
// At start it makes an ECDSA P-256 CA and a server certificate for localhost,
// 127.0.0.1 and ::1, writes the CA certificate as PEM to -cafile (so that
// clients can verify with --cafile), then prints one line on stdout:
//
//	READY plain=PORT smtps=PORT tarpit=PORT
//
// It runs until killed or until -lifetime has passed.
package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"os"
	"strings"
	"time"
)

const (
	benchUser = "user"
	benchPass = "pass"
)

var (
	mailDelay = flag.Duration("mail-delay", 0, "fixed delay before the reply to MAIL FROM")
	caFile    = flag.String("cafile", "", "write the CA certificate (PEM) to this file (required)")
	addr      = flag.String("addr", "127.0.0.1", "loopback address to listen on")
	lifetime  = flag.Duration("lifetime", 30*time.Minute, "exit after this long, whatever happens")
	idle      = flag.Duration("idle", time.Minute, "close a connection idle for this long (the tarpit too)")
	quickAck  = flag.Bool("quickack", true, "acknowledge every segment at once (TCP_QUICKACK, Linux), see quickack_linux.go")
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("benchserver: ")
	flag.Parse()
	if *caFile == "" {
		log.Fatal("-cafile is required")
	}
	if ip := net.ParseIP(*addr); ip == nil || !ip.IsLoopback() {
		log.Fatalf("-addr %q: only loopback addresses are allowed", *addr)
	}
	tlsConf, err := makeTLS(*caFile)
	if err != nil {
		log.Fatal(err)
	}
	plain := listen()
	smtps := listen()
	tarpit := listen()
	go serve(plain, func(c net.Conn) { session(c, tlsConf, true) })
	go serve(smtps, func(c net.Conn) { session(tls.Server(c, tlsConf), nil, false) })
	go serve(tarpit, holdOpen)
	fmt.Printf("READY plain=%d smtps=%d tarpit=%d\n", port(plain), port(smtps), port(tarpit))
	time.Sleep(*lifetime)
	log.Print("lifetime over, exiting")
}

func listen() net.Listener {
	l, err := net.Listen("tcp", net.JoinHostPort(*addr, "0"))
	if err != nil {
		log.Fatal(err)
	}
	return l
}

func port(l net.Listener) int { return l.Addr().(*net.TCPAddr).Port }

func serve(l net.Listener, handle func(net.Conn)) {
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
		if *quickAck {
			c = withQuickAck(c)
		}
		go handle(c)
	}
}

// holdOpen is the tarpit: it never writes, reads and discards until the
// client goes away or the idle limit passes.
func holdOpen(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(*idle))
	io.Copy(io.Discard, c)
}

// session speaks SMTP on c. tlsConf non-nil means STARTTLS is offered.
func session(c net.Conn, tlsConf *tls.Config, offerStartTLS bool) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 4096)
	w := bufio.NewWriterSize(c, 4096)
	reply := func(s string) bool {
		c.SetDeadline(time.Now().Add(*idle))
		w.WriteString(s)
		return w.Flush() == nil
	}
	readLine := func() (string, bool) {
		c.SetDeadline(time.Now().Add(*idle))
		line, err := r.ReadString('\n')
		if err != nil {
			return "", false
		}
		return strings.TrimRight(line, "\r\n"), true
	}
	if !reply("220 localhost ESMTP benchserver\r\n") {
		return
	}
	inTLS := !offerStartTLS && tlsConf == nil // implicit TLS listener
	for {
		line, ok := readLine()
		if !ok {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "LHLO":
			var b strings.Builder
			b.WriteString("250-localhost greets you\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n")
			if offerStartTLS && !inTLS {
				b.WriteString("250-STARTTLS\r\n")
			}
			b.WriteString("250-AUTH PLAIN LOGIN\r\n250 SMTPUTF8\r\n")
			if !reply(b.String()) {
				return
			}
		case "HELO":
			if !reply("250 localhost\r\n") {
				return
			}
		case "STARTTLS":
			if !offerStartTLS || inTLS {
				if !reply("502 5.5.1 STARTTLS not available\r\n") {
					return
				}
				continue
			}
			if !reply("220 2.0.0 Ready to start TLS\r\n") {
				return
			}
			tc := tls.Server(c, tlsConf)
			tc.SetDeadline(time.Now().Add(*idle))
			if err := tc.Handshake(); err != nil {
				return
			}
			c, inTLS = tc, true
			r.Reset(c)
			w.Reset(c)
		case "AUTH":
			if !auth(arg, reply, readLine) {
				return
			}
		case "MAIL":
			if *mailDelay > 0 {
				preciseSleep(*mailDelay)
			}
			if !reply("250 2.1.0 Ok\r\n") {
				return
			}
		case "RCPT":
			if !reply("250 2.1.5 Ok\r\n") {
				return
			}
		case "DATA":
			if !reply("354 End data with <CR><LF>.<CR><LF>\r\n") {
				return
			}
			for {
				l, ok := readLine()
				if !ok {
					return
				}
				if l == "." {
					break
				}
			}
			if !reply("250 2.0.0 Ok: queued\r\n") {
				return
			}
		case "RSET":
			if !reply("250 2.0.0 Ok\r\n") {
				return
			}
		case "NOOP":
			if !reply("250 2.0.0 Ok\r\n") {
				return
			}
		case "VRFY":
			if !reply("252 2.0.0 Cannot VRFY user\r\n") {
				return
			}
		case "QUIT":
			reply("221 2.0.0 Bye\r\n")
			return
		default:
			if !reply("500 5.5.2 Error: command not recognized\r\n") {
				return
			}
		}
	}
}

// preciseSleep waits d to within microseconds: time.Sleep overshoots by up
// to a millisecond on a busy VM, which would blur the accuracy measurement,
// so the last 2 ms are spun on the monotonic clock.
func preciseSleep(d time.Duration) {
	deadline := time.Now().Add(d)
	if d > 2*time.Millisecond {
		time.Sleep(d - 2*time.Millisecond)
	}
	for time.Now().Before(deadline) {
	}
}

// auth handles AUTH PLAIN and AUTH LOGIN, with or without an initial response.
// It reports false when the connection should be dropped.
func auth(arg string, reply func(string) bool, readLine func() (string, bool)) bool {
	mech, initial, hasInitial := strings.Cut(arg, " ")
	next := func(prompt string) (string, bool) {
		if !reply("334 " + prompt + "\r\n") {
			return "", false
		}
		return readLine()
	}
	decode := func(s string) (string, bool) {
		if s == "*" {
			return "", false
		}
		b, err := base64.StdEncoding.DecodeString(s)
		return string(b), err == nil
	}
	var user, pass string
	switch strings.ToUpper(mech) {
	case "PLAIN":
		if !hasInitial {
			var ok bool
			if initial, ok = next(""); !ok {
				return false
			}
		}
		msg, ok := decode(initial)
		parts := strings.Split(msg, "\x00")
		if !ok || len(parts) != 3 {
			return reply("501 5.5.2 Cannot decode response\r\n")
		}
		user, pass = parts[1], parts[2]
	case "LOGIN":
		if !hasInitial {
			var ok bool
			if initial, ok = next("VXNlcm5hbWU6"); !ok {
				return false
			}
		}
		u, ok := decode(initial)
		if !ok {
			return reply("501 5.5.2 Cannot decode response\r\n")
		}
		p64, ok := next("UGFzc3dvcmQ6")
		if !ok {
			return false
		}
		p, ok := decode(p64)
		if !ok {
			return reply("501 5.5.2 Cannot decode response\r\n")
		}
		user, pass = u, p
	default:
		return reply("504 5.5.4 Unrecognized authentication type\r\n")
	}
	if user == benchUser && pass == benchPass {
		return reply("235 2.7.0 Authentication successful\r\n")
	}
	return reply("535 5.7.8 Authentication credentials invalid\r\n")
}

// makeTLS makes a CA and a server certificate signed by it, writes the CA
// certificate to caPath and returns the server's TLS configuration.
func makeTLS(caPath string) (*tls.Config, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "benchserver CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(90 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(60 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	pemCA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	if err := os.WriteFile(caPath, pemCA, 0o644); err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS12,
	}, nil
}
