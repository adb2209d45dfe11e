package checksmtp

import "github.com/check-smtp/check-smtp/lib/internal/output"

// pendingOptions refuses options whose feature is not built yet, so that a
// command line naming one is UNKNOWN instead of a check that silently did
// less than asked.
func (o *options) pendingOptions() error {
	switch {
	case o.MX == "" && o.DANERollover && !o.DANE:
		return usageHelpf("--dane-rollover needs --dane (or -M DOMAIN)")
	case o.Format != "plugin" && o.Format != "json" && o.Format != "prometheus" && o.Format != "mackerel":
		return usagef("--format %q: want plugin, json, prometheus or mackerel, e.g. --format json", o.Format)
	}
	if err := output.CheckMetricKeyPrefix(o.MetricKeyPrefix); err != nil {
		return usagef("--metric-key-prefix %q: %v, e.g. --metric-key-prefix smtp", o.MetricKeyPrefix, err)
	}
	return nil
}
