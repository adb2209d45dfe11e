package output

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/probe"
	"github.com/check-smtp/check-smtp/lib/internal/report"
	"github.com/check-smtp/check-smtp/lib/internal/text"
	"github.com/check-smtp/check-smtp/lib/internal/tlsverify"
)

// JSONSchema is the version of the JSON document; it changes only when a
// field changes meaning or goes away.
const JSONSchema = 1

// The JSON document (SPEC Part 4). A field that does not apply is absent:
// pointers and omitempty carry that, never a zero value that could be read
// as a measurement.
type (
	jsonReport struct {
		Schema          int           `json:"schema"`
		Status          string        `json:"status"`
		ExitCode        int           `json:"exit_code"`
		Message         string        `json:"message"`
		DurationSeconds float64       `json:"duration_seconds"`
		Domain          string        `json:"domain,omitempty"`
		MX              *[]jsonMX     `json:"mx,omitempty"`
		MTASTS          *jsonMTASTS   `json:"mta_sts,omitempty"`
		TLSRPT          *jsonTLSRPT   `json:"tlsrpt,omitempty"`
		Findings        []jsonFinding `json:"findings"`
		Targets         []jsonTarget  `json:"targets"`
	}
	jsonError struct {
		Schema   int    `json:"schema"`
		Status   string `json:"status"`
		ExitCode int    `json:"exit_code"`
		Message  string `json:"message"`
	}
	jsonMX struct {
		Preference int    `json:"preference"`
		Host       string `json:"host"`
	}
	jsonMTASTS struct {
		ID     string   `json:"id,omitempty"`
		Mode   string   `json:"mode,omitempty"`
		MaxAge *int64   `json:"max_age,omitempty"` // only with a policy: 0 is a valid max_age
		MX     []string `json:"mx,omitempty"`
		Error  string   `json:"error,omitempty"`
	}
	jsonTLSRPT struct {
		RUA   []string `json:"rua,omitempty"`
		Error string   `json:"error,omitempty"`
	}
	jsonFinding struct {
		Status string `json:"status"`
		Text   string `json:"text"`
	}
	jsonTarget struct {
		Host            string        `json:"host"`
		Address         string        `json:"address,omitempty"`
		Port            int           `json:"port,omitempty"`
		MX              string        `json:"mx,omitempty"`
		Preference      *int          `json:"preference,omitempty"`
		Status          string        `json:"status"`
		FailedStep      string        `json:"failed_step,omitempty"`
		Steps           []jsonStep    `json:"steps"`
		STARTTLSOffered *bool         `json:"starttls_offered,omitempty"`
		TLS             *jsonTLS      `json:"tls,omitempty"`
		DANE            *jsonDANE     `json:"dane,omitempty"`
		MTASTSCovered   *bool         `json:"mta_sts_covered,omitempty"`
		Findings        []jsonFinding `json:"findings"`
		Transcript      []string      `json:"transcript,omitempty"` // -v only
	}
	jsonStep struct {
		Name            string     `json:"name"`
		DurationSeconds float64    `json:"duration_seconds"`
		Reply           *jsonReply `json:"reply,omitempty"`
	}
	jsonReply struct {
		Code int    `json:"code"`
		Text string `json:"text"`
	}
	jsonTLS struct {
		Version               string    `json:"version"`
		Cipher                string    `json:"cipher"`
		Verified              bool      `json:"verified"`
		VerifyError           string    `json:"verify_error,omitempty"`
		Leaf                  *jsonCert `json:"leaf,omitempty"`
		ChainEarliestNotAfter string    `json:"chain_earliest_not_after,omitempty"`
	}
	jsonCert struct {
		Subject   string   `json:"subject"`
		Issuer    string   `json:"issuer"`
		SANs      []string `json:"sans"`
		NotBefore string   `json:"not_before"`
		NotAfter  string   `json:"not_after"`
		DaysLeft  int      `json:"days_left"`
	}
	jsonDANE struct {
		Applies bool   `json:"applies"`
		Result  string `json:"result"`
		Matched string `json:"matched,omitempty"`
	}
)

// JSON renders the report as one JSON object (schema 1) and a newline.
// Every string is redacted with r.Secrets and freed of control characters;
// a multi-line reply keeps its lines apart with "\n".
func JSON(r *report.Report) []byte {
	c := cleaner{secrets: r.Secrets}
	doc := jsonReport{
		Schema: JSONSchema, Status: statusName(r.Status), ExitCode: exitCode(r.Status),
		Message:         c.str(r.Message),
		DurationSeconds: r.Duration.Seconds(),
		Findings:        c.findings(r.Findings),
		Targets:         make([]jsonTarget, 0, len(r.Targets)),
	}
	if d := r.Domain; d != nil {
		doc.Domain = c.str(d.Name)
		mx := make([]jsonMX, 0, len(d.MX))
		for _, m := range d.MX {
			mx = append(mx, jsonMX{Preference: m.Preference, Host: c.str(m.Host)})
		}
		doc.MX = &mx
		if p := d.MTASTS; p != nil {
			j := &jsonMTASTS{ID: c.str(p.ID), Mode: c.str(p.Mode), MX: c.strs(p.MX), Error: c.str(p.Error)}
			if p.Mode != "" {
				j.MaxAge = &p.MaxAge
			}
			doc.MTASTS = j
		}
		if t := d.TLSRPT; t != nil {
			doc.TLSRPT = &jsonTLSRPT{RUA: c.strs(t.RUA), Error: c.str(t.Error)}
		}
	}
	for i := range r.Targets {
		doc.Targets = append(doc.Targets, c.target(&r.Targets[i], r.Domain != nil, r.Verbose))
	}
	return encodeJSON(doc)
}

// JSONError is the document for a run that never started (bad options):
// UNKNOWN, exit code 3, the error as the message.
func JSONError(msg string) []byte {
	return encodeJSON(jsonError{Schema: JSONSchema, Status: "UNKNOWN", ExitCode: 3, Message: cleanJSONText(msg)})
}

func encodeJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "<redacted>" and "<postmaster@...>" stay readable
	if err := enc.Encode(v); err != nil {
		// Only plain structs of strings and numbers are encoded; a failure is a bug.
		panic("output: JSON encoding: " + err.Error())
	}
	return b.Bytes()
}

func (c cleaner) target(t *report.Target, domainMode, verbose bool) jsonTarget {
	j := jsonTarget{
		Host: c.str(t.Host), Address: c.str(t.Address), Port: t.Port,
		Status:        statusName(t.Status),
		Steps:         []jsonStep{},
		Findings:      c.findings(t.Findings),
		MTASTSCovered: t.MTASTSCovered,
	}
	if domainMode {
		j.MX = c.str(t.MX)
		pref := t.Preference
		j.Preference = &pref
	}
	if d := t.DANE; d != nil {
		j.DANE = &jsonDANE{Applies: d.Applies, Result: c.str(d.State), Matched: c.str(d.Matched)}
	}
	res := t.Result
	if res == nil {
		return j
	}
	j.FailedStep = string(failedStep(res))
	for _, st := range res.Steps {
		s := jsonStep{Name: string(st.Step), DurationSeconds: st.Duration.Seconds()}
		if st.Reply != nil {
			s.Reply = &jsonReply{Code: st.Reply.Code, Text: c.lines(st.Reply.Lines)}
		}
		j.Steps = append(j.Steps, s)
	}
	if offered, known := starttlsOffered(res); known {
		j.STARTTLSOffered = &offered
	}
	if tl := res.TLS; tl != nil {
		jt := &jsonTLS{Version: c.str(tl.Version), Cipher: c.str(tl.Cipher), Verified: tl.Verified,
			VerifyError: c.str(verifyError(res))}
		if leaf := tl.Leaf(); leaf != nil {
			jt.Leaf = &jsonCert{
				Subject: c.str(leaf.Subject.String()), Issuer: c.str(leaf.Issuer.String()),
				SANs:      c.strs(sans(leaf)),
				NotBefore: rfc3339(leaf.NotBefore), NotAfter: rfc3339(leaf.NotAfter),
				DaysLeft: tlsverify.DaysLeft(leaf, res.Started),
			}
			if jt.Leaf.SANs == nil {
				jt.Leaf.SANs = []string{}
			}
		}
		if na, ok := chainNotAfter(t); ok {
			jt.ChainEarliestNotAfter = rfc3339(na)
		}
		j.TLS = jt
	}
	if verbose {
		j.Transcript = c.strs(res.Transcript)
	}
	return j
}

func (c cleaner) findings(fs []report.Finding) []jsonFinding {
	out := make([]jsonFinding, 0, len(fs))
	for _, f := range fs {
		out = append(out, jsonFinding{Status: statusName(f.Status), Text: c.str(f.Text)})
	}
	return out
}

// cleaner makes outside text fit for a JSON string: credentials redacted
// first (so a secret holding a control character is still found whole),
// then control characters removed, then redacted again (removing them may
// join the pieces of a secret). "|" is harmless in JSON and kept.
type cleaner struct{ secrets []string }

func (c cleaner) str(s string) string {
	return text.Redact(cleanJSONText(text.Redact(s, c.secrets)), c.secrets)
}

func (c cleaner) strs(ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = c.str(s)
	}
	return out
}

// lines joins reply lines with "\n", the one control character allowed:
// redaction sees the joined text, cleaning each line.
func (c cleaner) lines(ls []string) string {
	joined := text.Redact(strings.Join(ls, "\n"), c.secrets)
	parts := strings.Split(joined, "\n")
	for i, p := range parts {
		parts[i] = cleanJSONText(p)
	}
	return text.Redact(strings.Join(parts, "\n"), c.secrets)
}

// cleanJSONText drops control characters (a tab becomes a space) and
// replaces invalid UTF-8, which encoding/json would turn into U+FFFD
// silently.
func cleanJSONText(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '\t':
			b.WriteByte(' ')
		case r == utf8.RuneError && size == 1:
			b.WriteByte('?')
		case unicode.IsControl(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Facts every format reports the same way, read from the report without
// judging them.

func statusName(s checkers.Status) string {
	if s < checkers.OK || s > checkers.UNKNOWN {
		return checkers.UNKNOWN.String()
	}
	return s.String()
}

// exitCode is the plugin exit code of a state: 0-3 only.
func exitCode(s checkers.Status) int {
	if s < checkers.OK || s > checkers.UNKNOWN {
		return int(checkers.UNKNOWN)
	}
	return int(s)
}

// success is what smtp_probe_success means: mail is accepted (OK or WARNING).
func success(s checkers.Status) bool { return s == checkers.OK || s == checkers.WARNING }

// failedStep is the step the conversation broke at: the failure that ended
// it, or a QUIT that could not be completed; "" when none did.
func failedStep(res *probe.Result) probe.Step {
	switch {
	case res.Failure != nil:
		return res.Failure.Step
	case res.QuitError != nil:
		if res.QuitError.Step == "" {
			return probe.StepQuit
		}
		return res.QuitError.Step
	}
	return ""
}

// starttlsOffered says whether the first EHLO reply offered STARTTLS, and
// whether that is known at all: not before an EHLO was answered, and not
// with implicit TLS, where the question does not arise.
func starttlsOffered(res *probe.Result) (offered, known bool) {
	for _, st := range res.Steps {
		if st.Step == probe.StepBanner {
			break
		}
		if st.Step == probe.StepTLS {
			return false, false // implicit TLS: the handshake came before the banner
		}
	}
	switch {
	case res.STARTTLSOffered:
		return true, true
	case res.Greeting != nil:
		return false, true
	case res.Failure != nil && res.Failure.Kind == probe.KindUnsupported:
		// The greeting is recorded only after the STARTTLS decision, so an
		// "unsupported" failure without one is STARTTLS not offered.
		return false, true
	}
	return false, false
}

// verifyError is why the certificate did not verify: recorded by a lenient
// probe, or the failure that ended a strict one.
func verifyError(res *probe.Result) string {
	if res.TLS != nil && res.TLS.VerifyError != nil {
		return res.TLS.VerifyError.Error()
	}
	if f := res.Failure; f != nil && f.Kind == probe.KindVerification {
		return f.Message.String()
	}
	return ""
}

// chainNotAfter is the earliest expiry of the chain: as the evaluation
// judged it, else as presented.
func chainNotAfter(t *report.Target) (time.Time, bool) {
	if !t.ChainNotAfter.IsZero() {
		return t.ChainNotAfter, true
	}
	if t.Result == nil || t.Result.TLS == nil || len(t.Result.TLS.Chain) == 0 {
		return time.Time{}, false
	}
	var earliest time.Time
	for i, c := range t.Result.TLS.Chain {
		if i == 0 || c.NotAfter.Before(earliest) {
			earliest = c.NotAfter
		}
	}
	return earliest, true
}

// leafDaysLeft is the leaf's remaining whole days as of the probe's start.
func leafDaysLeft(res *probe.Result) (int, bool) {
	if res == nil {
		return 0, false
	}
	leaf := res.TLS.Leaf()
	if leaf == nil {
		return 0, false
	}
	return tlsverify.DaysLeft(leaf, res.Started), true
}

func sans(c *x509.Certificate) []string {
	out := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
