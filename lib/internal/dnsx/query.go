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
)

// notAsked marks a server the deadline left no time for.
type notAsked struct{}

func (notAsked) Error() string { return "deadline reached before asking" }

// query asks the servers in order until one gives an answer (NOERROR or
// NXDOMAIN). It returns that reply and the server's index, or every
// failure.
func (c *Client) query(ctx context.Context, fqdn string, qtype uint16) (*reply, int, []Attempt) {
	pkt, qq, id, err := packQuery(fqdn, qtype)
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
		m, err := c.ask(actx, srv, qq, id, pkt)
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
		case m.rcode == rcodeSuccess || m.rcode == rcodeNameError:
			return m, i, nil
		default:
			attempts = append(attempts, Attempt{Server: srv.String(), Rcode: m.rcode})
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
func (c *Client) ask(ctx context.Context, srv netip.AddrPort, q question, id uint16, pkt []byte) (*reply, error) {
	m, truncated, err := c.askUDP(ctx, srv, q, id, pkt)
	if err != nil || !truncated {
		return m, err
	}
	return askTCP(ctx, srv, q, id, pkt)
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

func (c *Client) askUDP(ctx context.Context, srv netip.AddrPort, q question, id uint16, pkt []byte) (*reply, bool, error) {
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
		if n < 12 || binary.BigEndian.Uint16(p) != id || p[2]&0x80 == 0 {
			continue
		}
		if p[2]&0x02 != 0 { // TC: the records may be cut mid-way, go to TCP
			return nil, true, nil
		}
		m, err := parseReply(p)
		if err != nil {
			malformed = err
			continue
		}
		if !sameQuestion(m, q) {
			continue
		}
		return m, false, nil
	}
}

func askTCP(ctx context.Context, srv netip.AddrPort, q question, id uint16, pkt []byte) (*reply, error) {
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
	m, err := parseReply(p)
	if err != nil {
		return nil, fmt.Errorf("malformed TCP reply: %w", err)
	}
	if m.id != id || !m.response || !sameQuestion(m, q) {
		return nil, errors.New("TCP reply does not match the query (ID or question)")
	}
	return m, nil
}

func sameQuestion(m *reply, q question) bool {
	if len(m.question) != 1 {
		return false
	}
	a := m.question[0]
	return a.qtype == q.qtype && a.qclass == q.qclass && strings.EqualFold(a.name, q.name)
}
