package smtptest_test

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

// smtpCode is the reply code of a go-smtp client error (0: not a reply).
func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// TestPlainGoSMTP holds the plain backend to what the lib tests rely on:
// AUTH in cleartext for alice, the RCPT rules, the events in order.
func TestPlainGoSMTP(t *testing.T) {
	t.Parallel()
	g := smtptest.StartPlainGoSMTP(t)
	c, err := smtp.Dial("127.0.0.1:" + g.Port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("probe.example.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "alice", "wrong")); smtpCode(err) != 535 {
		t.Errorf("wrong password: %v, want 535", err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "alice", "s3cret")); err != nil {
		t.Errorf("AUTH PLAIN: %v", err)
	}
	if err := c.Mail("mon@example.test", nil); err != nil {
		t.Fatal(err)
	}
	for to, want := range map[string]int{"postmaster@example.test": 0, "nobody@example.test": 550, "someone@elsewhere.test": 554} {
		if err := c.Rcpt(to, nil); smtpCode(err) != want || want == 0 && err != nil {
			t.Errorf("RCPT %s: %v, want %d", to, err, want)
		}
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	want := []string{"auth alice", "mail mon@example.test", "rcpt postmaster@example.test", "rcpt nobody@example.test", "rcpt someone@elsewhere.test"}
	got := g.Backend.WaitEvents(len(want) + 1)
	// The map's order is not the RCPT order: compare the RCPTs as a set.
	if len(got) < len(want)+1 || strings.Join(got[:2], "|") != strings.Join(want[:2], "|") || got[len(got)-1] != "logout" {
		t.Errorf("events %q", got)
	}
	if u := g.Backend.Authenticated(); len(u) != 1 || u[0] != "alice" {
		t.Errorf("Authenticated %q", u)
	}
}

// TestGoSMTPTLS: STARTTLS and implicit TLS with the certificate given, the
// server names recorded, AUTH LOGIN over TLS, the refusal wording.
func TestGoSMTPTLS(t *testing.T) {
	t.Parallel()
	certs := smtptest.NewCerts(t)
	client := &tls.Config{RootCAs: certs.CAPool, ServerName: "localhost"}
	for _, implicit := range []bool{false, true} {
		g := smtptest.StartGoSMTP(t, "127.0.0.1", certs.Valid, implicit)
		dial := smtp.DialStartTLS
		if implicit {
			dial = smtp.DialTLS
		}
		c, err := dial("127.0.0.1:"+g.Port, client)
		if err != nil {
			t.Fatalf("implicit %v: %v", implicit, err)
		}
		err = c.Auth(sasl.NewPlainClient("", "user", "nope"))
		if se := (*smtp.SMTPError)(nil); !errors.As(err, &se) || se.Code != 535 || se.Message != "Authentication credentials invalid" {
			t.Errorf("implicit %v: wrong password: %v", implicit, err)
		}
		if err := c.Auth(sasl.NewLoginClient("user", "secret")); err != nil {
			t.Errorf("implicit %v: AUTH LOGIN: %v", implicit, err)
		}
		if err := c.Mail("", nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt("anyone@anywhere.test", nil); err != nil {
			t.Errorf("implicit %v: RCPT refused, every recipient is accepted: %v", implicit, err)
		}
		c.Quit()
		if names := g.SNI.Names(); len(names) != 1 || names[0] != "localhost" {
			t.Errorf("implicit %v: SNI %q", implicit, names)
		}
		if u := g.Backend.Authenticated(); len(u) != 1 || u[0] != "user" {
			t.Errorf("implicit %v: Authenticated %q", implicit, u)
		}
	}
}

// TestGoSMTPWith: no TLS and no cleartext AUTH means no AUTH offered; an
// empty Local list refuses every recipient.
func TestGoSMTPWith(t *testing.T) {
	t.Parallel()
	g := smtptest.StartGoSMTPWith(t, &smtptest.Backend{User: "u", Password: "p", Local: []string{}}, smtptest.GoSMTPConfig{})
	c, err := smtp.Dial("127.0.0.1:" + g.Port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("x"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("AUTH offered in cleartext")
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS offered without a certificate")
	}
	if err := c.Mail("", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("postmaster@example.test", nil); smtpCode(err) != 554 {
		t.Errorf("RCPT with an empty Local: %v, want 554", err)
	}
}
