package output

import (
	"math"
	"net"
	"strconv"
	"strings"

	"github.com/check-smtp/check-smtp/lib/internal/report"
	"github.com/check-smtp/check-smtp/lib/internal/text"
)

// metricDef is one metric family: its name and HELP text (all are gauges).
type metricDef struct{ name, help string }

// The families, in the order they are written. The text format wants the
// samples of one family together, so samples are gathered per family first.
var promFamilies = [...]metricDef{
	{"smtp_probe_success", "Whether mail is accepted: 1 when the state is OK or WARNING, 0 when CRITICAL or UNKNOWN."},
	{"smtp_probe_status", "The plugin state: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."},
	{"smtp_probe_duration_seconds", "Time the whole check (domain labels only) or the conversation with one address took."},
	{"smtp_step_duration_seconds", "Time spent in one step of the SMTP conversation."},
	{"smtp_step_reply_code", "The last reply code the server sent in the step."},
	{"smtp_failed_step_info", "The step at which the conversation failed (1); absent when none did."},
	{"smtp_starttls_offered", "Whether the server offered STARTTLS in its EHLO reply."},
	{"smtp_tls_version_info", "The TLS version negotiated (1)."},
	{"smtp_tls_cert_verified", "Whether the certificate chain and name verified (0 with -k, where nothing is verified)."},
	{"smtp_tls_cert_expiry_timestamp_seconds", "NotAfter of the server's leaf certificate, as a Unix time."},
	{"smtp_tls_chain_earliest_expiry_timestamp_seconds", "Earliest NotAfter of any certificate of the chain, as a Unix time."},
	{"smtp_dane_state", "The DANE result of the address (one of the state values is 1)."},
	{"smtp_mta_sts_mode_info", "The mode of the domain's MTA-STS policy (1); absent without a policy."},
	{"smtp_mta_sts_mx_covered", "Whether the MX host matches an mx pattern of the domain's MTA-STS policy."},
	{"smtp_tlsrpt_record", "Whether the domain publishes a usable TLSRPT record with at least one rua URI."},
}

const (
	famSuccess = iota
	famStatus
	famDuration
	famStepDuration
	famStepReply
	famFailedStep
	famSTARTTLS
	famTLSVersion
	famCertVerified
	famCertExpiry
	famChainExpiry
	famDANE
	famMTASTSMode
	famMTASTSCovered
	famTLSRPT
)

// daneStates are the values of smtp_dane_state's state label: SPEC's five
// and "unusable" (only records that senders cannot use), which the report
// may hold, so that exactly one is 1.
var daneStates = [...]string{"match", "mismatch", "none", "insecure", "error", "unusable"}

// Prometheus renders the report in the Prometheus text exposition format
// 0.0.4, every family with HELP and TYPE, without timestamps (the textfile
// collector refuses them). Single-server samples carry target="host:port";
// domain mode has one set per MX address (domain, mx, address) and the
// domain's own (domain). Label values are redacted, sanitized ("|" and
// control characters replaced) and escaped; reply text is never a label.
func Prometheus(r *report.Report) []byte {
	e := &promWriter{secrets: r.Secrets}
	if r.Domain == nil {
		for i := range r.Targets {
			t := &r.Targets[i]
			ls := []label{{"target", targetAddress(t)}}
			if !e.claim(ls) {
				continue
			}
			e.add(famSuccess, ls, bool01(success(r.Status)))
			e.add(famStatus, ls, float64(exitCode(r.Status)))
			e.add(famDuration, ls, r.Duration.Seconds())
			e.target(t, ls)
		}
		return e.bytes()
	}
	d := r.Domain
	dl := []label{{"domain", d.Name}}
	e.add(famSuccess, dl, bool01(success(r.Status)))
	e.add(famStatus, dl, float64(exitCode(r.Status)))
	e.add(famDuration, dl, r.Duration.Seconds())
	if p := d.MTASTS; p != nil && p.Mode != "" {
		e.add(famMTASTSMode, with(dl, "mode", p.Mode), 1)
	}
	e.add(famTLSRPT, dl, bool01(d.TLSRPT != nil && d.TLSRPT.Error == "" && len(d.TLSRPT.RUA) > 0))
	for i := range r.Targets {
		t := &r.Targets[i]
		ls := []label{{"domain", d.Name}, {"mx", t.MX}, {"address", t.Address}}
		if !e.claim(ls) {
			continue // a second target with the same labels would be a duplicate series
		}
		e.add(famSuccess, ls, bool01(success(t.Status)))
		e.add(famStatus, ls, float64(exitCode(t.Status)))
		if t.Result != nil {
			e.add(famDuration, ls, t.Result.Total.Seconds())
		}
		if t.MTASTSCovered != nil {
			e.add(famMTASTSCovered, ls, bool01(*t.MTASTSCovered))
		}
		e.target(t, ls)
	}
	return e.bytes()
}

// PrometheusError is the exposition for a run that never started (bad
// options): the error as a comment line, no samples.
func PrometheusError(msg string) []byte {
	return []byte("# check-smtp: " + text.Sanitize(msg) + "\n")
}

// target adds the samples of one conversation.
func (e *promWriter) target(t *report.Target, ls []label) {
	if d := t.DANE; d != nil {
		for _, s := range daneStates {
			e.add(famDANE, with(ls, "state", s), bool01(d.State == s))
		}
	}
	res := t.Result
	if res == nil {
		return
	}
	for _, st := range res.Steps {
		sl := with(ls, "step", string(st.Step))
		e.add(famStepDuration, sl, st.Duration.Seconds())
		if st.Reply != nil {
			e.add(famStepReply, sl, float64(st.Reply.Code))
		}
	}
	if st := failedStep(res); st != "" {
		e.add(famFailedStep, with(ls, "step", string(st)), 1)
	}
	if offered, known := starttlsOffered(res); known {
		e.add(famSTARTTLS, ls, bool01(offered))
	}
	if tl := res.TLS; tl != nil {
		e.add(famTLSVersion, with(ls, "version", tl.Version), 1)
		e.add(famCertVerified, ls, bool01(tl.Verified))
		if leaf := tl.Leaf(); leaf != nil {
			e.add(famCertExpiry, ls, float64(leaf.NotAfter.Unix()))
		}
		if na, ok := chainNotAfter(t); ok {
			e.add(famChainExpiry, ls, float64(na.Unix()))
		}
	}
}

// targetAddress is the single-server target label: host:port, or the
// socket path.
func targetAddress(t *report.Target) string {
	if t.Result != nil {
		return t.Result.Target.Address()
	}
	if t.Port == 0 {
		return t.Host
	}
	return net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
}

type label struct{ name, value string }

// with is ls plus one label, without touching ls's backing array.
func with(ls []label, name, value string) []label {
	return append(ls[:len(ls):len(ls)], label{name, value})
}

// promWriter gathers sample lines per family.
type promWriter struct {
	secrets []string
	samples [len(promFamilies)][]string
	seen    map[string]bool // label sets of targets already written
}

// claim reports whether a target's label set is new, and records it.
func (e *promWriter) claim(ls []label) bool {
	key := e.labels(ls)
	if e.seen[key] {
		return false
	}
	if e.seen == nil {
		e.seen = map[string]bool{}
	}
	e.seen[key] = true
	return true
}

func (e *promWriter) add(fam int, ls []label, v float64) {
	e.samples[fam] = append(e.samples[fam], promFamilies[fam].name+e.labels(ls)+" "+promValue(v))
}

// labels renders {a="x",b="y"}: values redacted, then sanitized so that no
// "|" or control character is left raw, redacted again (sanitizing may join
// the pieces of a secret), then escaped as the format wants.
func (e *promWriter) labels(ls []label) string {
	if len(ls) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.name)
		b.WriteString(`="`)
		b.WriteString(escapeLabelValue(text.Redact(text.Line(l.value, e.secrets), e.secrets)))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

func (e *promWriter) bytes() []byte {
	var b strings.Builder
	for i, lines := range e.samples {
		if len(lines) == 0 {
			continue // a family without samples is left out whole
		}
		f := promFamilies[i]
		b.WriteString("# HELP " + f.name + " " + f.help + "\n")
		b.WriteString("# TYPE " + f.name + " gauge\n")
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return []byte(b.String())
}

// escapeLabelValue escapes backslash, double quote and newline (text
// format 0.0.4).
func escapeLabelValue(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// promValue writes integers plainly (timestamps, codes) and other values in
// the shortest form that reads back exactly.
func promValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
