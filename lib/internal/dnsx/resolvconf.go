package dnsx

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
)

const (
	// maxNameservers is glibc's MAXNS: later nameserver lines are ignored
	// by the system resolver too, so we ask the same servers it would.
	maxNameservers = 3
	// maxResolvConf bounds how much of the file is read.
	maxResolvConf = 64 << 10
)

func readResolvConf(path string) ([]netip.AddrPort, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dns: reading nameservers: %w", err)
	}
	defer f.Close()
	servers, err := parseResolvConf(io.LimitReader(f, maxResolvConf))
	if err != nil {
		return nil, fmt.Errorf("dns: reading nameservers from %s: %w", path, err)
	}
	if len(servers) == 0 {
		return nil, fmt.Errorf("dns: no nameserver line in %s (give --dns-server)", path)
	}
	return servers, nil
}

// parseResolvConf returns the first maxNameservers "nameserver ADDR" entries
// (port 53), like the system resolver. Other keywords are ignored, and so
// are nameserver lines that are not an IP address (glibc skips them too);
// comments start with '#' or ';' at the start of a line or after the
// address.
func parseResolvConf(r io.Reader) ([]netip.AddrPort, error) {
	var servers []netip.AddrPort
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxResolvConf)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		a, err := netip.ParseAddr(f[1])
		if err != nil {
			continue
		}
		if len(servers) < maxNameservers {
			servers = append(servers, netip.AddrPortFrom(a, 53))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return servers, nil
}
