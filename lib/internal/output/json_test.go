package output

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/probe"
	"github.com/check-smtp/check-smtp/lib/internal/report"
	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
	"github.com/check-smtp/check-smtp/lib/internal/text"
	"github.com/check-smtp/check-smtp/lib/internal/tlsverify"
	"github.com/check-smtp/check-smtp/lib/internal/wire"
)

// --- reports built by hand -------------------------------------------------

// fixedNow is the time of every hand-built report.
var fixedNow = time.Date(2026, 12, 2, 9, 30, 0, 0, time.UTC)

func cert(cn, issuer string, sans []string, notBefore, notAfter time.Time) *x509.Certificate {
	c := &x509.Certificate{Subject: pkix.Name{CommonName: cn}, Issuer: pkix.Name{CommonName: issuer},
		NotBefore: notBefore, NotAfter: notAfter}
	for _, s := range sans {
		if ip := net.ParseIP(s); ip != nil {
			c.IPAddresses = append(c.IPAddresses, ip)
		} else {
			c.DNSNames = append(c.DNSNames, s)
		}
	}
	return c
}

func reply(code int, lines ...string) *wire.Reply { return &wire.Reply{Code: code, Lines: lines} }

func ms(n float64) time.Duration { return time.Duration(math.Round(n*1000)) * time.Microsecond }

func ptr[T any](v T) *T { return &v }

// exampleDomainReport is domain mode with every field the JSON schema has:
// two MX hosts, three addresses (one failing at RCPT, one whose certificate
// does not verify), MTA-STS, TLSRPT, DANE.
func exampleDomainReport() *report.Report {
	started := fixedNow
	chain := func(host string) []*x509.Certificate {
		return []*x509.Certificate{
			cert(host, "R3", []string{host}, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)),
			cert("R3", "ISRG Root X1", nil, time.Date(2024, 3, 13, 0, 0, 0, 0, time.UTC), time.Date(2027, 3, 12, 23, 59, 59, 0, time.UTC)),
		}
	}
	okSteps := func(host string) []probe.Timing {
		return []probe.Timing{
			{Step: probe.StepConnect, Duration: ms(0.3)},
			{Step: probe.StepBanner, Duration: ms(0.2), Reply: reply(220, host+" ESMTP")},
			{Step: probe.StepEHLO, Duration: ms(0.5), Reply: reply(250, host, "PIPELINING", "SIZE 10240000", "8BITMIME")},
			{Step: probe.StepSTARTTLS, Duration: ms(0.1), Reply: reply(220, "2.0.0 Ready to start TLS")},
			{Step: probe.StepTLS, Duration: ms(4.1)},
			{Step: probe.StepMail, Duration: ms(0.2), Reply: reply(250, "2.1.0 Ok")},
			{Step: probe.StepRcpt, Duration: ms(0.4), Reply: reply(250, "2.1.5 Ok")},
			{Step: probe.StepRSET, Duration: ms(0.1), Reply: reply(250, "2.0.0 Ok")},
			{Step: probe.StepQuit, Duration: ms(0.1), Reply: reply(221, "2.0.0 Bye")},
		}
	}
	tlsState := func(host string, verified bool, verr error) *probe.TLSState {
		return &probe.TLSState{Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256", Chain: chain(host), Verified: verified, VerifyError: verr}
	}
	total := func(ts []probe.Timing) time.Duration {
		var d time.Duration
		for _, t := range ts {
			d += t.Duration
		}
		return d
	}

	s1 := okSteps("mx1.example.org")
	r1 := &probe.Result{Target: probe.Target{Host: "192.0.2.1", Port: 25, Network: "tcp"}, Peer: net.ParseIP("192.0.2.1"),
		Started: started, Steps: s1, Total: total(s1), Banner: s1[1].Reply, Greeting: s1[2].Reply,
		STARTTLSOffered: true, TLS: tlsState("mx1.example.org", true, nil), Quit: s1[8].Reply}

	s2 := okSteps("mx1.example.org")[:7]
	s2[6].Reply = reply(550, "5.1.1 <postmaster@example.org>: Recipient address rejected:", "User unknown in local recipient table")
	r2 := &probe.Result{Target: probe.Target{Host: "2001:db8::1", Port: 25, Network: "tcp"}, Peer: net.ParseIP("2001:db8::1"),
		Started: started, Steps: s2, Total: total(s2), Banner: s2[1].Reply, Greeting: s2[2].Reply,
		STARTTLSOffered: true, TLS: tlsState("mx1.example.org", true, nil),
		Failure: &probe.Failure{Step: probe.StepRcpt, Kind: probe.KindRefused,
			Message: probe.Message{{Text: "RCPT TO:<postmaster@example.org> rejected at step rcpt: "}, {Text: s2[6].Reply.OneLine(), Server: true}}}}

	s3 := okSteps("mx2.example.org")
	verr := &tlsverify.Error{Reason: tlsverify.NameMismatch, Text: "certificate is valid for mail.example.net, not mx2.example.org (use --sni=NAME or -k)"}
	t3 := tlsState("mx2.example.org", false, verr)
	t3.Chain[0] = cert("mail.example.net", "R3", []string{"mail.example.net"}, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC))
	r3 := &probe.Result{Target: probe.Target{Host: "198.51.100.7", Port: 25, Network: "tcp"}, Peer: net.ParseIP("198.51.100.7"),
		Started: started, Steps: s3, Total: total(s3), Banner: s3[1].Reply, Greeting: s3[2].Reply,
		STARTTLSOffered: true, TLS: t3, Quit: s3[8].Reply}

	covered := true
	notCovered := false
	return &report.Report{
		Status:  checkers.WARNING,
		Message: "example.org: mx1.example.org 2001:db8::1 CRITICAL: RCPT TO:<postmaster@example.org> rejected at step rcpt: 550-5.1.1 ... (mail still delivered: 2 of 3 MX addresses OK), mx2.example.org 198.51.100.7: certificate is valid for mail.example.net, not mx2.example.org, MTA-STS testing, DANE 1 of 2 hosts, TLSRPT",
		Findings: []report.Finding{
			{Status: checkers.WARNING, Text: "1 of 3 MX addresses failed, mail is still delivered: mx1.example.org 2001:db8::1"},
			{Status: checkers.WARNING, Text: "MTA-STS policy served as text/html, not text/plain"},
		},
		Duration: ms(14.2),
		Targets: []report.Target{
			{Host: "mx1.example.org", Address: "192.0.2.1", Port: 25, MX: "mx1.example.org", Preference: 10, Status: checkers.OK,
				Findings: []report.Finding{}, Result: r1, MTASTSCovered: &covered,
				DANE: &report.DANE{Applies: true, State: "match", Matched: "3 1 1", Usable: 2}},
			{Host: "mx1.example.org", Address: "2001:db8::1", Port: 25, MX: "mx1.example.org", Preference: 10, Status: checkers.CRITICAL,
				Findings: []report.Finding{{Status: checkers.CRITICAL, Text: "RCPT TO:<postmaster@example.org> rejected at step rcpt: 550-5.1.1 <postmaster@example.org>: Recipient address rejected: / 550 User unknown in local recipient table"}},
				Result:   r2, MTASTSCovered: &covered,
				DANE: &report.DANE{Applies: true, State: "match", Matched: "3 1 1", Usable: 2}},
			{Host: "mx2.example.org", Address: "198.51.100.7", Port: 25, MX: "mx2.example.org", Preference: 20, Status: checkers.WARNING,
				Findings: []report.Finding{{Status: checkers.WARNING, Text: "certificate is valid for mail.example.net, not mx2.example.org (use --sni=NAME or -k)"}},
				Result:   r3, MTASTSCovered: &notCovered,
				DANE:          &report.DANE{Applies: false, State: "insecure"},
				ChainNotAfter: time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC)},
		},
		Domain: &report.Domain{
			Name: "example.org",
			MX:   []report.MX{{Preference: 10, Host: "mx1.example.org"}, {Preference: 20, Host: "mx2.example.org"}},
			MTASTS: &report.MTASTS{ID: "20261001T000000", Mode: "testing", MaxAge: 604800,
				MX: []string{"mx1.example.org", "*.mx.example.org"}, Error: "policy served as text/html, not text/plain"},
			TLSRPT: &report.TLSRPT{RUA: []string{"mailto:tls-reports@example.org"}},
		},
	}
}

// singleReport is single-server mode, STARTTLS, OK, with credentials the
// server echoed and hostile characters in the server's text and the host.
func singleReport() *report.Report {
	const pw = "pa|ss\x07word"
	secrets := []string{pw, "cGF8c3MHd29yZA==", "cGF8c3MHd29yZA"}
	steps := []probe.Timing{
		{Step: probe.StepConnect, Duration: ms(0.31)},
		{Step: probe.StepBanner, Duration: ms(0.2), Reply: reply(220, "mail.example.com ESMTP | \x1b[31mred\x1b[0m "+pw)},
		{Step: probe.StepEHLO, Duration: ms(0.4), Reply: reply(250, "mail.example.com", "STARTTLS", "AUTH PLAIN LOGIN")},
		{Step: probe.StepSTARTTLS, Duration: ms(0.1), Reply: reply(220, "go ahead")},
		{Step: probe.StepTLS, Duration: ms(3)},
		{Step: probe.StepAuth, Duration: ms(1.5), Reply: reply(235, "2.7.0 Authentication successful cGF8c3MHd29yZA==")},
		{Step: probe.StepMail, Duration: ms(0.2), Reply: reply(250, "2.1.0 Ok")},
		{Step: probe.StepRSET, Duration: ms(0.1), Reply: reply(250, "2.0.0 Ok")},
		{Step: probe.StepQuit, Duration: ms(0.1), Reply: reply(221, "2.0.0 Bye")},
	}
	host := "mail|\"ex\\ample\".com\n"
	res := &probe.Result{Target: probe.Target{Host: host, Port: 587, Network: "tcp"}, Peer: net.ParseIP("127.0.0.1"),
		Started: fixedNow, Steps: steps, Total: ms(5.91), Banner: steps[1].Reply, Greeting: steps[2].Reply,
		STARTTLSOffered: true,
		TLS: &probe.TLSState{Version: "TLS 1.3", Cipher: "TLS_AES_256_GCM_SHA384", Verified: true, Chain: []*x509.Certificate{
			cert("mail.example.com", "Test CA", []string{"mail.example.com", "127.0.0.1"}, fixedNow.Add(-24*time.Hour), fixedNow.Add(89*24*time.Hour+time.Hour)),
		}},
		Quit:       steps[8].Reply,
		Transcript: []string{"S: 220 mail.example.com ESMTP | " + pw, "C: AUTH PLAIN <redacted>", "S: 235 2.7.0 Authentication successful cGF8c3MHd29yZA=="},
		Secrets:    secrets,
	}
	return &report.Report{
		Status: checkers.OK, Message: "0.006s response time, mail.example.com ESMTP | " + pw + ", TLS 1.3, TLS_AES_256_GCM_SHA384",
		Findings: []report.Finding{}, Verbose: true,
		Perfdata: []report.Perf{{Label: "time", Value: "0.005910s", Min: "0"}},
		Duration: ms(5.91),
		Targets: []report.Target{{Host: host, Address: "127.0.0.1", Port: 587, Status: checkers.OK,
			Findings: []report.Finding{}, Result: res}},
		Secrets: secrets,
	}
}

// --- reports from real conversations ----------------------------------------

// runCase is one real conversation, with the scripted smtptest.Server (its
// script must run to the end), and the report a minimal evaluation makes of
// it.
type runCase struct {
	name     string
	script   []string
	tls      *tls.Config // for the script's "TLS" action
	settings probe.Settings
	timeout  time.Duration
	// expected facts of the conversation
	status     checkers.Status
	failedStep probe.Step
	verified   *bool // nil: no TLS
}

// testPassword holds a "|" and a control character, as a password may.
const testPassword = "s3cr|t\x01pw"

func runCases(t *testing.T) []runCase {
	certs := smtptest.NewCerts(t)
	server := smtptest.ServerTLS(certs.ExpiringIn(t, 30))
	roots := &tlsverify.Roots{Extra: certs.CAPool}
	verifyTLS := probe.TLSPolicy{Mode: probe.STARTTLS, ServerName: "localhost", Roots: roots}
	insecureTLS := probe.TLSPolicy{Mode: probe.STARTTLS, ServerName: "localhost", Insecure: true, Roots: roots}
	base := probe.Settings{FQDN: "client.test", Verbose: true, Timeout: 5 * time.Second}
	with := func(f func(*probe.Settings)) probe.Settings { s := base; f(&s); return s }
	// The server's parts: its banner, its EHLO replies, the STARTTLS
	// exchange; the rest is smtptest's.
	ehlo := func(ext ...string) []string {
		lines := append([]string{"mx.test greets client.test"}, ext...)
		sc := []string{"C: EHLO client\\.test"}
		for i, l := range lines {
			sep := "-"
			if i == len(lines)-1 {
				sep = " "
			}
			sc = append(sc, "S: 250"+sep+l)
		}
		return sc
	}
	starttls := []string{"C: STARTTLS", "S: 220 2.0.0 Ready to start TLS", "TLS"}
	payload := base64.StdEncoding.EncodeToString([]byte("\x00tester\x00" + testPassword))
	return []runCase{
		{name: "plain", script: smtptest.Script("S: 220 mx.test ESMTP | ready", ehlo("PIPELINING", "8BITMIME"), smtptest.Tail()),
			settings: base, status: checkers.OK},
		{name: "starttls", script: smtptest.Script("S: 220 mx.test ESMTP", ehlo("PIPELINING", "STARTTLS"), starttls, ehlo("PIPELINING"),
			smtptest.MailOK(), "C: RCPT TO:<postmaster@test>", "S: 250 2.0.0 Ok", smtptest.RsetOK(), smtptest.Quit()), tls: server,
			settings: with(func(s *probe.Settings) { s.TLS = verifyTLS; s.Rcpts = []string{"postmaster@test"} }),
			status:   checkers.OK, verified: ptr(true)},
		{name: "starttls-insecure", script: smtptest.Script("S: 220 mx.test ESMTP", ehlo("STARTTLS"), starttls, ehlo(), smtptest.Tail()), tls: server,
			settings: with(func(s *probe.Settings) { s.TLS = insecureTLS }),
			status:   checkers.OK, verified: ptr(false)},
		{name: "starttls-not-offered", script: smtptest.Script("S: 220 mx.test ESMTP", ehlo(), smtptest.Quit()),
			settings: with(func(s *probe.Settings) { s.TLS = verifyTLS }),
			status:   checkers.CRITICAL, failedStep: probe.StepEHLO},
		{name: "mail-rejected", script: smtptest.Script("S: 220 mx.test ESMTP", ehlo(), "C: MAIL FROM:<>", "S: 550 5.7.1 relaying | denied\x7f", smtptest.Quit()),
			settings: base, status: checkers.CRITICAL, failedStep: probe.StepMail},
		{name: "timeout", script: []string{"HANG"}, settings: base, timeout: 300 * time.Millisecond,
			status: checkers.CRITICAL, failedStep: probe.StepBanner},
		{name: "auth-echoed", script: smtptest.Script("S: 220 mx.test ESMTP "+testPassword, ehlo("AUTH PLAIN LOGIN", testPassword),
			"C: AUTH PLAIN "+regexp.QuoteMeta(payload), "S: 235 2.7.0 Authentication successful, you sent "+payload, smtptest.Tail()),
			settings: with(func(s *probe.Settings) { s.Auth = probe.Auth{Mech: "PLAIN", User: "tester", Password: testPassword} }),
			status:   checkers.OK},
	}
}

// run has the conversation against a fresh server and evaluates it the way
// the plugin does in outline: the failure, if any, sets the state.
func (c runCase) run(t *testing.T) *report.Report {
	t.Helper()
	m := smtptest.ServeTLS(t, smtptest.ListenLoopback(t, "127.0.0.1"), c.tls, c.script)
	port, err := strconv.Atoi(m.Port())
	if err != nil {
		t.Fatal(err)
	}
	timeout := c.timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res := probe.Run(ctx, probe.Target{Host: "127.0.0.1", Port: port, Network: "tcp"}, c.settings,
		probe.Deps{Dialer: &net.Dialer{}, Now: time.Now})
	cancel()
	m.AssertDone(t, fmt.Sprintf("%+v", res.Failure))
	return evaluateForTest(res)
}

func evaluateForTest(res *probe.Result) *report.Report {
	status := checkers.OK
	var fs []report.Finding
	msg := fmt.Sprintf("%.3fs response time", res.Total.Seconds())
	if f := res.Failure; f != nil {
		status = checkers.CRITICAL
		if f.Kind == probe.KindLocal {
			status = checkers.UNKNOWN
		}
		text := f.Message.Render(func(s string) string { return text.Quote(s, res.Secrets) })
		fs = append(fs, report.Finding{Status: status, Text: text})
		msg = text + "; " + msg
	}
	perf := []report.Perf{{Label: "time", Value: fmt.Sprintf("%.6fs", res.Total.Seconds()), Min: "0"}}
	for _, st := range res.Steps {
		perf = append(perf, report.Perf{Label: string(st.Step), Value: fmt.Sprintf("%.6fs", st.Duration.Seconds()), Min: "0"})
	}
	tg := report.Target{Host: res.Target.Host, Port: res.Target.Port, Status: status, Findings: fs, Result: res}
	if res.Peer != nil {
		tg.Address = res.Peer.String()
	}
	return &report.Report{Status: status, Message: msg, Findings: fs, Perfdata: perf, Verbose: true,
		Duration: res.Total, Targets: []report.Target{tg}, Secrets: res.Secrets}
}

// --- facts every format must agree on ---------------------------------------

type facts struct {
	status     string
	steps      []string
	failedStep string
}

func stepNames(res *probe.Result) []string {
	var out []string
	for _, st := range res.Steps {
		out = append(out, string(st.Step))
	}
	return out
}

func jsonFacts(t *testing.T, b []byte) facts {
	t.Helper()
	var doc struct {
		Status   string `json:"status"`
		ExitCode int    `json:"exit_code"`
		Targets  []struct {
			FailedStep string `json:"failed_step"`
			Steps      []struct {
				Name string `json:"name"`
			} `json:"steps"`
		} `json:"targets"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("JSON does not decode: %v\n%s", err, b)
	}
	if len(doc.Targets) != 1 {
		t.Fatalf("%d targets in single-server JSON", len(doc.Targets))
	}
	f := facts{status: doc.Status, failedStep: doc.Targets[0].FailedStep}
	for _, s := range doc.Targets[0].Steps {
		f.steps = append(f.steps, s.Name)
	}
	if want := map[string]int{"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}[doc.Status]; doc.ExitCode != want {
		t.Errorf("exit_code %d for status %s", doc.ExitCode, doc.Status)
	}
	return f
}

func pluginFacts(r *report.Report) facts {
	out := Plugin(r)
	first, _, _ := strings.Cut(out, "\n")
	_, perf, _ := strings.Cut(first, " | ")
	f := facts{status: r.Status.String()}
	for _, item := range strings.Fields(perf) {
		label, _, _ := strings.Cut(item, "=")
		if label != "time" && label != "cert_days" && label != "chain_days" {
			f.steps = append(f.steps, label)
		}
	}
	// A failed conversation stops at the failed step: it is the last one timed.
	if res := r.Targets[0].Result; res.Failure != nil && len(f.steps) > 0 {
		f.failedStep = f.steps[len(f.steps)-1]
		if i := strings.Index(first, "at step "); i >= 0 && !strings.HasPrefix(first[i:], "at step "+f.failedStep) {
			f.failedStep = "message says " + first[i:]
		}
	}
	return f
}

// TestFormatsAgreeOnRealConversations renders every real conversation in
// all four formats: the same status, the same steps in the same order, the
// same failed step; no credential anywhere; nothing raw that a format
// cannot carry.
func TestFormatsAgreeOnRealConversations(t *testing.T) {
	for _, c := range runCases(t) {
		t.Run(c.name, func(t *testing.T) {
			r := c.run(t)
			res := r.Targets[0].Result
			if r.Status != c.status {
				t.Fatalf("status %v, want %v (failure: %v)", r.Status, c.status, res.Failure)
			}
			if got := failedStep(res); got != c.failedStep {
				t.Fatalf("failed step %q, want %q (failure: %v)", got, c.failedStep, res.Failure)
			}
			want := facts{status: c.status.String(), steps: stepNames(res), failedStep: string(c.failedStep)}

			checkFacts(t, "json", jsonFacts(t, JSON(r)), want)
			checkFacts(t, "prometheus", promFacts(t, Prometheus(r)), want)
			checkFacts(t, "mackerel", mackerelFacts(t, Mackerel(r, "smtp", time.Now())), want)
			checkFacts(t, "plugin", pluginFacts(r), want)

			if c.verified != nil {
				fams := parseProm(t, Prometheus(r))
				if got := sampleValue(t, fams, "smtp_tls_cert_verified", nil); got != bool01(*c.verified) {
					t.Errorf("smtp_tls_cert_verified %v, want %v", got, bool01(*c.verified))
				}
				var doc struct{ Targets []struct{ TLS *jsonTLS } }
				json.Unmarshal(JSON(r), &doc)
				if tl := doc.Targets[0].TLS; tl == nil || tl.Verified != *c.verified || tl.Leaf == nil || tl.Leaf.Subject != "CN=localhost" {
					t.Errorf("JSON tls %+v, want verified=%v and the leaf", tl, *c.verified)
				}
			}
			checkNoSecrets(t, r)
			checkSafe(t, r)
		})
	}
}

func checkFacts(t *testing.T, format string, got, want facts) {
	t.Helper()
	if got.status != want.status {
		t.Errorf("%s: status %q, want %q", format, got.status, want.status)
	}
	if !slices.Equal(got.steps, want.steps) {
		t.Errorf("%s: steps %v, want %v", format, got.steps, want.steps)
	}
	if got.failedStep != want.failedStep {
		t.Errorf("%s: failed step %q, want %q", format, got.failedStep, want.failedStep)
	}
}

// secretForms is every form of the credentials a renderer must not print:
// the report's list and what sanitizing would make of each.
func secretForms(r *report.Report) []string {
	var out []string
	for _, s := range r.Secrets {
		if len(s) >= 4 {
			out = append(out, s, text.Sanitize(s), cleanJSONText(s))
		}
	}
	return out
}

// rendered is every format of r, named.
func rendered(r *report.Report) map[string]string {
	return map[string]string{
		"plugin":     Plugin(r),
		"json":       string(JSON(r)),
		"prometheus": string(Prometheus(r)),
		"mackerel":   string(Mackerel(r, "smtp", fixedNow)),
	}
}

func checkNoSecrets(t *testing.T, r *report.Report) {
	t.Helper()
	if len(r.Secrets) == 0 {
		return
	}
	for format, out := range rendered(r) {
		for _, s := range secretForms(r) {
			if strings.Contains(out, s) {
				t.Errorf("%s output holds the credential form %q:\n%s", format, s, out)
			}
		}
	}
	// Decoded JSON strings too: an escape such as \u0001 would hide a match above.
	var doc any
	json.Unmarshal(JSON(r), &doc)
	walkStrings(doc, func(path, s string) {
		for _, sec := range secretForms(r) {
			if strings.Contains(s, sec) {
				t.Errorf("JSON %s holds the credential form %q", path, sec)
			}
		}
	})
}

// checkSafe: no control character in any JSON string (but the "\n" of a
// reply's text), no "|" or control character in any Prometheus label value
// or mackerel name, the plugin output's only "|" before the perfdata.
func checkSafe(t *testing.T, r *report.Report) {
	t.Helper()
	var doc any
	if err := json.Unmarshal(JSON(r), &doc); err != nil {
		t.Fatal(err)
	}
	walkStrings(doc, func(path, s string) {
		for _, c := range s {
			if unicode.IsControl(c) && !(c == '\n' && strings.HasSuffix(path, ".reply.text")) {
				t.Errorf("JSON %s holds control character %U: %q", path, c, s)
			}
		}
	})
	for _, mf := range parseProm(t, Prometheus(r)) {
		for _, m := range mf.Metric {
			for _, lp := range m.Label {
				if v := lp.GetValue(); strings.ContainsAny(v, "|\n\r\t\x00\x01\x07\x1b\x7f") {
					t.Errorf("Prometheus label %s=%q holds a raw | or control character", lp.GetName(), v)
				}
			}
		}
	}
	checkMackerelLines(t, Mackerel(r, "smtp", fixedNow))
	out := Plugin(r)
	first, rest, _ := strings.Cut(out, "\n")
	if n := strings.Count(first, "|"); n > 1 || (r.NoPerfdata && n > 0) {
		t.Errorf("plugin status line has %d '|': %q", n, first)
	}
	if strings.Contains(rest, "|") {
		t.Errorf("plugin long output holds a '|': %q", rest)
	}
	for _, c := range out {
		if c != '\n' && unicode.IsControl(c) {
			t.Errorf("plugin output holds control character %U", c)
		}
	}
}

func walkStrings(v any, f func(path, s string)) { walkStringsAt("", v, f) }

func walkStringsAt(path string, v any, f func(path, s string)) {
	switch x := v.(type) {
	case string:
		f(path, x)
	case []any:
		for _, e := range x {
			walkStringsAt(path+"[]", e, f)
		}
	case map[string]any:
		for k, e := range x {
			f(path+"."+k+"#key", k)
			walkStringsAt(path+"."+k, e, f)
		}
	}
}

// --- JSON in detail ----------------------------------------------------------

func TestJSONSingleServer(t *testing.T) {
	r := singleReport()
	b := JSON(r)
	if !bytes.HasSuffix(b, []byte("}\n")) || bytes.Count(b, []byte("\n")) != 1 {
		t.Fatalf("want one object on one line ending in a newline: %q", b)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"domain", "mx", "mta_sts", "tlsrpt"} {
		if _, ok := doc[k]; ok {
			t.Errorf("single-server JSON has domain field %q", k)
		}
	}
	if doc["schema"] != 1.0 || doc["status"] != "OK" || doc["exit_code"] != 0.0 {
		t.Errorf("schema/status/exit_code: %v %v %v", doc["schema"], doc["status"], doc["exit_code"])
	}
	if got := doc["duration_seconds"]; got != 0.00591 {
		t.Errorf("duration_seconds %v, want 0.00591", got)
	}
	tg := doc["targets"].([]any)[0].(map[string]any)
	for _, k := range []string{"mx", "preference", "failed_step", "dane", "mta_sts_covered"} {
		if _, ok := tg[k]; ok {
			t.Errorf("single-server target has %q", k)
		}
	}
	if tg["host"] != "mail|\"ex\\ample\".com" || tg["port"] != 587.0 || tg["address"] != "127.0.0.1" {
		t.Errorf("host/port/address: %q %v %v", tg["host"], tg["port"], tg["address"])
	}
	if tg["starttls_offered"] != true {
		t.Errorf("starttls_offered %v", tg["starttls_offered"])
	}
	steps := tg["steps"].([]any)
	if s := steps[0].(map[string]any); s["name"] != "connect" || s["duration_seconds"] != 0.00031 || s["reply"] != nil {
		t.Errorf("connect step %v", s)
	}
	ehlo := steps[2].(map[string]any)["reply"].(map[string]any)
	if ehlo["code"] != 250.0 || ehlo["text"] != "mail.example.com\nSTARTTLS\nAUTH PLAIN LOGIN" {
		t.Errorf("EHLO reply %v: want the lines joined by \\n, codes removed", ehlo)
	}
	banner := steps[1].(map[string]any)["reply"].(map[string]any)["text"]
	if banner != "mail.example.com ESMTP | [31mred[0m <redacted>" {
		t.Errorf("banner text %q: want '|' kept, escape characters dropped, the password redacted", banner)
	}
	tl := tg["tls"].(map[string]any)
	leaf := tl["leaf"].(map[string]any)
	if tl["version"] != "TLS 1.3" || tl["verified"] != true || leaf["days_left"] != 89.0 ||
		leaf["not_after"] != "2027-03-01T10:30:00Z" || tl["chain_earliest_not_after"] != "2027-03-01T10:30:00Z" {
		t.Errorf("tls %v", tl)
	}
	if _, ok := tl["verify_error"]; ok {
		t.Errorf("verify_error present for a verified chain")
	}
	if got := leaf["sans"].([]any); len(got) != 2 || got[0] != "mail.example.com" || got[1] != "127.0.0.1" {
		t.Errorf("sans %v", got)
	}
	if tr := tg["transcript"].([]any); len(tr) != 3 || tr[0] != "S: 220 mail.example.com ESMTP | <redacted>" {
		t.Errorf("transcript %q", tr)
	}
	checkNoSecrets(t, r)
	checkSafe(t, r)

	r.Verbose = false
	if bytes.Contains(JSON(r), []byte(`"transcript"`)) {
		t.Errorf("transcript present without -v")
	}
}

func TestJSONDomain(t *testing.T) {
	var doc struct {
		Domain string
		MX     []jsonMX
		MTASTS *struct {
			ID     string
			Mode   string
			MaxAge *int64 `json:"max_age"`
			MX     []string
			Error  string
		} `json:"mta_sts"`
		TLSRPT   *jsonTLSRPT
		Findings []jsonFinding
		Targets  []map[string]any
	}
	if err := json.Unmarshal(JSON(exampleDomainReport()), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Domain != "example.org" || len(doc.MX) != 2 || doc.MX[1] != (jsonMX{20, "mx2.example.org"}) {
		t.Errorf("domain/mx: %q %v", doc.Domain, doc.MX)
	}
	if p := doc.MTASTS; p == nil || p.Mode != "testing" || p.MaxAge == nil || *p.MaxAge != 604800 || len(p.MX) != 2 || p.Error == "" {
		t.Errorf("mta_sts %+v", p)
	}
	if doc.TLSRPT == nil || doc.TLSRPT.RUA[0] != "mailto:tls-reports@example.org" || doc.TLSRPT.Error != "" {
		t.Errorf("tlsrpt %+v", doc.TLSRPT)
	}
	if len(doc.Targets) != 3 {
		t.Fatalf("%d targets", len(doc.Targets))
	}
	t1, t2, t3 := doc.Targets[0], doc.Targets[1], doc.Targets[2]
	if t1["preference"] != 10.0 || t1["mx"] != "mx1.example.org" || t1["status"] != "OK" || t1["failed_step"] != nil {
		t.Errorf("target 1: %v", t1)
	}
	if t2["address"] != "2001:db8::1" || t2["status"] != "CRITICAL" || t2["failed_step"] != "rcpt" {
		t.Errorf("target 2: %v", t2)
	}
	last := t2["steps"].([]any)[6].(map[string]any)["reply"].(map[string]any)
	if last["code"] != 550.0 || !strings.Contains(last["text"].(string), "rejected:\nUser unknown") {
		t.Errorf("the RCPT reply of target 2: %v", last)
	}
	tl3 := t3["tls"].(map[string]any)
	if tl3["verified"] != false || !strings.HasPrefix(tl3["verify_error"].(string), "certificate is valid for mail.example.net") ||
		tl3["chain_earliest_not_after"] != "2026-12-20T00:00:00Z" {
		t.Errorf("target 3 tls: %v", tl3)
	}
	if d := t3["dane"].(map[string]any); d["applies"] != false || d["result"] != "insecure" || d["matched"] != nil {
		t.Errorf("target 3 dane: %v", d)
	}
	if t3["mta_sts_covered"] != false || t1["mta_sts_covered"] != true {
		t.Errorf("mta_sts_covered %v %v", t1["mta_sts_covered"], t3["mta_sts_covered"])
	}
}

// TestJSONAbsentFields: what does not apply is absent, never zero.
func TestJSONAbsentFields(t *testing.T) {
	r := exampleDomainReport()
	r.Domain.MTASTS = &report.MTASTS{Error: "no MTA-STS TXT record"}
	r.Domain.TLSRPT = nil
	r.Domain.MX = nil
	noAddr := report.Target{Host: "mx3.example.org", MX: "mx3.example.org", Preference: 0, Port: 25, Status: checkers.CRITICAL,
		Findings: []report.Finding{{Status: checkers.CRITICAL, Text: "mx3.example.org has no address"}}}
	r.Targets = append(r.Targets, noAddr)
	var doc map[string]any
	json.Unmarshal(JSON(r), &doc)
	if mx, ok := doc["mx"].([]any); !ok || len(mx) != 0 {
		t.Errorf("domain mode without MX records: mx %v, want []", doc["mx"])
	}
	p := doc["mta_sts"].(map[string]any)
	for _, k := range []string{"id", "mode", "max_age", "mx"} {
		if _, ok := p[k]; ok {
			t.Errorf("mta_sts without a policy has %q", k)
		}
	}
	if _, ok := doc["tlsrpt"]; ok {
		t.Errorf("tlsrpt present without TLSRPT facts")
	}
	tg := doc["targets"].([]any)[3].(map[string]any)
	if tg["preference"] != 0.0 {
		t.Errorf("preference 0 must be present in domain mode: %v", tg["preference"])
	}
	for _, k := range []string{"address", "tls", "failed_step", "starttls_offered", "dane"} {
		if _, ok := tg[k]; ok {
			t.Errorf("target without an address has %q", k)
		}
	}
	if s, ok := tg["steps"].([]any); !ok || len(s) != 0 {
		t.Errorf("steps %v, want []", tg["steps"])
	}
}

func TestJSONError(t *testing.T) {
	b := JSONError("-p: expected a port number 1-65535, e.g. -p 25\n\x1b got \"0x19\" <here>|")
	want := `{"schema":1,"status":"UNKNOWN","exit_code":3,"message":"-p: expected a port number 1-65535, e.g. -p 25 got \"0x19\" <here>|"}` + "\n"
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestJSONStatusOutOfRange(t *testing.T) {
	r := singleReport()
	r.Status = checkers.Status(7)
	var doc struct {
		Status   string
		ExitCode int `json:"exit_code"`
	}
	json.Unmarshal(JSON(r), &doc)
	if doc.Status != "UNKNOWN" || doc.ExitCode != 3 {
		t.Errorf("status %q exit_code %d, want UNKNOWN 3", doc.Status, doc.ExitCode)
	}
}

// TestExampleJSON: testdata/example.json is what JSON emits for the
// hand-built domain report, field for field (the README's example is
// checked against it). UPDATE_GOLDEN=1 rewrites it.
func TestExampleJSON(t *testing.T) {
	got := JSON(exampleDomainReport())
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, got, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	path := filepath.Join("testdata", "example.json")
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	gotPaths, wantPaths := fieldPaths(t, got), fieldPaths(t, want)
	if !slices.Equal(gotPaths, wantPaths) {
		t.Errorf("field paths differ\nonly emitted: %v\nonly in the example: %v", minus(gotPaths, wantPaths), minus(wantPaths, gotPaths))
	}
	var a, b any
	json.Unmarshal(got, &a)
	json.Unmarshal(want, &b)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("testdata/example.json differs from what JSON emits (UPDATE_GOLDEN=1 to rewrite):\n%s", pretty.Bytes())
	}
	// The example shows every field of the schema but the -v transcript.
	for _, p := range []string{".schema", ".status", ".exit_code", ".message", ".duration_seconds", ".domain",
		".mx[].preference", ".mx[].host", ".mta_sts.id", ".mta_sts.mode", ".mta_sts.max_age", ".mta_sts.mx[]", ".mta_sts.error",
		".tlsrpt.rua[]", ".findings[].status", ".findings[].text",
		".targets[].host", ".targets[].address", ".targets[].port", ".targets[].mx", ".targets[].preference", ".targets[].status",
		".targets[].failed_step", ".targets[].steps[].name", ".targets[].steps[].duration_seconds",
		".targets[].steps[].reply.code", ".targets[].steps[].reply.text",
		".targets[].tls.version", ".targets[].tls.cipher", ".targets[].tls.verified", ".targets[].tls.verify_error",
		".targets[].tls.leaf.subject", ".targets[].tls.leaf.issuer", ".targets[].tls.leaf.sans[]",
		".targets[].tls.leaf.not_before", ".targets[].tls.leaf.not_after", ".targets[].tls.leaf.days_left",
		".targets[].tls.chain_earliest_not_after", ".targets[].dane.applies", ".targets[].dane.result", ".targets[].dane.matched",
		".targets[].findings[].status", ".targets[].findings[].text"} {
		if _, ok := slices.BinarySearch(wantPaths, p); !ok {
			t.Errorf("the example lacks %s", p)
		}
	}
}

// fieldPaths lists every path in a JSON document: .a.b for objects, [] for
// the elements of an array (all elements together).
func fieldPaths(t *testing.T, b []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	var walk func(string, any)
	walk = func(p string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				set[p+"."+k] = true
				walk(p+"."+k, e)
			}
		case []any:
			for _, e := range x {
				set[p+"[]"] = true
				walk(p+"[]", e)
			}
		}
	}
	walk("", v)
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func TestCleanJSONText(t *testing.T) {
	for in, want := range map[string]string{
		"plain | text":             "plain | text",
		"a\tb":                     "a b",
		"bell\x07\x1b[0m\r\n":      "bell[0m",
		"nul\x00 del\x7f c1\u0085": "nul del c1",
		"bad \xff utf8":            "bad ? utf8",
		"ünïcödé ¦":                "ünïcödé ¦",
	} {
		if got := cleanJSONText(in); got != want {
			t.Errorf("cleanJSONText(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRedactionSurvivesCleaning: a secret split by a control character the
// server inserted is whole again once cleaned, and still redacted.
func TestRedactionSurvivesCleaning(t *testing.T) {
	r := singleReport()
	r.Secrets = []string{"hunter22"}
	r.Message = "echo hun\x01ter22 and hunter\x0022"
	r.Targets[0].Result.Steps[1].Reply = reply(220, "x hunt\ter22")
	r.Secrets = append(r.Secrets, "hunt er22")
	out := string(JSON(r)) + string(Prometheus(r))
	if strings.Contains(out, "hunter22") || strings.Contains(out, "hunt er22") {
		t.Errorf("a secret survived:\n%s", out)
	}
}

// FuzzRender feeds outside text (server replies, host names, secrets)
// through every renderer: the JSON stays valid with no control character
// outside reply text, the exposition parses with no raw "|" or control
// character in a label, mackerel names stay valid, and no secret of four
// bytes or more survives in a JSON string or a label value.
func FuzzRender(f *testing.F) {
	f.Add("220 mx ESMTP", "mx1.example.org", "hunter22")
	f.Add("220-a|b\n220 c\x00d\te\x1b", "evil|\"host\\\n", "s3cr|t\x01pw")
	f.Add("250 \xff\xfe", "", "")
	f.Fuzz(func(t *testing.T, serverText, host, secret string) {
		r := exampleDomainReport()
		r.Secrets = []string{secret}
		lines := strings.Split(serverText, "\n")
		for i := range r.Targets {
			tg := &r.Targets[i]
			tg.MX, tg.Host, tg.Address = host, host, host+secret
			tg.Findings = append(tg.Findings, report.Finding{Status: checkers.WARNING, Text: serverText + secret})
			tg.Result.Steps[1].Reply = &wire.Reply{Code: 220, Lines: lines}
			tg.Result.TLS.Version = serverText
			tg.Result.Transcript = lines
		}
		r.Verbose = true
		r.Domain.Name = host
		r.Message = serverText + secret
		single := singleReport()
		single.Secrets = []string{secret}
		single.Targets[0].Host = host + secret
		single.Targets[0].Result.Target.Host = host + secret
		single.Message = serverText

		checkSecret := func(where, s string) {
			if len(secret) >= 4 && !strings.Contains(secret, "\x00") &&
				strings.Contains(strings.ReplaceAll(s, text.Redacted, "\x00"), secret) {
				t.Errorf("%s holds the secret %q: %q", where, secret, s)
			}
		}
		for _, rep := range []*report.Report{r, single} {
			b := JSON(rep)
			var doc any
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatalf("invalid JSON: %v\n%s", err, b)
			}
			walkStrings(doc, func(path, s string) {
				for _, c := range s {
					if unicode.IsControl(c) && !(c == '\n' && (strings.HasSuffix(path, ".reply.text"))) {
						t.Errorf("JSON %s holds control character %U", path, c)
					}
				}
				checkSecret("JSON "+path, s)
			})
			for _, mf := range parseProm(t, Prometheus(rep)) {
				for _, m := range mf.Metric {
					for _, lp := range m.Label {
						v := lp.GetValue()
						if strings.ContainsFunc(v, func(c rune) bool { return c == '|' || unicode.IsControl(c) }) {
							t.Errorf("label %s=%q holds a raw | or control character", lp.GetName(), v)
						}
						checkSecret("label "+lp.GetName(), v)
					}
				}
			}
			checkMackerelLines(t, Mackerel(rep, host, fixedNow))
		}
	})
}

func BenchmarkJSON(b *testing.B) {
	r := exampleDomainReport()
	for b.Loop() {
		JSON(r)
	}
}
