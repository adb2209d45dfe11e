//go:build linkregexp

package main

// Built with -tags linkregexp, the floor links regexp (-R), without using it.
import _ "regexp"
