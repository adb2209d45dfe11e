package dnsx

import (
	"context"
	"errors"
	"strconv"
	"strings"
)

// Error is a lookup that produced no usable answer: every server failed, the
// name was refused before asking, the answer broke a limit, or (LookupIP
// only) the name has no address. Its fields describe the last server
// tried; Attempts lists every server tried, in order.
type Error struct {
	Name    string // the name looked up, as given
	Type    string // "MX", "A", "AAAA", "TXT", "TLSA", "A/AAAA"
	Rcode   int    // the last server's rcode (2 SERVFAIL, 5 REFUSED...), -1 when none
	Timeout bool   // the last server did not answer within the deadline
	Server  string // the last server tried, "IP:PORT"; "" when none was asked
	Err     error  // the underlying cause (network error, limit, bad name), or nil

	Attempts []Attempt
}

// Attempt is one server's failure within an Error.
type Attempt struct {
	Server  string
	Rcode   int // -1 when the server gave no usable reply
	Timeout bool
	Err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Type)
	b.WriteString(" lookup of ")
	b.WriteString(printable(e.Name))
	b.WriteString(": ")
	switch {
	case len(e.Attempts) > 0:
		for i, a := range e.Attempts {
			if i > 0 {
				b.WriteString(", then ")
			}
			b.WriteString(a.describe())
		}
	case e.Rcode >= 0 && e.Err == nil:
		b.WriteString(rcodeText(e.Rcode, e.Type))
		if e.Server != "" {
			b.WriteString(" (from " + e.Server + ")")
		}
	case e.Err != nil:
		b.WriteString(e.Err.Error())
		if e.Server != "" {
			b.WriteString(" (from " + e.Server + ")")
		}
	default:
		b.WriteString("failed")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

func (a Attempt) describe() string {
	switch {
	case errors.As(a.Err, new(notAsked)):
		return "deadline reached before asking " + a.Server
	case a.Timeout:
		return "no answer from " + a.Server + " within the deadline"
	case a.Rcode >= 0:
		return rcodeName(a.Rcode) + " from " + a.Server
	case errors.Is(a.Err, context.Canceled):
		return "canceled before " + a.Server + " answered"
	case a.Err != nil:
		return a.Server + ": " + a.Err.Error()
	default:
		return "no usable reply from " + a.Server
	}
}

func rcodeText(rcode int, qtype string) string {
	switch rcode {
	case rcodeNameError:
		return "no such domain (NXDOMAIN)"
	case rcodeSuccess:
		return "no " + qtype + " records"
	}
	return rcodeName(rcode)
}

func rcodeName(rcode int) string {
	// The names miekg/dns gave (its RcodeToString), 16 as BADSIG.
	switch rcode {
	case 0:
		return "NOERROR"
	case 1:
		return "FORMERR"
	case 2:
		return "SERVFAIL"
	case 3:
		return "NXDOMAIN"
	case 4:
		return "NOTIMP"
	case 5:
		return "REFUSED"
	case 6:
		return "YXDOMAIN"
	case 7:
		return "YXRRSET"
	case 8:
		return "NXRRSET"
	case 9:
		return "NOTAUTH"
	case 10:
		return "NOTZONE"
	case 11:
		return "DSOTYPENI"
	case 16:
		return "BADSIG"
	case 17:
		return "BADKEY"
	case 18:
		return "BADTIME"
	case 19:
		return "BADMODE"
	case 20:
		return "BADNAME"
	case 21:
		return "BADALG"
	case 22:
		return "BADTRUNC"
	case 23:
		return "BADCOOKIE"
	}
	return "rcode " + strconv.Itoa(rcode)
}

// LimitError is an answer over one of the package's limits; it is the Err
// of an *Error.
type LimitError struct {
	What  string // "TXT record set"
	Size  int    // what the answer had
	Limit int    // what is accepted
	Unit  string // "bytes"
}

func (e *LimitError) Error() string {
	return e.What + " of " + strconv.Itoa(e.Size) + " " + e.Unit + " exceeds the limit of " + strconv.Itoa(e.Limit) + " " + e.Unit
}

// printable quotes a name that would not read plainly in a message.
func printable(name string) string {
	for i := 0; i < len(name); i++ {
		if name[i] <= ' ' || name[i] >= 0x7f {
			return strconv.Quote(name)
		}
	}
	if name == "" {
		return `""`
	}
	return name
}
