// Command floor is the smallest client that holds the same SMTP conversation
// as check-smtp: connect, banner, EHLO, [STARTTLS, EHLO], [AUTH PLAIN], MAIL,
// RSET, QUIT. It verifies the server certificate against a CA file, as
// check-smtp does with --cafile, prints nothing, and exits 0 on success, 1 on
// any failure.
//
//	floor plain|starttls|auth|smtps PORT CAFILE
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"time"
)

var (
	conn net.Conn
	r    *bufio.Reader
)

func main() {
	if len(os.Args) < 3 {
		os.Exit(2)
	}
	mode, port := os.Args[1], os.Args[2]
	var conf *tls.Config
	if mode != "plain" {
		pem, err := os.ReadFile(os.Args[3])
		if err != nil {
			os.Exit(1)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			os.Exit(1)
		}
		conf = &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
	}
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 10*time.Second)
	if err != nil {
		os.Exit(1)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	conn = c
	if mode == "smtps" {
		tc := tls.Client(c, conf)
		if tc.Handshake() != nil {
			os.Exit(1)
		}
		conn = tc
	}
	r = bufio.NewReader(conn)
	expect('2') // banner
	cmd("EHLO floor\r\n", '2')
	if mode == "starttls" || mode == "auth" {
		cmd("STARTTLS\r\n", '2')
		tc := tls.Client(c, conf)
		if tc.Handshake() != nil {
			os.Exit(1)
		}
		conn = tc
		r = bufio.NewReader(conn)
		cmd("EHLO floor\r\n", '2')
	}
	if mode == "auth" {
		cmd("AUTH PLAIN AHVzZXIAcGFzcw==\r\n", '2') // \0user\0pass
	}
	cmd("MAIL FROM:<>\r\n", '2')
	cmd("RSET\r\n", '2')
	cmd("QUIT\r\n", '2')
	conn.Close()
}

func cmd(s string, want byte) {
	if _, err := conn.Write([]byte(s)); err != nil {
		os.Exit(1)
	}
	expect(want)
}

// expect reads one reply, all its lines, and checks the first digit.
func expect(want byte) {
	for {
		line, err := r.ReadString('\n')
		if err != nil || len(line) < 4 || line[0] != want {
			os.Exit(1)
		}
		if line[3] != '-' {
			return
		}
	}
}
