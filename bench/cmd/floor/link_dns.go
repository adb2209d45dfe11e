//go:build linkdns

package main

// Built with -tags linkdns, the floor links github.com/miekg/dns without
// using it: the start-up cost of the package being linked in.
import _ "github.com/miekg/dns"
