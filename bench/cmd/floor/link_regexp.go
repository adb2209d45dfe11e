//go:build linkregexp

package main

// Built with -tags linkregexp, the floor links regexp (-R), reachable but
// never run: with a compile reachable, its tables and unicode's are kept.

import (
	"os"
	"regexp"
)

func init() {
	if len(os.Args) > 1000 { // never: the code is linked, not run
		regexp.MustCompile(os.Args[1]).MatchString(os.Args[2])
	}
}
