package dnsx

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// notAsked marks a server the deadline left no time for.
type notAsked struct{}

func (notAsked) Error() string { return "deadline reached before asking" }

// query asks the servers in order until one gives an answer (NOERROR or
// NXDOMAIN). It returns that reply and the server's index, or every
// failure.
func (c *Client) query(ctx context.Context, fqdn string, qtype uint16) (*dns.Msg, int, []Attempt) {
	q := new(dns.Msg)
	q.SetQuestion(fqdn, qtype)
	q.RecursionDesired = true
	q.SetEdns0(ednsUDPSize, true)
	pkt, err := q.Pack()
	if err != nil {
		// Only an invalid name gets here, and checkName ran before.
		return nil, -1, []Attempt{{Rcode: -1, Err: err}}
	}

	var attempts []Attempt
	for i, srv := range c.servers {
		if err := ctx.Err(); err != nil {
			if len(attempts) == 0 {
				attempts = append(attempts, Attempt{Server: srv.String(), Rcode: -1,
					Timeout: errors.Is(err, context.DeadlineExceeded), Err: notAsked{}})
			}
			break
		}
		actx, cancel := c.share(ctx, len(c.servers)-i)
		m, err := c.ask(actx, srv, q, pkt)
		cancel()
		switch {
		case err != nil:
			if ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
				// The attempt's own share ran out, or the overall deadline did.
				attempts = append(attempts, Attempt{Server: srv.String(), Rcode: -1, Timeout: isTimeout(err), Err: err})
			} else {
				attempts = append(attempts, Attempt{Server: srv.String(), Rcode: -1, Err: ctx.Err()})
				return nil, -1, attempts
			}
		case m.Rcode == dns.RcodeSuccess || m.Rcode == dns.RcodeNameError:
			return m, i, nil
		default:
			attempts = append(attempts, Attempt{Server: srv.String(), Rcode: m.Rcode})
		}
	}
	return nil, -1, attempts
}

// share is one server's part of the time left: an equal split among the
// servers not yet tried.
func (c *Client) share(ctx context.Context, left int) (context.Context, context.CancelFunc) {
	d, ok := ctx.Deadline()
	if !ok {
		return context.WithTimeout(ctx, DefaultServerTimeout)
	}
	if left <= 1 {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, time.Now().Add(time.Until(d)/time.Duration(left)))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.As(err, &ne) && ne.Timeout()
}

// ask sends the query to one server over UDP, and over TCP when the UDP
// reply is truncated. ctx always has a deadline (see share).
func (c *Client) ask(ctx context.Context, srv netip.AddrPort, q *dns.Msg, pkt []byte) (*dns.Msg, error) {
	m, truncated, err := c.askUDP(ctx, srv, q, pkt)
	if err != nil || !truncated {
		return m, err
	}
	return askTCP(ctx, srv, q, pkt)
}

// guard makes conn's I/O end when ctx ends (deadline or cancel), whatever
// the deadline already set on it.
func guard(ctx context.Context, conn net.Conn) (stop func() bool) {
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	return context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
}

// ctxErr prefers the context's reason over the I/O error it caused.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

func (c *Client) askUDP(ctx context.Context, srv netip.AddrPort, q *dns.Msg, pkt []byte) (*dns.Msg, bool, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", srv.String())
	if err != nil {
		return nil, false, ctxErr(ctx, err)
	}
	defer conn.Close()
	defer guard(ctx, conn)()
	if _, err := conn.Write(pkt); err != nil {
		return nil, false, ctxErr(ctx, err)
	}

	// Re-send against a lost datagram; the server sees the same ID.
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(c.resend)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_, _ = conn.Write(pkt)
			}
		}
	}()

	buf := make([]byte, 65535)
	var malformed error
	for {
		n, err := conn.Read(buf)
		if err != nil {
			err = ctxErr(ctx, err)
			if malformed != nil && isTimeout(err) {
				return nil, false, fmt.Errorf("no valid reply within the deadline, only a malformed one (%v)", malformed)
			}
			return nil, false, err
		}
		p := buf[:n]
		// Anything but a reply to this query (a late reply to an earlier
		// one, a forgery) is ignored: keep listening.
		if n < 12 || binary.BigEndian.Uint16(p) != q.Id || p[2]&0x80 == 0 {
			continue
		}
		if p[2]&0x02 != 0 { // TC: the records may be cut mid-way, go to TCP
			return nil, true, nil
		}
		m := new(dns.Msg)
		if err := m.Unpack(p); err != nil {
			malformed = err
			continue
		}
		if !sameQuestion(m, q) {
			continue
		}
		return m, false, nil
	}
}

func askTCP(ctx context.Context, srv netip.AddrPort, q *dns.Msg, pkt []byte) (*dns.Msg, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", srv.String())
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	defer conn.Close()
	defer guard(ctx, conn)()

	out := make([]byte, 2+len(pkt))
	binary.BigEndian.PutUint16(out, uint16(len(pkt)))
	copy(out[2:], pkt)
	if _, err := conn.Write(out); err != nil {
		return nil, ctxErr(ctx, err)
	}
	var l [2]byte
	if _, err := io.ReadFull(conn, l[:]); err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("reading the TCP reply: %w", err))
	}
	p := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(conn, p); err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("reading the TCP reply: %w", err))
	}
	m := new(dns.Msg)
	if err := m.Unpack(p); err != nil {
		return nil, fmt.Errorf("malformed TCP reply: %w", err)
	}
	if m.Id != q.Id || !m.Response || !sameQuestion(m, q) {
		return nil, errors.New("TCP reply does not match the query (ID or question)")
	}
	return m, nil
}

func sameQuestion(m, q *dns.Msg) bool {
	if len(m.Question) != 1 {
		return false
	}
	a, b := m.Question[0], q.Question[0]
	return a.Qtype == b.Qtype && a.Qclass == b.Qclass && strings.EqualFold(a.Name, b.Name)
}
