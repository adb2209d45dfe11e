//go:build linkjson

package main

// Built with -tags linkjson, the floor links encoding/json (the JSON output
// format), reachable but never run.

import (
	"encoding/json"
	"os"
)

func init() {
	if len(os.Args) > 1000 { // never: the code is linked, not run
		json.Marshal(os.Args)
	}
}
