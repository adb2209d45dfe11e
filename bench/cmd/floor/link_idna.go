//go:build linkidna

package main

// Built with -tags linkidna, the floor links golang.org/x/net/idna (domain
// mode's IDNA conversion) without using it.
import _ "golang.org/x/net/idna"
