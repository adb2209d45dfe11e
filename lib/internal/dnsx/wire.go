package dnsx

import (
	"crypto/rand"
	"encoding/binary"
	"net"
	"strconv"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// The wire format goes through golang.org/x/net/dns/dnsmessage, which does
// next to nothing at init; miekg/dns (used before) built lookup maps at init
// and added about 540 KB to the binary. What miekg/dns did that dnsmessage does
// not is done here: record data bounded by RDLENGTH, names in miekg/dns's
// presentation form (escaped), the EDNS0 extended rcode.

// Record types and rcodes the package uses.
const (
	typeA     = uint16(dnsmessage.TypeA)
	typeCNAME = uint16(dnsmessage.TypeCNAME)
	typeMX    = uint16(dnsmessage.TypeMX)
	typeTXT   = uint16(dnsmessage.TypeTXT)
	typeAAAA  = uint16(dnsmessage.TypeAAAA)
	typeTLSA  = uint16(52) // RFC 6698; dnsmessage has no constant
	typeOPT   = uint16(dnsmessage.TypeOPT)
	classINET = uint16(dnsmessage.ClassINET)

	rcodeSuccess   = 0
	rcodeNameError = 3
)

func typeName(t uint16) string {
	switch t {
	case typeA:
		return "A"
	case typeCNAME:
		return "CNAME"
	case typeMX:
		return "MX"
	case typeTXT:
		return "TXT"
	case typeAAAA:
		return "AAAA"
	case typeTLSA:
		return "TLSA"
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// question is the question of a query or of a reply. name is in
// presentation form with the trailing dot.
type question struct {
	name          string
	qtype, qclass uint16
}

// reply is what the lookups use of a DNS reply.
type reply struct {
	id       uint16
	response bool
	rcode    int // with the EDNS0 extended rcode bits, as miekg/dns gave it
	ad       bool
	question []question
	answer   []record
}

// record is one answer record; only the fields of its type are set.
// Records of other types than the package asks for keep their header only.
type record struct {
	name  string // owner, presentation form with the trailing dot
	rtype uint16
	class uint16
	rdlen uint16

	target string   // CNAME target, MX exchange (presentation form)
	pref   uint16   // MX
	ip     net.IP   // A (4 bytes), AAAA (16 bytes)
	txt    []string // TXT character-strings, raw bytes
	tlsa   TLSA
}

// packQuery builds the query for fqdn (checked by checkName): a random ID,
// RD, and an EDNS0 OPT record with the DO bit and UDP size ednsUDPSize.
func packQuery(fqdn string, qtype uint16) ([]byte, question, uint16, error) {
	var idb [2]byte
	_, _ = rand.Read(idb[:]) // never fails (Go 1.24+)
	id := binary.BigEndian.Uint16(idb[:])
	name, err := dnsmessage.NewName(fqdn)
	if err != nil {
		return nil, question{}, 0, err
	}
	q := dnsmessage.Question{Name: name, Type: dnsmessage.Type(qtype), Class: dnsmessage.ClassINET}
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), dnsmessage.Header{ID: id, RecursionDesired: true})
	if err := b.StartQuestions(); err != nil {
		return nil, question{}, 0, err
	}
	if err := b.Question(q); err != nil {
		return nil, question{}, 0, err
	}
	if err := b.StartAdditionals(); err != nil {
		return nil, question{}, 0, err
	}
	var opt dnsmessage.ResourceHeader
	if err := opt.SetEDNS0(ednsUDPSize, dnsmessage.RCodeSuccess, true); err != nil {
		return nil, question{}, 0, err
	}
	if err := b.OPTResource(opt, dnsmessage.OPTResource{}); err != nil {
		return nil, question{}, 0, err
	}
	pkt, err := b.Finish()
	if err != nil {
		return nil, question{}, 0, err
	}
	return pkt, question{name: presentName(name), qtype: qtype, qclass: classINET}, id, nil
}

// errRdata is record data that does not fill its RDLENGTH exactly (a type,
// not an errors.New variable: nothing to run at init).
type errRdata struct{}

func (errRdata) Error() string { return "record data does not match its RDLENGTH" }

// parseReply parses a whole reply. Answer records of the types the package
// asks for (and CNAME) are decoded; the data of every other record, in
// every section, is only checked to fit the message. A record whose data
// is malformed, or overruns or falls short of its RDLENGTH, makes the whole
// reply malformed, except an RDLENGTH of 0, kept as a record without data.
func parseReply(msg []byte) (*reply, error) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return nil, err
	}
	m := &reply{
		id:       h.ID,
		response: h.Response,
		rcode:    int(h.RCode),
		ad:       h.AuthenticData,
	}
	if len(msg) == 12 {
		// Only a header (servers send these with REFUSED): no question,
		// whatever the counts say.
		return m, nil
	}
	for {
		q, err := p.Question()
		if err == dnsmessage.ErrSectionDone {
			break
		}
		if err != nil {
			return nil, err
		}
		m.question = append(m.question, question{name: presentName(q.Name), qtype: uint16(q.Type), qclass: uint16(q.Class)})
	}
	for {
		hdr, err := p.AnswerHeader()
		if err == dnsmessage.ErrSectionDone {
			break
		}
		if err != nil {
			return nil, err
		}
		rec, err := parseAnswer(&p, hdr)
		if err != nil {
			return nil, err
		}
		m.answer = append(m.answer, rec)
	}
	if err := p.SkipAllAuthorities(); err != nil {
		return nil, err
	}
	// miekg/dns took the last OPT record's extended rcode.
	var ext uint32
	for {
		hdr, err := p.AdditionalHeader()
		if err == dnsmessage.ErrSectionDone {
			break
		}
		if err != nil {
			return nil, err
		}
		if uint16(hdr.Type) == typeOPT {
			ext = hdr.TTL >> 24
		}
		if err := p.SkipAdditional(); err != nil {
			return nil, err
		}
	}
	m.rcode |= int(ext) << 4
	return m, nil
}

// parseAnswer decodes the record whose header p has just parsed.
func parseAnswer(p *dnsmessage.Parser, hdr dnsmessage.ResourceHeader) (record, error) {
	rec := record{name: presentName(hdr.Name), rtype: uint16(hdr.Type), class: uint16(hdr.Class), rdlen: hdr.Length}
	if hdr.Length == 0 {
		return rec, p.SkipAnswer()
	}
	switch rec.rtype {
	case typeA, typeAAAA, typeTXT, typeTLSA, typeMX, typeCNAME:
	default:
		return rec, p.SkipAnswer()
	}
	if rec.rtype == typeTXT {
		t, err := p.TXTResource()
		if err != nil {
			return rec, err
		}
		rec.txt = t.TXT
		return rec, nil
	}
	// The raw data, from a copy of the parser: dnsmessage decodes the
	// names in MX and CNAME without bounding them by RDLENGTH.
	raw := *p
	u, err := raw.UnknownResource()
	if err != nil {
		return rec, err
	}
	d := u.Data
	switch rec.rtype {
	case typeA, typeAAAA:
		want := net.IPv4len
		if rec.rtype == typeAAAA {
			want = net.IPv6len
		}
		if len(d) != want {
			return rec, errRdata{}
		}
		rec.ip = net.IP(d)
	case typeTLSA:
		// As miekg/dns: the fields missing from a short record are 0.
		var f [3]byte
		copy(f[:], d)
		rec.tlsa = TLSA{Usage: f[0], Selector: f[1], MatchingType: f[2], Data: []byte{}}
		if len(d) > 3 {
			rec.tlsa.Data = d[3:]
		}
	case typeMX:
		if len(d) < 2 || !nameFills(d[2:]) {
			return rec, errRdata{}
		}
		mx, err := p.MXResource()
		if err != nil {
			return rec, err
		}
		rec.pref, rec.target = mx.Pref, presentName(mx.MX)
		return rec, nil
	case typeCNAME:
		if !nameFills(d) {
			return rec, errRdata{}
		}
		cn, err := p.CNAMEResource()
		if err != nil {
			return rec, err
		}
		rec.target = presentName(cn.CNAME)
		return rec, nil
	}
	return rec, p.SkipAnswer()
}

// nameFills reports whether b is exactly one wire-format name: labels
// ending in the root label or in a compression pointer. An MX of a
// preference only (no name) is not one: miekg/dns read it as the null MX.
func nameFills(b []byte) bool {
	for i := 0; i < len(b); {
		switch c := b[i]; {
		case c == 0:
			return i+1 == len(b)
		case c&0xC0 == 0xC0:
			return i+2 == len(b)
		case c&0xC0 != 0:
			return false
		default:
			i += 1 + int(c)
		}
	}
	return false
}

// presentName writes a name as miekg/dns did: labels separated by dots
// with the trailing dot, the bytes . space ' @ ; ( ) " \ escaped with a
// backslash and bytes outside printable ASCII as \DDD, so that a name
// never carries control characters into messages. dnsmessage refuses
// names with a dot inside a label, so every dot it gives separates labels.
func presentName(n dnsmessage.Name) string {
	s := n.String()
	plain := true
	for i := 0; i < len(s); i++ {
		if b := s[i]; b != '.' && (isSpecial(b) || b < ' ' || b > '~') {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			b.WriteByte(c)
		case isSpecial(c):
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			b.WriteByte('\\')
			b.WriteByte('0' + c/100)
			b.WriteByte('0' + c/10%10)
			b.WriteByte('0' + c%10)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isSpecial(b byte) bool {
	switch b {
	case ' ', '\'', '@', ';', '(', ')', '"', '\\':
		return true
	}
	return false
}
