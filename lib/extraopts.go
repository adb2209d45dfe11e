package checksmtp

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strings"

	flags "github.com/jessevdk/go-flags"
)

// defaultIniSection is the section --extra-opts reads when none is named,
// as monitoring-plugins does (the plugin's name).
const defaultIniSection = "check_smtp"

// iniSearchPath is where monitoring-plugins looks for its ini file when
// --extra-opts names none (after $MP_CONFIG_FILE).
func iniSearchPath() []string {
	return []string{
		"/etc/monitoring-plugins/monitoring-plugins.ini",
		"/usr/local/etc/monitoring-plugins/monitoring-plugins.ini",
		"/etc/nagios/plugins.ini",
		"/usr/local/nagios/etc/plugins.ini",
		"/usr/local/etc/nagios/plugins.ini",
		"/etc/opt/nagios/plugins.ini",
		"/etc/plugins.ini",
		"/usr/local/etc/plugins.ini",
	}
}

// extraOptsArg finds --extra-opts on the command line before go-flags runs,
// because the file must be read first for the command line to win over it.
// Like monitoring-plugins, it takes "--extra-opts VALUE" as well as
// "--extra-opts=VALUE" when VALUE does not start with '-'; args comes back
// with the two joined, so that go-flags does not read VALUE as the host.
func extraOptsArg(args []string) (spec string, found bool, rest []string) {
	for i, a := range args {
		switch {
		case a == "--":
			return "", false, args
		case a == "--extra-opts" && i+1 < len(args) && args[i+1] != "" && !strings.HasPrefix(args[i+1], "-"):
			rest = append(append(append([]string{}, args[:i]...), "--extra-opts="+args[i+1]), args[i+2:]...)
			return args[i+1], true, rest
		case a == "--extra-opts":
			return defaultIniSection, true, args
		case strings.HasPrefix(a, "--extra-opts="):
			return strings.TrimPrefix(a, "--extra-opts="), true, args
		}
	}
	return "", false, args
}

// loadExtraOpts reads section@file into the parser's options before the
// command line is parsed, so that whatever the command line says afterwards
// replaces them: go-flags empties a list option on its first command-line
// value.
func loadExtraOpts(p *flags.Parser, spec string, env environ) error {
	section, file, _ := strings.Cut(spec, "@")
	if section == "" {
		section = defaultIniSection
	}
	if file == "" {
		file = findIniFile(env)
		if file == "" {
			return usagef("--extra-opts: no ini file found (set MP_CONFIG_FILE or use --extra-opts=%s@FILE)", section)
		}
	}
	data, err := readFileLimited(file, maxIniFileBytes)
	if err != nil {
		return usagef("--extra-opts: cannot read %v", err)
	}
	body, found, err := iniSection(data, section)
	if err != nil {
		return usagef("--extra-opts: %s: %v", file, err)
	}
	if !found {
		return usagef("--extra-opts: section [%s] not found in %s", section, file)
	}
	ip := flags.NewIniParser(p)
	// Not ParseAsDefaults: that keeps only the first of repeated keys
	// (rcpt=, command=, response=), and the file is read first anyway.
	if err := ip.Parse(bytes.NewReader(body)); err != nil {
		var ie *flags.IniError
		if errors.As(err, &ie) {
			msg := ie.Message
			if strings.HasPrefix(msg, "malformed key=value") {
				// go-flags quotes the whole line, which may be a password.
				msg = "malformed key=value line (not shown: it may hold a password)"
			}
			return usagef("--extra-opts: %s:%d: %s", file, ie.LineNumber, msg)
		}
		return usagef("--extra-opts: %s: %v", file, err)
	}
	return nil
}

func findIniFile(env environ) string {
	candidates := iniSearchPath()
	if f := env.getenv("MP_CONFIG_FILE"); f != "" {
		candidates = []string{f}
	}
	for _, f := range candidates {
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
			return f
		}
	}
	return ""
}

// iniSection extracts the body of one section. Without a section header,
// go-flags' ini parser applies the keys to the option group. Every other
// line is left empty, so that line numbers in errors are the file's.
func iniSection(data []byte, section string) ([]byte, bool, error) {
	var out bytes.Buffer
	in, found := false, false
	sc := bufio.NewScanner(bytes.NewReader(data))
	// Any line of a file within the size cap fits: the scanner's default
	// 64 KiB would end the scan early and silently cut the section short.
	sc.Buffer(make([]byte, 0, 4096), maxIniFileBytes+1)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			in = strings.TrimSpace(line[1:len(line)-1]) == section
			found = found || in
			line = ""
		}
		if !in {
			line = ""
		}
		out.WriteString(line + "\n")
	}
	if err := sc.Err(); err != nil {
		return nil, false, err
	}
	return out.Bytes(), found, nil
}
