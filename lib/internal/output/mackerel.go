package output

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/check-smtp/check-smtp/lib/internal/probe"
	"github.com/check-smtp/check-smtp/lib/internal/report"
)

// DefaultMetricKeyPrefix is the --metric-key-prefix default.
const DefaultMetricKeyPrefix = "smtp"

// CheckMetricKeyPrefix says whether prefix can start a Mackerel metric
// name: dot-separated parts of [-a-zA-Z0-9_], none empty.
func CheckMetricKeyPrefix(prefix string) error {
	if prefix == "" {
		return errors.New("the metric key prefix is empty")
	}
	for part := range strings.SplitSeq(prefix, ".") {
		if part == "" {
			return errors.New("the metric key prefix has an empty part (a leading, trailing or doubled dot)")
		}
		if part != metricKey(part) {
			return errors.New("the metric key prefix may hold only letters, digits, '-', '_' and '.'")
		}
	}
	return nil
}

// Mackerel renders the report as mackerel-agent metric-plugin lines,
// "name\tvalue\tepoch" (SPEC Part 4): <prefix>.time.total (seconds),
// <prefix>.probe.success (1 for OK and WARNING) and, when a certificate was
// seen, <prefix>.cert.days_left. Single-server mode adds <prefix>.time.<step>
// for every step that ran; domain mode adds <prefix>.mx.<key>.total and
// .cert_days per MX address, <key> the MX name and address with every
// character outside [-a-zA-Z0-9_] replaced by "_" (made unique by a suffix
// should two collide), and cert.days_left is the fewest of any address.
// Every name matches ^[-a-zA-Z0-9_.]+$: an invalid prefix is made valid the
// same way (callers refuse it first with CheckMetricKeyPrefix).
func Mackerel(r *report.Report, prefix string, now time.Time) []byte {
	p := cleanPrefix(prefix)
	epoch := "\t" + strconv.FormatInt(now.Unix(), 10) + "\n"
	var b strings.Builder
	line := func(name, value string) { b.WriteString(p + "." + name + "\t" + value + epoch) }

	line("time.total", seconds(r.Duration))
	if r.Domain == nil {
		for _, t := range r.Targets {
			if t.Result == nil {
				continue
			}
			for _, st := range t.Result.Steps {
				line("time."+metricKey(string(st.Step)), seconds(st.Duration))
			}
		}
	}
	fewest, haveDays := 0, false
	for _, t := range r.Targets {
		if d, ok := leafDaysLeft(t.Result); ok && (!haveDays || d < fewest) {
			fewest, haveDays = d, true
		}
	}
	if haveDays {
		line("cert.days_left", strconv.Itoa(fewest))
	}
	line("probe.success", strconv.Itoa(int(bool01(success(r.Status)))))
	if r.Domain != nil {
		used := map[string]bool{}
		for _, t := range r.Targets {
			key := uniqueKey(mxKey(t.MX, t.Address), used)
			if t.Result != nil {
				line("mx."+key+".total", seconds(t.Result.Total))
			}
			if d, ok := leafDaysLeft(t.Result); ok {
				line("mx."+key+".cert_days", strconv.Itoa(d))
			}
		}
	}
	return []byte(b.String())
}

// The graph definitions, as mackerel-agent decodes them (metrics/plugin.go
// pluginMeta): graph names are relative to "custom.", metric names to
// their graph.
type (
	mackerelMeta struct {
		Graphs map[string]mackerelGraph `json:"graphs"`
	}
	mackerelGraph struct {
		Label   string           `json:"label"`
		Unit    string           `json:"unit"`
		Metrics []mackerelMetric `json:"metrics"`
	}
	mackerelMetric struct {
		Name  string `json:"name"`
		Label string `json:"label"`
	}
)

// MackerelMeta is the output for MACKEREL_AGENT_PLUGIN_META: the header
// line "# mackerel-agent-plugin" and the graph definitions as JSON. Per-MX
// metrics are grouped by the "#" wildcard: one line per MX address and
// measure on the <prefix>.mx.# graph, labelled from the key.
func MackerelMeta(prefix string) []byte {
	p := cleanPrefix(prefix)
	steps := []mackerelMetric{{Name: "total", Label: "total"}}
	for _, st := range probe.Steps() {
		steps = append(steps, mackerelMetric{Name: string(st), Label: string(st)})
	}
	meta := mackerelMeta{Graphs: map[string]mackerelGraph{
		p + ".time":  {Label: "SMTP response time (" + p + ")", Unit: "float", Metrics: steps},
		p + ".cert":  {Label: "SMTP certificate days left (" + p + ")", Unit: "integer", Metrics: []mackerelMetric{{Name: "days_left", Label: "days left"}}},
		p + ".probe": {Label: "SMTP probe success (" + p + ")", Unit: "integer", Metrics: []mackerelMetric{{Name: "success", Label: "success"}}},
		p + ".mx.#": {Label: "SMTP per MX address (" + p + ")", Unit: "float", Metrics: []mackerelMetric{
			{Name: "total", Label: "%1 time (s)"},
			{Name: "cert_days", Label: "%1 certificate days left"},
		}},
	}}
	body, err := json.Marshal(meta)
	if err != nil {
		panic("output: graph definitions: " + err.Error()) // plain strings only: a bug
	}
	return append(append([]byte("# mackerel-agent-plugin\n"), body...), '\n')
}

// mxKey is the per-address part of a domain-mode metric name.
func mxKey(mx, address string) string {
	if address == "" {
		return metricKey(mx)
	}
	return metricKey(mx + "_" + address)
}

// uniqueKey appends _2, _3, ... to a key already used in this run. Targets
// come in preference order, so the suffixes are stable from run to run.
func uniqueKey(key string, used map[string]bool) string {
	k := key
	for n := 2; used[k]; n++ {
		k = key + "_" + strconv.Itoa(n)
	}
	used[k] = true
	return k
}

// metricKey replaces every character outside [-a-zA-Z0-9_] with "_": one
// part of a metric name, free of dots.
func metricKey(s string) string {
	if s == "" {
		return "_"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' || c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// cleanPrefix makes any prefix a valid start of a metric name.
func cleanPrefix(prefix string) string {
	var parts []string
	for part := range strings.SplitSeq(prefix, ".") {
		if part != "" {
			parts = append(parts, metricKey(part))
		}
	}
	if len(parts) == 0 {
		return DefaultMetricKeyPrefix
	}
	return strings.Join(parts, ".")
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }
