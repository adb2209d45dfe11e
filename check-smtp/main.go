// Command check-smtp probes an SMTP or LMTP server and reports in the
// Nagios/Mackerel plugin conventions.
package main

import checksmtp "github.com/check-smtp/check-smtp/lib"

func main() {
	checksmtp.Do()
}
