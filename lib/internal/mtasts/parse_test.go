package mtasts

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseRecord(t *testing.T) {
	t.Parallel()
	cases := []struct {
		txt  string
		id   string // "" means an error is expected
		want string // part of the error
	}{
		{"v=STSv1; id=20160831085700Z;", "20160831085700Z", ""},
		{"v=STSv1; id=20160831085700Z", "20160831085700Z", ""},
		{"v=STSv1;id=abc", "abc", ""},
		{"v=STSv1 ;  id=abc  ;  ", "abc", ""},
		{"v=STSv1;\tid=abc\t", "abc", ""},
		{"v=STSv1; id=" + strings.Repeat("a", 32), strings.Repeat("a", 32), ""},
		{"v=STSv1; ext=val; id=abc", "abc", ""},
		{"v=STSv1; id=abc; x_y-z.1=!\"#$%&'()*+,-./:<>?@[]^_`{|}~", "abc", ""},
		{"v=STSv1; id=" + strings.Repeat("a", 33), "", "is not 1-32 letters and digits"},
		{"v=STSv1; id=", "", `id "" is not 1-32`},
		{"v=STSv1; id=abc-def", "", `id "abc-def" is not`},
		{"v=STSv1; id=ab c", "", `id "ab c" is not`},
		{"v=STSv1; id=\u00e9t\u00e9", "", "is not 1-32 letters and digits"},
		{"v=STSv1", "", "nothing after v=STSv1"},
		{"v=STSv1;", "", "no field after v=STSv1"},
		{"v=STSv1;  ; ", "", "empty field"},
		{"v=STSv1; ; id=abc", "", "empty field"},
		{"v=STSv1 id=abc", "", "v=STSv1 must be followed by ';'"},
		{"v=STSv1; ID=abc", "", `no id field ("ID" found: keys are case-sensitive)`},
		{"v=STSv1; ext=1", "", "no id field"},
		{"v=STSv1; id=abc; id=def", "", "id given twice"},
		{"v=STSv1; id", "", `field "id" is not key=value`},
		{"v=STSv1; id=abc; =x", "", `invalid field name ""`},
		{"v=STSv1; id=abc; _x=1", "", `invalid field name "_x"`},
		{"v=STSv1; id=abc; " + strings.Repeat("n", 33) + "=1", "", "invalid field name"},
		{"v=STSv1; id=abc; x=", "", "field x: invalid value"},
		{"v=STSv1; id=abc; x=a=b", "", "field x: invalid value"},
		{"v=STSv1; id=abc; x=a b", "", "field x: invalid value"},
		{"v=STSv2; id=abc", "", "does not start with v=STSv1"},
		{"", "", "does not start with v=STSv1"},
	}
	for _, c := range cases {
		r, err := ParseRecord(c.txt)
		if c.id != "" {
			if err != nil || r.ID != c.id {
				t.Errorf("ParseRecord(%q) = %+v, %v; want id %q", c.txt, r, err, c.id)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseRecord(%q) error %v, want %q", c.txt, err, c.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), "TXT record ") {
			t.Errorf("ParseRecord(%q) error %q does not name the record", c.txt, err)
		}
	}
}

func TestSelectRecord(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		txts   []string
		status Status
		id     string
		want   string // part of the error, for Invalid
	}{
		{"nothing", nil, NoRecord, "", ""},
		{"other protocols only", []string{"v=spf1 -all", "google-site-verification=x", "v=STSv10; id=1", "v=STSv1x", " v=STSv1; id=1", "V=STSV1; id=1"}, NoRecord, "", ""},
		{"one", []string{"v=spf1 -all", "v=STSv1; id=abc;"}, Found, "abc", ""},
		{"two", []string{"v=STSv1; id=abc", "v=STSv1; id=def"}, Invalid, "", "2 TXT records start with v=STSv1"},
		{"one valid one broken", []string{"v=STSv1; id=abc", "v=STSv1"}, Invalid, "", "2 TXT records"},
		{"malformed", []string{"v=STSv1; id=a_b"}, Invalid, "", `id "a_b" is not`},
		{"bare version", []string{"v=STSv1"}, Invalid, "", "nothing after"},
		{"missing semicolon", []string{"v=STSv1 id=abc"}, Invalid, "", "must be followed by ';'"},
	}
	for _, c := range cases {
		r, st, err := SelectRecord(c.txts)
		if st != c.status || r.ID != c.id {
			t.Errorf("%s: SelectRecord = %+v, %v, %v; want %v id %q", c.name, r, st, err, c.status, c.id)
		}
		switch {
		case c.status == Invalid && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		case c.status != Invalid && err != nil:
			t.Errorf("%s: error %v with status %v", c.name, err, st)
		}
	}
	if NoRecord.String() != "no record" || Found.String() != "found" || Invalid.String() != "invalid" || Status(9).String() != "Status(9)" {
		t.Error("Status.String")
	}
}

func TestParsePolicy(t *testing.T) {
	t.Parallel()
	ok := []struct {
		name string
		body string
		want Policy
	}{
		{"RFC example", "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n",
			Policy{"STSv1", "enforce", 604800, []string{"mail.example.com", "*.example.net", "backupmx.example.com"}}},
		{"LF, no final newline", "version: STSv1\nmode: testing\nmx: mx.example.org\nmax_age: 86400",
			Policy{"STSv1", "testing", 86400, []string{"mx.example.org"}}},
		{"mixed endings, any order", "max_age: 0\nmx: a.example\r\nmode: testing\r\nversion: STSv1\n",
			Policy{"STSv1", "testing", 0, []string{"a.example"}}},
		{"mode none without mx", "version: STSv1\nmode: none\nmax_age: 31557600\n",
			Policy{"STSv1", "none", 31557600, nil}},
		{"mode none with mx", "version: STSv1\nmode: none\nmx: a.example\nmax_age: 1\n",
			Policy{"STSv1", "none", 1, []string{"a.example"}}},
		{"no space, tabs and trailing space", "version:STSv1\nmode:\tenforce \t\nmx:  A.Example.  \nmax_age: 0000086400\n",
			Policy{"STSv1", "enforce", 86400, []string{"A.Example."}}},
		{"blank lines", "\nversion: STSv1\n\n \t\r\nmode: none\r\n\r\nmax_age: 5\n\n",
			Policy{"STSv1", "none", 5, nil}},
		{"unknown keys ignored", "version: STSv1\nmode: none\nmax_age: 5\nx-comment: anything: at all, even \u00e9\nempty:\nMode: bogus\n",
			Policy{"STSv1", "none", 5, nil}},
		{"longest label and name", "version: STSv1\nmode: enforce\nmx: " + strings.Repeat("a", 63) + ".example\nmx: *." + strings.Repeat("abcdefghi.", 25) + "org\nmax_age: 5\n",
			Policy{"STSv1", "enforce", 5, []string{strings.Repeat("a", 63) + ".example", "*." + strings.Repeat("abcdefghi.", 25) + "org"}}},
		{"duplicate mx kept", "version: STSv1\nmode: enforce\nmx: a.example\nmx: a.example\nmax_age: 5\n",
			Policy{"STSv1", "enforce", 5, []string{"a.example", "a.example"}}},
	}
	for _, c := range ok {
		p, err := ParsePolicy([]byte(c.body))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(*p, c.want) {
			t.Errorf("%s: got %+v, want %+v", c.name, *p, c.want)
		}
	}

	const base = "version: STSv1\nmode: enforce\nmx: mx.example.org\n"
	bad := []struct {
		name string
		body string
		line int
		key  string
		want string // the error message, or its start
	}{
		{"empty", "", 0, "version", "version: missing"},
		{"no version", "mode: none\nmax_age: 5\n", 0, "version", "version: missing"},
		{"no mode", "version: STSv1\nmax_age: 5\n", 0, "mode", "mode: missing"},
		{"no max_age", base, 0, "max_age", "max_age: missing"},
		{"no mx", "version: STSv1\nmode: enforce\nmax_age: 5\n", 0, "mx", "mx: missing: mode enforce needs at least one mx"},
		{"no mx, testing", "version: STSv1\nmode: testing\nmax_age: 5\n", 0, "mx", "mx: missing: mode testing needs at least one mx"},
		{"wrong case key", "version: STSv1\nMode: enforce\nmx: a.example\nmax_age: 5\n", 0, "mode",
			`mode: missing (line 2 has "Mode": keys are case-sensitive)`},
		{"wrong case MX", "version: STSv1\nmode: enforce\nMX: a.example\nmax_age: 5\n", 0, "mx",
			`mx: missing: mode enforce needs at least one mx (line 3 has "MX": keys are case-sensitive)`},
		{"version", "version: STSv2\n", 1, "version", `line 1: version: "STSv2" is not STSv1`},
		{"version case", "version: stsv1\n", 1, "version", `line 1: version: "stsv1" is not STSv1`},
		{"mode", "version: STSv1\nmode: Enforce\n", 2, "mode", `line 2: mode: "Enforce" is not enforce, testing or none`},
		{"mode empty", "version: STSv1\nmode:\n", 2, "mode", `line 2: mode: "" is not enforce, testing or none`},
		{"max_age too big", base + "max_age: 31557601\n", 4, "max_age", "line 4: max_age: 31557601 is larger than 31557600 (RFC 8461 maximum)"},
		{"max_age 11 digits", base + "max_age: 00000000001\n", 4, "max_age", `line 4: max_age: "00000000001" is not a number of seconds`},
		{"max_age negative", base + "max_age: -1\n", 4, "max_age", `line 4: max_age: "-1" is not a number of seconds`},
		{"max_age unit", base + "max_age: 86400s\n", 4, "max_age", `line 4: max_age: "86400s" is not a number of seconds`},
		{"max_age inner space", base + "max_age: 86 400\n", 4, "max_age", `line 4: max_age: "86 400" is not a number of seconds`},
		{"max_age empty", base + "max_age:\n", 4, "max_age", `line 4: max_age: "" is not a number of seconds`},
		{"duplicate version", "version: STSv1\nversion: STSv1\n", 2, "version", "line 2: version: given again (first on line 1)"},
		{"duplicate mode", base + "mode: testing\n", 4, "mode", "line 4: mode: given again (first on line 2)"},
		{"duplicate max_age", base + "max_age: 5\n\nmax_age: 5\n", 6, "max_age", "line 6: max_age: given again (first on line 4)"},
		{"mx wildcard inside", "mx: mx.*.example.org\n", 1, "mx", `line 1: mx: "mx.*.example.org" is not a host name or *.host.name pattern`},
		{"mx bare wildcard", "mx: *\n", 1, "mx", `line 1: mx: "*" is not a host name or *.host.name pattern`},
		{"mx wildcard only dot", "mx: *.\n", 1, "mx", `line 1: mx: "*." is not`},
		{"mx empty", "mx:\n", 1, "mx", `line 1: mx: "" is not`},
		{"mx two names", "mx: a.example b.example\n", 1, "mx", `line 1: mx: "a.example b.example" is not`},
		{"mx underscore", "mx: mx_1.example\n", 1, "mx", `line 1: mx: "mx_1.example" is not`},
		{"mx U-label", "mx: b\u00fccher.example\n", 1, "mx", `line 1: mx: "bücher.example" is not a host name`},
		{"mx hyphen end", "mx: mx-.example\n", 1, "mx", `line 1: mx: "mx-.example" is not a host name`},
		{"mx empty label", "mx: a..example\n", 1, "mx", `line 1: mx: "a..example" is not a host name`},
		{"mx label too long", "mx: " + strings.Repeat("a", 64) + ".example\n", 1, "mx", `line 1: mx: "aaaa`},
		{"mx name too long", "mx: " + strings.Repeat("abcdefghi.", 25) + "orgx\n", 1, "mx", `line 1: mx: "abcdefghi.`},
		{"no colon", "version STSv1\n", 1, "", `line 1: "version STSv1" is not "key: value"`},
		{"space before colon", "version : STSv1\n", 1, "", `line 1: invalid key "version "`},
		{"indented key", "  version: STSv1\n", 1, "", `line 1: invalid key "  version"`},
		{"empty key", ": x\n", 1, "", `line 1: invalid key ""`},
		{"key too long", strings.Repeat("k", 33) + ": x\n", 1, "", "line 1: invalid key"},
		{"bare CR inside", "version: STSv1\rmode: none\n", 1, "version", `line 1: version: "STSv1\rmode: none" is not STSv1`},
		{"control char in extension", base + "x: a\x00b\n", 4, "x", `line 4: x: invalid value "a\x00b" (control characters or invalid UTF-8)`},
		{"invalid UTF-8 in extension", base + "x: \xff\n", 4, "x", "line 4: x: invalid value"},
		{"byte order mark", "\ufeffversion: STSv1\n", 1, "", "line 1: starts with a UTF-8 byte order mark"},
		{"HTML", "<html><body>Not here</body></html>\n", 1, "", `line 1: "<html><body>Not here</body></html>" is not "key: value"`},
		{"JSON", `{"version": "STSv1"}`, 1, "", `line 1: invalid key "{\"version\""`},
		{"over 64 KiB", base + "max_age: 5\nx: " + strings.Repeat("y", maxPolicySize) + "\n", 0, "", "policy is 65599 bytes, larger than 64 KiB"},
	}
	for _, c := range bad {
		p, err := ParsePolicy([]byte(c.body))
		var pe *PolicyError
		if !errors.As(err, &pe) {
			t.Errorf("%s: ParsePolicy = %+v, %v; want a *PolicyError", c.name, p, err)
			continue
		}
		if p != nil || pe.Line != c.line || pe.Key != c.key || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: error %q (line %d key %q), want %q (line %d key %q)", c.name, err, pe.Line, pe.Key, c.want, c.line, c.key)
		}
	}
}

// TestParsePolicySizeLimit: exactly 64 KiB is a policy, one byte more is not.
func TestParsePolicySizeLimit(t *testing.T) {
	t.Parallel()
	const head = "version: STSv1\nmode: none\nmax_age: 5\nx: "
	body := head + strings.Repeat("y", maxPolicySize-len(head)-1) + "\n"
	if _, err := ParsePolicy([]byte(body)); err != nil || len(body) != maxPolicySize {
		t.Errorf("%d bytes: %v", len(body), err)
	}
	if _, err := ParsePolicy([]byte(body + "\n")); err == nil || !strings.Contains(err.Error(), "larger than 64 KiB") {
		t.Errorf("%d bytes: %v", len(body)+1, err)
	}
}

func TestMatches(t *testing.T) {
	t.Parallel()
	p := &Policy{MX: []string{"mail.example.com", "*.example.net", "Backup.Example.ORG.", "*.mx.example.io."}}
	cases := []struct {
		host string
		want bool
	}{
		{"mail.example.com", true},
		{"MAIL.Example.COM", true},
		{"mail.example.com.", true},
		{"mail.example.com..", false},
		{"example.com", false},
		{"other.example.com", false},
		{"xmail.example.com", false},
		{"a.example.net", true},
		{"A.EXAMPLE.NET.", true},
		{"example.net", false},
		{"a.b.example.net", false},
		{".example.net", false},
		{"aexample.net", false},
		{"backup.example.org", true},
		{"backup.example.org.", true},
		{"one.mx.example.io", true},
		{"one.mx.example.io.", true},
		{"mx.example.io", false},
		{"", false},
		{".", false},
		{"192.0.2.1", false},
	}
	for _, c := range cases {
		if got := p.Matches(c.host); got != c.want {
			t.Errorf("Matches(%q) = %v, want %v", c.host, got, c.want)
		}
	}
	k := &Policy{MX: []string{"mx.example.kom"}}
	if k.Matches("mx.example.\u212aom") {
		t.Error("Unicode case folding matched the Kelvin sign to 'k'")
	}
	if (&Policy{}).Matches("mail.example.com") {
		t.Error("a policy without mx matched")
	}
}
