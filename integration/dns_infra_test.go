package integration

// Tests of the DNS / DNSSEC / HTTPS / port-25 MX infrastructure that dns.sh
// starts (see the table at the top of dns.sh), checked with tools that share
// no code with check-smtp: dig, curl, openssl s_client and Postfix's
// posttls-finger. If these pass, a domain-mode or DANE test that fails
// points at check-smtp, not at the stage it runs on.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// requireDNS skips (or fails, with CHECK_SMTP_IT_REQUIRE=1) when dns.sh did not start.
func requireDNS(t *testing.T) {
	t.Helper()
	requireServer(t, "DNS")
}

// tool runs an outside program with a guard against a hang (not a timing
// assertion) and returns its combined output and exit code.
func tool(t *testing.T, stdin string, env []string, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode()
	default:
		t.Fatalf("%s %s: %v", name, shellQuote(args), err)
		return "", -1
	}
}

// digResult is one dig answer: status, header flags, EDE text and the answer section.
type digResult struct {
	status string
	flags  []string
	ede    string
	answer []digRR
	raw    string
}

type digRR struct{ name, typ, data string }

func (r digResult) has(flag string) bool { return slices.Contains(r.flags, flag) }

// data returns the rdata of the answer records of type typ.
func (r digResult) data(typ string) []string {
	var out []string
	for _, rr := range r.answer {
		if rr.typ == typ {
			out = append(out, rr.data)
		}
	}
	return out
}

var (
	digStatus = regexp.MustCompile(`status: ([A-Z]+)`)
	digFlags  = regexp.MustCompile(`;; flags:([^;]*);`)
	digEDE    = regexp.MustCompile(`; EDE: (.*)`)
)

// dig queries server for name/typ with the DO bit; +nosplit keeps TLSA hex in one piece.
func dig(t *testing.T, server, name, typ string, extra ...string) digResult {
	t.Helper()
	args := append([]string{"@" + server, "-p", srv["DNS_PORT"], "+dnssec", "+nosplit", "+time=5", "+tries=1", name, typ}, extra...)
	out, code := tool(t, "", nil, "dig", args...)
	if code != 0 {
		t.Fatalf("dig %s: exit %d\n%s", shellQuote(args), code, out)
	}
	r := digResult{raw: out}
	if m := digStatus.FindStringSubmatch(out); m != nil {
		r.status = m[1]
	}
	if m := digFlags.FindStringSubmatch(out); m != nil {
		r.flags = strings.Fields(m[1])
	}
	if m := digEDE.FindStringSubmatch(out); m != nil {
		r.ede = m[1]
	}
	inAnswer := false
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, ";; ANSWER SECTION:"):
			inAnswer = true
		case line == "" || strings.HasPrefix(line, ";"):
			if line == "" {
				inAnswer = false
			}
		case inAnswer:
			f := strings.Fields(line)
			if len(f) >= 5 {
				r.answer = append(r.answer, digRR{name: f[0], typ: f[3], data: strings.Join(f[4:], " ")})
			}
		}
	}
	if r.status == "" {
		t.Fatalf("dig %s: no status in\n%s", shellQuote(args), out)
	}
	return r
}

// normTLSA lower-cases a TLSA rdata ("3 1 1 ABCD" -> "3 1 1 abcd").
func normTLSA(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

func TestDNSInfraAuthoritative(t *testing.T) {
	requireDNS(t)
	auth := srv["DNS_AUTH"]
	r := dig(t, auth, "good.test.", "MX", "+norecurse")
	if r.status != "NOERROR" || !r.has("aa") || len(r.data("MX")) != 2 {
		t.Errorf("nsd for good.test MX: want NOERROR, aa, 2 MX\n%s", r.raw)
	}
	// Served signed: DNSKEY with its RRSIG.
	r = dig(t, auth, "dane-ok.test.", "DNSKEY", "+norecurse")
	if r.status != "NOERROR" || len(r.data("DNSKEY")) == 0 || len(r.data("RRSIG")) == 0 {
		t.Errorf("nsd for dane-ok.test DNSKEY: want DNSKEY and RRSIG\n%s", r.raw)
	}
	// Authoritative, not a resolver: nothing outside its zones.
	r = dig(t, auth, "example.com.", "A", "+norecurse")
	if r.status != "REFUSED" {
		t.Errorf("nsd for example.com: want REFUSED\n%s", r.raw)
	}
}

func TestDNSInfraValidation(t *testing.T) {
	requireDNS(t)
	res := srv["DNS_RESOLVER"]
	for _, z := range strings.Fields(srv["DNS_SIGNED_ZONES"]) {
		r := dig(t, res, z+".", "SOA")
		if r.status != "NOERROR" || !r.has("ad") {
			t.Errorf("signed zone %s SOA: want NOERROR with ad\n%s", z, r.raw)
		}
	}
	for _, z := range strings.Fields(srv["DNS_UNSIGNED_ZONES"]) {
		r := dig(t, res, z+".", "SOA")
		if r.status != "NOERROR" || r.has("ad") {
			t.Errorf("unsigned zone %s SOA: want NOERROR without ad (insecure, not bogus)\n%s", z, r.raw)
		}
	}

	type q struct {
		name, typ string
		status    string
		ad        bool
		check     func(r digResult) string // "" when fine
	}
	count := func(typ string, n int) func(digResult) string {
		return func(r digResult) string {
			if got := len(r.data(typ)); got != n {
				return fmt.Sprintf("%d %s records, want %d", got, typ, n)
			}
			return ""
		}
	}
	tlsa := func(want ...string) func(digResult) string {
		return func(r digResult) string {
			var got []string
			for _, d := range r.data("TLSA") {
				got = append(got, normTLSA(d))
			}
			var w []string
			for _, x := range want {
				w = append(w, normTLSA(x))
			}
			slices.Sort(got)
			slices.Sort(w)
			if !slices.Equal(got, w) {
				return fmt.Sprintf("TLSA %q, want %q", got, w)
			}
			return ""
		}
	}
	equals := func(typ string, want ...string) func(digResult) string {
		return func(r digResult) string {
			got := r.data(typ)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				return fmt.Sprintf("%s %q, want %q", typ, got, want)
			}
			return ""
		}
	}
	served := func(host string) string { return srv["DNS_TLSA_"+envKey(host)] }
	cases := []q{
		{"dane-ok.test.", "MX", "NOERROR", true, equals("MX", "10 mx.dane-ok.test.")},
		{"mx.dane-ok.test.", "A", "NOERROR", true, equals("A", srv["DNS_ADDR_MX_DANE_OK_TEST"])},
		{"_25._tcp.mx.dane-ok.test.", "TLSA", "NOERROR", true, tlsa(served("mx.dane-ok.test"))},
		{"_25._tcp.mx.dane-bad.test.", "TLSA", "NOERROR", true, tlsa(srv["DNS_TLSA_RETIRED"])},
		{"_25._tcp.mx.dane-roll.test.", "TLSA", "NOERROR", true, tlsa(srv["DNS_TLSA_RETIRED"], served("mx.dane-roll.test"))},
		{"_25._tcp.mx.dane-ta.test.", "TLSA", "NOERROR", true, tlsa(srv["DNS_TLSA_CA"])},
		{"_25._tcp.mx.dane-expired.test.", "TLSA", "NOERROR", true, tlsa(served("mx.dane-expired.test"))},
		{"_25._tcp.mx.dane-none.test.", "TLSA", "NXDOMAIN", true, count("TLSA", 0)}, // secure NXDOMAIN
		{"dane-bogus.test.", "MX", "NOERROR", true, count("MX", 1)},
		{"_25._tcp.mx.dane-bogus.test.", "TLSA", "SERVFAIL", false, nil},
		{"broken.test.", "MX", "SERVFAIL", false, nil},
		{"mx.broken.test.", "A", "NOERROR", true, nil}, // only the MX RRSIG is broken
		{"good.test.", "MX", "NOERROR", false, equals("MX", "10 mx1.good.test.", "20 mx2.good.test.")},
		{"_mta-sts.good.test.", "TXT", "NOERROR", false, count("TXT", 1)},
		{"_smtp._tls.good.test.", "TXT", "NOERROR", false, count("TXT", 1)},
		{"_mta-sts.sts-twotxt.test.", "TXT", "NOERROR", false, count("TXT", 2)},
		{"mta-sts.good.test.", "A", "NOERROR", false, equals("A", srv["DNS_HTTPS"])},
		{"insecure-mx.test.", "MX", "NOERROR", false, equals("MX", "10 mx.dane-ok.test.")},
		{"nullmx.test.", "MX", "NOERROR", false, equals("MX", "0 .")},
		{"nomx.test.", "MX", "NOERROR", false, count("MX", 0)},
		{"nomx.test.", "A", "NOERROR", false, equals("A", srv["DNS_ADDR_NOMX_TEST"])},
		{"ipmx.test.", "MX", "NOERROR", false, equals("MX", "10 "+srv["DNS_ADDR_MX1_GOOD_TEST"]+".")},
		{"mx.cnamemx.test.", "A", "NOERROR", false, equals("CNAME", "mx1.good.test.")},
		{"manymx.test.", "MX", "NOERROR", false, count("MX", 120)}, // dig retried over TCP
		{"xn--bcher-kva.test.", "MX", "NOERROR", false, count("MX", 1)},
		{srv["DNS_NXDOMAIN"] + ".", "MX", "NXDOMAIN", false, nil},
		{"example.com.", "A", "REFUSED", false, nil}, // nothing outside .test
		{"_mta-sts.bigtxt.test.", "TXT", "NOERROR", false, func(r digResult) string {
			d := r.data("TXT")
			if len(d) != 1 {
				return fmt.Sprintf("%d TXT records, want 1", len(d))
			}
			// The concatenated strings, without the quotes and separators dig adds.
			n := len(strings.NewReplacer(`" "`, "", `"`, "").Replace(d[0]))
			if n <= 4096 {
				return fmt.Sprintf("TXT is %d bytes, want more than 4096", n)
			}
			return ""
		}},
	}
	for _, c := range cases {
		t.Run(c.name+"/"+c.typ, func(t *testing.T) {
			r := dig(t, res, c.name, c.typ)
			if r.status != c.status {
				t.Errorf("status %s, want %s\n%s", r.status, c.status, r.raw)
			}
			if r.has("ad") != c.ad {
				t.Errorf("ad flag %v, want %v\n%s", r.has("ad"), c.ad, r.raw)
			}
			if c.check != nil {
				if msg := c.check(r); msg != "" {
					t.Errorf("%s\n%s", msg, r.raw)
				}
			}
			if c.status == "SERVFAIL" && !strings.Contains(r.ede, "DNSSEC Bogus") {
				t.Errorf("SERVFAIL without the EDE 'DNSSEC Bogus' (not a validation failure?)\n%s", r.raw)
			}
		})
	}

	// The large answers really are over the UDP limit: truncated without TCP.
	for _, c := range [][2]string{{"manymx.test.", "MX"}, {"_mta-sts.bigtxt.test.", "TXT"}} {
		r := dig(t, res, c[0], c[1], "+ignore", "+notcp")
		if !r.has("tc") {
			t.Errorf("%s %s over UDP: want the tc flag\n%s", c[0], c[1], r.raw)
		}
	}
}

// envKey mirrors dns.sh's envkey: mx.dane-ok.test -> MX_DANE_OK_TEST.
func envKey(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, name)
}

// The resolver's infrastructure cache lists every server it has sent a query
// to: after queries for test names and for a name outside .test, that must
// be nsd's address only.
func TestDNSInfraResolverStaysOnLoopback(t *testing.T) {
	requireDNS(t)
	res := srv["DNS_RESOLVER"]
	for _, n := range []string{"good.test.", "dane-ok.test.", "example.com.", "com.", "."} {
		dig(t, res, n, "NS")
	}
	out, code := tool(t, "", nil, "unbound-control", "-c", srv["DNS_UNBOUND_CONF"], "dump_infra")
	if code != 0 {
		t.Fatalf("unbound-control dump_infra: exit %d\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || lines[0] == "" {
		t.Fatalf("unbound-control dump_infra: empty (no query reached nsd?)")
	}
	for _, l := range lines {
		if f := strings.Fields(l); len(f) == 0 || f[0] != srv["DNS_AUTH"] {
			t.Errorf("the resolver contacted a server other than %s: %q", srv["DNS_AUTH"], l)
		}
	}
}

type mxHost struct{ name, addr, server string }

// mxHosts reads the MX hosts from testdata/dns/hosts.tsv with their addresses from env.
func mxHosts(t *testing.T) []mxHost {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "dns", "hosts.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	var hs []mxHost
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || strings.HasPrefix(f[0], "#") {
			continue
		}
		h := mxHost{name: f[1], addr: srv["DNS_ADDR_"+envKey(f[1])], server: srv["DNS_SERVER_"+envKey(f[1])]}
		// dns.sh moves 127.0.20.x to 127.0.DNS_NET.x when 127.0.20.x is taken.
		want := strings.Replace(f[0], "127.0.20.", "127.0."+srv["DNS_NET"]+".", 1)
		if h.addr != want || h.server != f[2] {
			t.Fatalf("env has %s at %q (%q), hosts.tsv says %s (%s)", h.name, h.addr, h.server, want, f[2])
		}
		hs = append(hs, h)
	}
	if len(hs) < 10 {
		t.Fatalf("only %d MX hosts in hosts.tsv", len(hs))
	}
	return hs
}

// ehlo connects to addr:25, reads the banner, sends EHLO and QUIT.
func ehlo(addr string) (banner string, ext []string, err error) {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, "25"), 10*time.Second)
	if err != nil {
		return "", nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	tp := textproto.NewConn(c)
	if _, banner, err = tp.ReadResponse(220); err != nil {
		return banner, nil, err
	}
	id, err := tp.Cmd("EHLO dns-infra-test.invalid")
	if err != nil {
		return banner, nil, err
	}
	tp.StartResponse(id)
	_, msg, err := tp.ReadResponse(250)
	tp.EndResponse(id)
	if err != nil {
		return banner, nil, err
	}
	_, _ = tp.Cmd("QUIT")
	return banner, strings.Split(msg, "\n"), nil
}

func TestDNSInfraMXHosts(t *testing.T) {
	requireDNS(t)
	for _, h := range mxHosts(t) {
		t.Run(h.name, func(t *testing.T) {
			banner, ext, err := ehlo(h.addr)
			if h.server == "down" {
				var oe *net.OpError
				if err == nil || !errors.As(err, &oe) || oe.Op != "dial" {
					t.Fatalf("%s (%s) should be down (connection refused), got banner %q err %v", h.name, h.addr, banner, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s (%s): %v (banner %q)", h.name, h.addr, err, banner)
			}
			if !strings.HasPrefix(banner, h.name+" ESMTP") {
				t.Errorf("banner %q does not start with %q", banner, h.name+" ESMTP")
			}
			starttls := slices.ContainsFunc(ext, func(s string) bool { return strings.EqualFold(strings.TrimSpace(s), "STARTTLS") })
			if want := h.server != "postfix-notls"; starttls != want {
				t.Errorf("STARTTLS offered %v, want %v (EHLO: %q)", starttls, want, ext)
			}
			if !starttls {
				return
			}
			// PKIX verdict of openssl for the MX name with the test CA.
			out, _ := tool(t, "", nil, "openssl", "s_client", "-brief", "-starttls", "smtp",
				"-connect", h.addr+":25", "-servername", h.name, "-verify_hostname", h.name, "-CAfile", srv["DNS_CA"])
			want := "Verification: OK"
			switch h.name {
			case "mx.wrongname.test":
				want = "Verification error: hostname mismatch"
			case "mx.dane-expired.test":
				want = "Verification error: certificate has expired"
			}
			if !strings.Contains(out, want) {
				t.Errorf("openssl s_client: want %q\n%s", want, out)
			}
		})
	}
}

func TestDNSInfraMTASTSPolicies(t *testing.T) {
	requireDNS(t)
	type policy struct {
		domain   string
		code     int
		ctype    string
		body     string // prefix of the body, "" for any
		minSize  int
		redirect string
		curlExit int
	}
	const enforceGood = "version: STSv1\nmode: enforce\nmx: mx1.good.test\n"
	cases := []policy{
		{domain: "good.test", code: 200, ctype: "text/plain", body: "version: STSv1\nmode: enforce\nmx: *.good.test\n"},
		{domain: "wrongname.test", code: 200, ctype: "text/plain", body: "version: STSv1\nmode: enforce\nmx: mx.wrongname.test\n"},
		{domain: "nostarttls-sts.test", code: 200, ctype: "text/plain", body: "version: STSv1\nmode: enforce\nmx: mx.nostarttls.test\n"},
		{domain: "notcovered.test", code: 200, ctype: "text/plain", body: "version: STSv1\r\nmode: enforce\r\nmx: mx1.notcovered.test\r\n"},
		{domain: "sts-testing.test", code: 200, ctype: "text/plain", body: "version: STSv1\nmode: testing\n"},
		{domain: "sts-none.test", code: 200, ctype: "text/plain", body: "version: STSv1\nmode: none\n"},
		{domain: "sts-short.test", code: 200, ctype: "text/plain", body: enforceGood + "max_age: 3600\n"},
		{domain: "sts-twotxt.test", code: 200, ctype: "text/plain", body: enforceGood},
		{domain: "sts-ctype.test", code: 200, ctype: "text/html", body: enforceGood},
		{domain: "sts-big.test", code: 200, ctype: "text/plain", body: enforceGood, minSize: 64*1024 + 1},
		{domain: "sts-404.test", code: 404},
		{domain: "sts-redirect.test", code: 301, redirect: "https://mta-sts.good.test/.well-known/mta-sts.txt"},
		{domain: "sts-badcert.test", curlExit: 60}, // certificate for default.invalid
	}
	for _, c := range cases {
		t.Run(c.domain, func(t *testing.T) {
			host := "mta-sts." + c.domain
			// The policy host as senders find it: through the resolver.
			a := dig(t, srv["DNS_RESOLVER"], host+".", "A").data("A")
			if len(a) != 1 || a[0] != srv["DNS_HTTPS"] {
				t.Fatalf("%s A = %q, want %s", host, a, srv["DNS_HTTPS"])
			}
			bodyFile := filepath.Join(t.TempDir(), "body")
			out, code := tool(t, "", nil, "curl", "-sS", "--max-time", "20", "-o", bodyFile,
				"-w", "%{http_code}\n%{content_type}\n%{size_download}\n%{redirect_url}\n",
				"--resolve", host+":443:"+a[0], "--cacert", srv["DNS_CA"], "https://"+host+"/.well-known/mta-sts.txt")
			if code != c.curlExit {
				t.Fatalf("curl exit %d, want %d\n%s", code, c.curlExit, out)
			}
			if c.curlExit != 0 {
				return
			}
			f := strings.Split(out, "\n")
			if len(f) < 4 {
				t.Fatalf("curl -w output %q", out)
			}
			if got, _ := strconv.Atoi(f[0]); got != c.code {
				t.Errorf("HTTP status %s, want %d", f[0], c.code)
			}
			if c.ctype != "" && f[1] != c.ctype {
				t.Errorf("Content-Type %q, want %q", f[1], c.ctype)
			}
			if f[3] != c.redirect {
				t.Errorf("redirect %q, want %q", f[3], c.redirect)
			}
			body, err := os.ReadFile(bodyFile)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(body), c.body) {
				t.Errorf("body starts %q, want %q", tail(string(body[:min(len(body), 120)]), 120), c.body)
			}
			if len(body) < c.minSize {
				t.Errorf("body is %d bytes, want at least %d", len(body), c.minSize)
			}
		})
	}

	// openssl's verdict on the policy host's certificate, by SNI.
	out, _ := tool(t, "", nil, "openssl", "s_client", "-brief", "-connect", srv["DNS_HTTPS"]+":443",
		"-servername", "mta-sts.good.test", "-verify_hostname", "mta-sts.good.test", "-CAfile", srv["DNS_CA"])
	if !strings.Contains(out, "Verification: OK") {
		t.Errorf("openssl s_client mta-sts.good.test: not verified\n%s", out)
	}
	out, _ = tool(t, "", nil, "openssl", "s_client", "-brief", "-connect", srv["DNS_HTTPS"]+":443",
		"-servername", "mta-sts.sts-badcert.test", "-verify_hostname", "mta-sts.sts-badcert.test", "-CAfile", srv["DNS_CA"])
	if !strings.Contains(out, "Verification error: hostname mismatch") {
		t.Errorf("openssl s_client mta-sts.sts-badcert.test: want a hostname mismatch\n%s", out)
	}
}

// DANE verdicts from two independent implementations: openssl s_client with
// the TLSA records the validating resolver returned (AD set), and Postfix's
// posttls-finger doing its own MX, address and TLSA look-ups through that
// resolver.
func TestDNSInfraDANEVerdicts(t *testing.T) {
	requireDNS(t)
	res := srv["DNS_RESOLVER"]
	cases := []struct {
		domain  string
		openssl string // in openssl s_client's output; "" to skip openssl
		finger  []string
	}{
		{"dane-ok.test", "matched EE certificate at depth 0", []string{"Matched DANE EE certificate at depth 0", "Verified TLS connection established"}},
		{"dane-roll.test", "matched EE certificate at depth 0", []string{"Matched DANE EE certificate at depth 0", "Verified TLS connection established"}},
		{"dane-expired.test", "matched EE certificate at depth 0", []string{"Matched DANE EE certificate", "Verified TLS connection established"}},
		{"dane-ta.test", "matched TA certificate", []string{"Matched DANE TA certificate at depth 1", "Verified TLS connection established"}},
		{"dane-bad.test", "no matching DANE TLSA records", []string{"no matching DANE TLSA records", "Untrusted TLS connection established"}},
		{"dane-tawrong.test", "hostname mismatch", []string{"hostname mismatch", "Untrusted TLS connection established"}},
		{"dane-unusable.test", "", []string{"unsupported TLSA certificate usage: 1 1 1", "unsupported TLSA certificate usage: 0 0 1"}},
		{"dane-bogus.test", "", []string{"TLSA lookup error for mx.dane-bogus.test"}},
	}
	for _, c := range cases {
		t.Run(c.domain, func(t *testing.T) {
			mx := "mx." + c.domain
			if c.openssl != "" {
				a := dig(t, res, mx+".", "A")
				r := dig(t, res, "_25._tcp."+mx+".", "TLSA")
				if !a.has("ad") || len(a.data("A")) != 1 || !r.has("ad") || len(r.data("TLSA")) == 0 {
					t.Fatalf("A or TLSA for %s not secure\n%s\n%s", mx, a.raw, r.raw)
				}
				args := []string{"s_client", "-brief", "-starttls", "smtp", "-connect", a.data("A")[0] + ":25",
					"-servername", mx, "-dane_tlsa_domain", mx}
				for _, d := range r.data("TLSA") {
					args = append(args, "-dane_tlsa_rrdata", d)
				}
				// DANE-TA needs the chain to verify up to the TA: openssl must know it.
				args = append(args, "-CAfile", srv["DNS_CA"])
				out, _ := tool(t, "", nil, "openssl", args...)
				if !strings.Contains(out, c.openssl) {
					t.Errorf("openssl %s: want %q\n%s", shellQuote(args), c.openssl, out)
				}
			}
			out := posttlsFinger(t, c.domain)
			for _, w := range c.finger {
				if !strings.Contains(out, w) {
					t.Errorf("posttls-finger -l dane %s: want %q\n%s", c.domain, w, out)
				}
			}
		})
	}
}

// posttlsFinger runs posttls-finger -l dane DOMAIN with the test resolver as
// its only name server: /etc/resolv.conf is replaced by a bind mount in a
// private mount namespace (unshare -m), so the machine's file is untouched.
func posttlsFinger(t *testing.T, domain string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CHECK_SMTP_IT_REQUIRE") == "1" {
			t.Fatal("posttls-finger through a private /etc/resolv.conf needs root")
		}
		t.Skip("posttls-finger through a private /etc/resolv.conf needs root")
	}
	script := `mount --bind "$1" /etc/resolv.conf && exec posttls-finger -c -l dane -t 10 -T 10 "$2"`
	out, code := tool(t, "", []string{"MAIL_CONFIG=" + srv["DNS_POSTFIX_CONFIG"]},
		"unshare", "-m", "sh", "-c", script, "sh", srv["DNS_RESOLV_CONF"], domain)
	if strings.Contains(out, "DNSSEC validation may be unavailable") {
		t.Errorf("posttls-finger does not see the resolver validate\n%s", out)
	}
	if code != 0 && !strings.Contains(out, "Failed to establish session") {
		t.Logf("posttls-finger exit %d", code)
	}
	return out
}
