//go:build linkdns

package main

// Built with -tags linkdns, the floor links github.com/miekg/dns as dnsx
// uses it (a query packed, a reply unpacked), reachable but never run: the
// start-up cost of the package being linked in.

import (
	"os"

	"github.com/miekg/dns"
)

func init() {
	if len(os.Args) > 1000 { // never: the code is linked, not run
		m := new(dns.Msg)
		m.SetQuestion(os.Args[1], dns.TypeMX)
		m.SetEdns0(1232, true)
		if b, err := m.Pack(); err == nil {
			m.Unpack(b)
		}
	}
}
