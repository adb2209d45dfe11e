package main

import (
	"net"
	"syscall"
)

// quickAckConn re-arms TCP_QUICKACK before every read, so that the server
// acknowledges at once instead of delaying its ACK (40 ms minimum on Linux).
// Without it a client that leaves Nagle's algorithm on and writes twice in a
// row (OpenSSL's TLS Finished, then EHLO) stalls until the delayed ACK, a
// cost a server that answers the Finished with data (OpenSSL's session
// tickets) does not impose; the Go TLS server sends its tickets earlier.
type quickAckConn struct {
	*net.TCPConn
	raw syscall.RawConn
}

func withQuickAck(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	return &quickAckConn{tc, raw}
}

func (c *quickAckConn) Read(p []byte) (int, error) {
	c.raw.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
	return c.TCPConn.Read(p)
}
