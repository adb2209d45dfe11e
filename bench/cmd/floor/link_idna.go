//go:build linkidna

package main

// Built with -tags linkidna, the floor links golang.org/x/net/idna (domain
// mode's IDNA conversion), reachable but never run.

import (
	"os"

	"golang.org/x/net/idna"
)

func init() {
	if len(os.Args) > 1000 { // never: the code is linked, not run
		idna.Lookup.ToASCII(os.Args[1])
	}
}
