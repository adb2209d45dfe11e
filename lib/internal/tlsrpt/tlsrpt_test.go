package tlsrpt

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseRecord(t *testing.T) {
	t.Parallel()
	cases := []struct {
		txt  string
		rua  []string // nil means an error is expected
		want string   // part of the error
	}{
		{"v=TLSRPTv1; rua=mailto:reports@example.com", []string{"mailto:reports@example.com"}, ""},
		{"v=TLSRPTv1;rua=https://reporting.example.com/v1/tlsrpt", []string{"https://reporting.example.com/v1/tlsrpt"}, ""},
		{"v=TLSRPTv1; rua=mailto:a@example.com,https://r.example.com/x?y=1;", []string{"mailto:a@example.com", "https://r.example.com/x?y=1"}, ""},
		{"v=TLSRPTv1 ;  rua=mailto:a@example.com ,\thttps://r.example.com:8443/ ; ", []string{"mailto:a@example.com", "https://r.example.com:8443/"}, ""},
		{"v=TLSRPTv1; rua=MAILTO:A@Example.COM?subject=tls%20report", []string{"MAILTO:A@Example.COM?subject=tls%20report"}, ""},
		{"v=TLSRPTv1; rua=mailto:a%21b@example.com", []string{"mailto:a%21b@example.com"}, ""},
		{"v=TLSRPTv1; rua=https://[2001:db8::1]/r", []string{"https://[2001:db8::1]/r"}, ""},
		{"v=TLSRPTv1; ext=1; rua=mailto:a@b.example; x_y-z.1=~", []string{"mailto:a@b.example"}, ""},
		{"v=TLSRPTv1; rua=mailto:a@b.example  ", []string{"mailto:a@b.example"}, ""},

		{"v=TLSRPTv1; rua=http://r.example.com/", nil, `rua: "http://r.example.com/" is not a mailto: or https: URI`},
		{"v=TLSRPTv1; rua=ftp://r.example.com/", nil, "is not a mailto: or https: URI"},
		{"v=TLSRPTv1; rua=reports@example.com", nil, "is not a mailto: or https: URI"},
		{"v=TLSRPTv1; rua=mailto:a@example.com!10m", nil, `contains '!', which RFC 8460 requires to be encoded as %21`},
		{"v=TLSRPTv1; rua=mailto:", nil, `"mailto:" has no address`},
		{"v=TLSRPTv1; rua=mailto:@example.com", nil, "has no address"},
		{"v=TLSRPTv1; rua=mailto:a@", nil, "has no address"},
		{"v=TLSRPTv1; rua=mailto:a@b.example,", nil, "empty URI"},
		{"v=TLSRPTv1; rua=,mailto:a@b.example", nil, "empty URI"},
		{"v=TLSRPTv1; rua=", nil, "empty URI"},
		{"v=TLSRPTv1; rua=https://", nil, `"https://" has no host`},
		{"v=TLSRPTv1; rua=https:r.example.com", nil, "has no host"},
		{"v=TLSRPTv1; rua=https://:443/", nil, "has no host"},
		{"v=TLSRPTv1; rua=https://r.example.com/a b", nil, `contains " ", which is not allowed in a URI`},
		{"v=TLSRPTv1; rua=mailto:a@b.example%2", nil, "a '%' not followed by two hex digits"},
		{"v=TLSRPTv1; rua=mailto:a@b.\u00e9xample", nil, "which is not allowed in a URI"},
		{"v=TLSRPTv1; rua=mailto:a@b.example; rua=mailto:c@d.example", nil, "rua given twice"},
		{"v=TLSRPTv1; RUA=mailto:a@b.example", nil, `no rua field ("RUA" found: keys are case-sensitive)`},
		{"v=TLSRPTv1; x=1", nil, "no rua field"},
		{"v=TLSRPTv1", nil, "nothing after v=TLSRPTv1"},
		{"v=TLSRPTv1;", nil, "no field after v=TLSRPTv1"},
		{"v=TLSRPTv1;; rua=mailto:a@b.example", nil, "empty field"},
		{"v=TLSRPTv1 rua=mailto:a@b.example", nil, "v=TLSRPTv1 must be followed by ';'"},
		{"v=TLSRPTv1; rua", nil, `field "rua" is not key=value`},
		{"v=TLSRPTv1; rua=mailto:a@b.example; -x=1", nil, `invalid field name "-x"`},
		{"v=TLSRPTv1; rua=mailto:a@b.example; x=a b", nil, "field x: invalid value"},
		{"v=TLSRPTv1; rua=mailto:a@b.example; x=", nil, "field x: invalid value"},
		{"v=TLSRPTv2; rua=mailto:a@b.example", nil, "does not start with v=TLSRPTv1"},
	}
	for _, c := range cases {
		r, err := ParseRecord(c.txt)
		if c.rua != nil {
			if err != nil || !reflect.DeepEqual(r.RUA, c.rua) {
				t.Errorf("ParseRecord(%q) = %q, %v; want %q", c.txt, r.RUA, err, c.rua)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "TXT record ") {
			t.Errorf("ParseRecord(%q) = %q, error %v; want %q", c.txt, r.RUA, err, c.want)
		}
	}
}

func TestSelectRecord(t *testing.T) {
	t.Parallel()
	good := "v=TLSRPTv1; rua=mailto:tls@example.org"
	cases := []struct {
		name   string
		txts   []string
		status Status
		want   string // part of the error, for Invalid
	}{
		{"nothing", nil, NoRecord, ""},
		{"other records only", []string{"v=spf1 -all", "v=TLSRPTv10; rua=mailto:a@b.example", "v=TLSRPTv1x", " v=TLSRPTv1; rua=mailto:a@b.example", "v=tlsrptv1; rua=mailto:a@b.example"}, NoRecord, ""},
		{"one", []string{"v=spf1 -all", good}, Found, ""},
		{"two", []string{good, good}, Invalid, "2 TXT records start with v=TLSRPTv1"},
		{"one valid one broken", []string{good, "v=TLSRPTv1"}, Invalid, "2 TXT records"},
		{"malformed", []string{"v=TLSRPTv1; rua=http://x.example/"}, Invalid, "is not a mailto: or https: URI"},
		{"bare version", []string{"v=TLSRPTv1"}, Invalid, "nothing after"},
	}
	for _, c := range cases {
		r, st, err := SelectRecord(c.txts)
		if st != c.status {
			t.Errorf("%s: status %v, want %v (error %v)", c.name, st, c.status, err)
		}
		switch {
		case c.status == Found && (err != nil || len(r.RUA) != 1 || r.RUA[0] != "mailto:tls@example.org"):
			t.Errorf("%s: %+v, %v", c.name, r, err)
		case c.status == Invalid && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		case c.status != Invalid && err != nil:
			t.Errorf("%s: error %v with status %v", c.name, err, st)
		case c.status != Found && r.RUA != nil:
			t.Errorf("%s: record %+v with status %v", c.name, r, st)
		}
	}
	if NoRecord.String() != "no record" || Found.String() != "found" || Invalid.String() != "invalid" || Status(7).String() != "Status(7)" {
		t.Error("Status.String")
	}
}

// FuzzParseRecord: an accepted record has one or more URIs, each mailto:
// or https: and free of the separators, and SelectRecord agrees with
// ParseRecord. Seeds: testdata/fuzz/FuzzParseRecord.
func FuzzParseRecord(f *testing.F) {
	f.Add("v=TLSRPTv1; rua=mailto:reports@example.com")
	f.Fuzz(func(t *testing.T, txt string) {
		r, err := ParseRecord(txt)
		_, st, serr := SelectRecord([]string{txt})
		if err != nil {
			if st == Found || (st == Invalid) != (serr != nil) {
				t.Fatalf("ParseRecord failed (%v) but SelectRecord says %v, %v", err, st, serr)
			}
			return
		}
		if !strings.HasPrefix(txt, "v=TLSRPTv1") || len(r.RUA) == 0 {
			t.Fatalf("accepted %q as %q", txt, r.RUA)
		}
		for _, u := range r.RUA {
			l := strings.ToLower(u)
			if !strings.HasPrefix(l, "mailto:") && !strings.HasPrefix(l, "https://") || strings.ContainsAny(u, ",;! \t!") {
				t.Fatalf("accepted URI %q in %q", u, txt)
			}
		}
		if st != Found || serr != nil {
			t.Fatalf("ParseRecord accepted %q but SelectRecord says %v, %v", txt, st, serr)
		}
		if _, st, _ := SelectRecord([]string{txt, txt}); st != Invalid {
			t.Fatalf("two copies of %q: %v", txt, st)
		}
	})
}
