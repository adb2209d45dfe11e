//go:build linkjson

package main

// Built with -tags linkjson, the floor links encoding/json, which the JSON
// output format needs, without using it.
import _ "encoding/json"
