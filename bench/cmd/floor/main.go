// Command floor is the smallest client that holds the same SMTP conversation
// as check-smtp (bench/internal/floor): connect, banner, EHLO, [STARTTLS,
// EHLO], [AUTH PLAIN], MAIL, RSET, QUIT. Given ROOTFILE, it verifies the
// server certificate, for the name 127.0.0.1, against a pool holding only
// the certificates of ROOTFILE (the chain's root: the physical limit of
// verification); without, it does not verify (the floor of check-smtp -k).
// It prints nothing, and exits 0 on success, 1 on any failure.
//
//	floor plain|starttls|auth|smtps PORT [ROOTFILE]
package main

import (
	"crypto/x509"
	"os"
	"time"

	"github.com/check-smtp/check-smtp/bench/internal/floor"
)

func main() {
	if len(os.Args) < 3 {
		os.Exit(2)
	}
	mode, ok := floor.ParseMode(os.Args[1])
	if !ok {
		os.Exit(2)
	}
	cfg := floor.Config{Addr: "127.0.0.1:" + os.Args[2], Mode: mode, ServerName: "127.0.0.1", Timeout: 10 * time.Second}
	if mode != floor.Plain && len(os.Args) > 3 {
		pem, err := os.ReadFile(os.Args[3])
		if err != nil {
			os.Exit(1)
		}
		cfg.Roots = x509.NewCertPool()
		if !cfg.Roots.AppendCertsFromPEM(pem) {
			os.Exit(1)
		}
	}
	if _, err := floor.Run(cfg); err != nil {
		os.Exit(1)
	}
}
