package main

import "strconv"

// Tool names the targets refer to.
const (
	floorName     = "floor"
	checkSMTPName = "check-smtp"
	mpName        = "check_smtp (monitoring-plugins)"
	insecureName  = "check-smtp -k"
	cafileName    = "check-smtp --cafile (the root alone)"
	noCacheName   = "check-smtp, no index cache (CHECK_SMTP_TRUST_CACHE=off)"
	// sameConvName holds monitoring-plugins check_smtp's own conversation
	// (greeting, QUIT: no MAIL FROM, no RSET), so that the two are
	// compared doing the same work.
	sameConvName = "check-smtp --quit-after ehlo (check_smtp's conversation)"
)

// singleServerScenarios are the scenarios against one server: plain SMTP,
// the TLS conversations without verification (-k) against a floor that does
// not verify either, and verified STARTTLS against the system store.
func (r *runner) singleServerScenarios(env *environment) []scenario {
	port := strconv.Itoa
	cs := func(a ...string) []string { return append([]string{r.cfg.checkSMTP, "-H", "127.0.0.1"}, a...) }
	fl := func(a ...string) []string { return append([]string{r.cfg.floor}, a...) }
	mp := func(name, why string, a ...string) tool {
		t := tool{name: name}
		switch {
		case r.cfg.mpCheck == "":
			t.na = "not installed"
		case why != "":
			t.na = why
		default:
			t.argv = append([]string{r.cfg.mpCheck, "-H", "127.0.0.1"}, a...)
		}
		return t
	}
	sslNA := "no implicit TLS (--ssl) in this version"
	if env.mpHasSSL {
		sslNA = ""
	}
	f, slow, le := env.fast, env.slowAck, env.le
	return []scenario{
		{name: "plain", tools: []tool{
			{name: floorName, argv: fl("plain", port(f.plain))},
			{name: checkSMTPName, argv: cs("-p", port(f.plain))},
			mp(mpName, "", "-p", port(f.plain)),
			{name: sameConvName, argv: cs("-p", port(f.plain), "--quit-after", "ehlo")},
		}},
		{name: "STARTTLS -k", about: "No certificate verification: check-smtp with -k, the floor without a root file (it skips verification too); monitoring-plugins check_smtp never verifies.", tools: []tool{
			{name: floorName, argv: fl("starttls", port(f.plain))},
			{name: checkSMTPName, argv: cs("-p", port(f.plain), "-S", "-k")},
			mp(mpName, "", "-p", port(f.plain), "-S"),
			{name: "check-smtp, server without quick ACK", argv: cs("-p", port(slow.plain), "-S", "-k")},
			mp("check_smtp, server without quick ACK", "", "-p", port(slow.plain), "-S"),
		}},
		{name: "STARTTLS + AUTH -k", tools: []tool{
			{name: floorName, argv: fl("auth", port(f.plain))},
			{name: checkSMTPName, argv: cs("-p", port(f.plain), "-S", "-k", "-A", "PLAIN", "-U", "user", "-P", "pass")},
			mp(mpName, "", "-p", port(f.plain), "-S", "-A", "LOGIN", "-U", "user", "-P", "pass"),
		}},
		{name: "implicit TLS -k", tools: []tool{
			{name: floorName, argv: fl("smtps", port(f.smtps))},
			{name: checkSMTPName, argv: cs("-s", "-k", "-p", port(f.smtps))},
			mp(mpName, sslNA, "-p", port(f.smtps), "--ssl"),
		}},
		{name: "verified STARTTLS", about: "The server presents a chain shaped like Let's Encrypt's ECDSA one (P-256 leaf, P-384 intermediate; the RSA-4096 root is not sent). The floor verifies it against a pool holding only that root; check-smtp, without -k or --cafile, against the system trust store: SSL_CERT_FILE is a copy of the machine's bundle with the root appended, SSL_CERT_DIR is unset (so /etc/ssl/certs is read too, as crypto/x509 reads it). check-smtp keeps the store's index between runs (warm after the first run; CHECK_SMTP_TRUST_CACHE is a directory of the run's); the same check with the index off (reading the whole store every run), check-smtp -k and check-smtp --cafile with the root alone are measured in the same rounds.", tools: []tool{
			{name: floorName, argv: fl("starttls", port(le.plain), le.root)},
			{name: checkSMTPName, argv: cs("-p", port(le.plain), "-S"), env: []string{"SSL_CERT_FILE=" + env.bundle}},
			{name: noCacheName, argv: cs("-p", port(le.plain), "-S"), env: []string{"SSL_CERT_FILE=" + env.bundle, "CHECK_SMTP_TRUST_CACHE=off"}},
			{name: insecureName, argv: cs("-p", port(le.plain), "-S", "-k")},
			{name: cafileName, argv: cs("-p", port(le.plain), "-S", "--cafile", le.root)},
			mp(mpName, "", "-p", port(le.plain), "-S"),
		}},
	}
}
