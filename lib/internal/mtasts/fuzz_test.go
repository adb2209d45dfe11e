package mtasts

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// FuzzParsePolicy: any body either parses into a policy that keeps every
// promise of the Policy type (and formats back to itself), or fails with a
// *PolicyError naming a line that exists. Seeds: testdata/fuzz/FuzzParsePolicy.
func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(goodPolicy))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParsePolicy(body)
		if err != nil {
			var pe *PolicyError
			if !errors.As(err, &pe) || err.Error() == "" {
				t.Fatalf("error %v is not a *PolicyError", err)
			}
			if lines := bytes.Count(body, []byte("\n")) + 1; pe.Line < 0 || pe.Line > lines {
				t.Fatalf("error on line %d of %d", pe.Line, lines)
			}
			return
		}
		if p.Version != "STSv1" || p.MaxAge < 0 || p.MaxAge > maxMaxAge || len(body) > maxPolicySize {
			t.Fatalf("accepted %+v from %d bytes", p, len(body))
		}
		switch p.Mode {
		case "enforce", "testing":
			if len(p.MX) == 0 {
				t.Fatalf("mode %s without mx", p.Mode)
			}
		case "none":
		default:
			t.Fatalf("mode %q", p.Mode)
		}
		for _, mx := range p.MX {
			one := &Policy{MX: []string{mx}} // other patterns could match more
			host := strings.TrimSuffix(mx, ".")
			if s, ok := strings.CutPrefix(host, "*."); ok {
				host = "x." + s
			}
			if !one.Matches(host) || !one.Matches(strings.ToUpper(host)+".") {
				t.Fatalf("pattern %q does not match %q", mx, host)
			}
			if one.Matches("x.y." + host) {
				t.Fatalf("pattern %q matches two more labels", mx)
			}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "version: %s\r\nmode: %s\r\nmax_age: %d\r\n", p.Version, p.Mode, p.MaxAge)
		for _, mx := range p.MX {
			fmt.Fprintf(&b, "mx: %s\n", mx)
		}
		again, err := ParsePolicy([]byte(b.String()))
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("formatted %+v does not parse back: %+v, %v", p, again, err)
		}
	})
}

// FuzzParseRecord: a record is accepted only with a valid id, and
// SelectRecord agrees with ParseRecord. Seeds: testdata/fuzz/FuzzParseRecord.
func FuzzParseRecord(f *testing.F) {
	f.Add("v=STSv1; id=20160831085700Z;")
	f.Fuzz(func(t *testing.T, txt string) {
		r, err := ParseRecord(txt)
		_, st, serr := SelectRecord([]string{txt})
		if err != nil {
			if st == Found || (st == Invalid) != (serr != nil) {
				t.Fatalf("ParseRecord failed (%v) but SelectRecord says %v, %v", err, st, serr)
			}
			return
		}
		if !strings.HasPrefix(txt, "v=STSv1") || !isAlnum(r.ID) || len(r.ID) > 32 || !strings.Contains(txt, "id="+r.ID) {
			t.Fatalf("accepted %q with id %q", txt, r.ID)
		}
		if st != Found || serr != nil {
			t.Fatalf("ParseRecord accepted %q but SelectRecord says %v, %v", txt, st, serr)
		}
		if _, st, _ := SelectRecord([]string{txt, txt}); st != Invalid {
			t.Fatalf("two copies of %q: %v", txt, st)
		}
	})
}
