package integration

import (
	"regexp"
	"testing"
)

// check-smtp -M against the real DNS/DNSSEC/HTTPS/MTA topology of dns.sh:
// nsd serving zones signed at test time, unbound validating them, nginx
// serving MTA-STS policies and Postfix/chasquid as the MX hosts on port 25.
func TestDomainModeRealServers(t *testing.T) {
	requireDNS(t)
	base := []string{"--dns-server", srv["DNS_RESOLVER"], "--cafile", srv["DNS_CA"], "-t", "20"}
	for _, tc := range []struct {
		domain  string
		extra   []string
		code    int
		pattern string
	}{
		{"good.test", nil, 0, `^SMTP OK: good\.test: 2 of 2 MX addresses OK, MTA-STS enforce, TLSRPT`},
		{"onedown.test", nil, 1, `^SMTP WARNING: onedown\.test: mail is still delivered, but 1 MX address of 2 failed`},
		{"onedown.test", []string{"--mx-strict"}, 2, `^SMTP CRITICAL: onedown\.test: mx2\.onedown\.test \[`},
		{"alldown.test", nil, 2, `^SMTP CRITICAL: alldown\.test: no MX accepts mail`},
		{"nostarttls.test", nil, 1, `STARTTLS not offered: mail goes in cleartext`},
		{"nostarttls-sts.test", nil, 2, `STARTTLS not offered, MTA-STS mode enforce`},
		{"wrongname.test", nil, 2, `MTA-STS mode enforce requires a valid certificate for mx\.wrongname\.test`},
		{"wrongname-nosts.test", nil, 1, `opportunistic senders deliver anyway`},
		{"notcovered.test", nil, 1, `mx2\.notcovered\.test is not covered by the MTA-STS policy`},
		{"sts-404.test", nil, 1, `MTA-STS record published but the policy is unusable`},
		{"sts-redirect.test", nil, 1, `MTA-STS record published but the policy is unusable`},
		{"nullmx.test", nil, 2, `accepts no mail: null MX`},
		{"nxdomain.test", nil, 2, `domain does not exist`},
		{"broken.test", nil, 2, `MX lookup failed, senders defer: .*SERVFAIL`},
		{"nomx.test", nil, 0, `implicit MX`},
		{"dane-ok.test", nil, 0, `^SMTP OK: dane-ok\.test: 1 of 1 MX addresses OK.*DANE 1 of 1`},
		{"dane-ok.test", []string{"--dane-rollover"}, 1, `only 1 usable TLSA record`},
		{"dane-roll.test", []string{"--dane-rollover"}, 0, `DANE 1 of 1`},
		{"dane-bad.test", nil, 2, `renewed without updating TLSA`},
		{"dane-bogus.test", nil, 2, `TLSA lookup of _25\._tcp\.mx\.dane-bogus\.test failed, DANE senders defer`},
		{"dane-none.test", []string{"--dane"}, 2, `DANE required but`},
		{"insecure-mx.test", []string{"--dane"}, 2, `DANE required but`},
		{"dane-unusable.test", nil, 1, `only unusable TLSA records`},
		{"dane-unusable.test", []string{"--dane"}, 2, `only unusable TLSA records`},
		{"dane-ta.test", nil, 0, `DANE 1 of 1`},
		{"dane-tawrong.test", nil, 2, `no MX accepts mail`},
		{"dane-expired.test", nil, 0, `DANE 1 of 1`},
		{"dane-nostarttls.test", nil, 2, `STARTTLS not offered where DANE applies`},
		{"manymx.test", []string{"-t", "30"}, 2, `more than 100 MX records published: only the first 100 checked`},
		{"bigtxt.test", nil, 1, `MTA-STS TXT lookup failed: .*4096`},
		{"sts-big.test", nil, 1, `MTA-STS record published but the policy is unusable .*64 KiB`},
		{"sts-ctype.test", nil, 1, `MTA-STS policy: .*text/html`},
		{"sts-twotxt.test", nil, 1, `MTA-STS record unusable, treated as none`},
		{"sts-testing.test", nil, 1, `MTA-STS mode testing requires a valid certificate`},
		{"sts-none.test", nil, 0, `MTA-STS none`},
		{"sts-badcert.test", nil, 1, `MTA-STS record published but the policy is unusable .*certificate`},
		{"tlsrpt-bad.test", nil, 1, `TLSRPT record: `},
		{"tlsrpt-two.test", nil, 1, `TLSRPT record: `},
		{"alldown.test", []string{"--tlsrpt-required"}, 2, `no TLSRPT record`},
		{"good.test", []string{"--mta-sts-required", "--tlsrpt-required"}, 0, `MTA-STS enforce, TLSRPT`},
		{"cnamemx.test", nil, 1, `is an alias \(CNAME\) of`},
		{"ipmx.test", nil, 1, `names an IP address`},
		{"bücher.test", nil, 0, `^SMTP OK: bücher\.test: 1 of 1 MX addresses OK`},
	} {
		t.Run(tc.domain, func(t *testing.T) {
			r := runCheck(t, nil, append(append([]string{"-M", tc.domain}, base...), tc.extra...)...)
			if r.code != tc.code || !regexp.MustCompile(tc.pattern).MatchString(r.stdout) {
				t.Errorf("%s: exit %d (want %d), want %q:\n%s", shellQuote(r.args), r.code, tc.code, tc.pattern, r.stdout)
			}
			checkPluginContract(t, r)
		})
	}
}

// --dane with -H: the TLSA records of one host, through the validating
// resolver, against the real Postfix that serves it.
func TestSingleServerDANERealServers(t *testing.T) {
	requireDNS(t)
	base := []string{"-S", "--dane", "--dns-server", srv["DNS_RESOLVER"], "--cafile", srv["DNS_CA"], "-t", "20"}
	for _, tc := range []struct {
		host    string
		code    int
		pattern string
	}{
		{"mx.dane-ok.test", 0, `^SMTP OK: DANE-EE 3 1 1 matches`},
		{"mx.dane-roll.test", 0, `^SMTP OK: DANE-EE 3 1 1 matches`},
		{"mx.dane-bad.test", 2, `^SMTP CRITICAL: no TLSA record matches the certificate \(certificate renewed without updating TLSA\?\)`},
		{"mx.dane-ta.test", 0, `^SMTP OK: DANE-TA 2 1 1 matches`},
		{"mx.dane-bogus.test", 2, `TLSA lookup of _25\._tcp\.mx\.dane-bogus\.test failed, DANE senders defer`},
		{"mx1.good.test", 2, `DANE required but the TLSA answer for _25\._tcp\.mx1\.good\.test is not DNSSEC-signed`},
	} {
		t.Run(tc.host, func(t *testing.T) {
			r := runCheck(t, nil, append([]string{"-H", tc.host}, base...)...)
			if r.code != tc.code || !regexp.MustCompile(tc.pattern).MatchString(r.stdout) {
				t.Errorf("%s: exit %d (want %d), want %q:\n%s", shellQuote(r.args), r.code, tc.code, tc.pattern, r.stdout)
			}
			checkPluginContract(t, r)
		})
	}
}
