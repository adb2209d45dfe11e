package checksmtp

// pendingOptions refuses options whose feature is not built yet, so that a
// command line naming one is UNKNOWN instead of a check that silently did
// less than asked.
func (o *options) pendingOptions() error {
	switch {
	case o.QuitAfter != "":
		return usagef("--quit-after is not available in this build")
	case o.MX == "" && (o.DANE || o.DANERollover):
		return usagef("DANE in single-server mode is not available in this build (use -M DOMAIN)")
	case o.Format != "plugin" || o.PrometheusTextfile != "":
		return usagef("--format other than plugin is not available in this build")
	}
	return nil
}
