package checksmtp

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	flags "github.com/jessevdk/go-flags"
	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/dnsx"
	"github.com/check-smtp/check-smtp/lib/internal/probe"
	"github.com/check-smtp/check-smtp/lib/internal/tlsverify"
	"github.com/check-smtp/check-smtp/lib/internal/truststore"
)

// options is the command line as go-flags sees it, in --help order. Hidden
// fields are the aliases of other options (go-flags has one long name per
// option); merge folds them into the canonical field. It is made of
// embedded parts so that a run registers with go-flags only the parts its
// arguments name (see register): go-flags' scan of every struct tag was
// most of a plain check's start-up.
type options struct {
	connFlags
	addressFlags
	tlsFlags
	authFlags
	envelopeFlags
	expectFlag
	commandFlags
	limitFlags
	timeoutFlag
	runFlags
	mxFlags
	parallelFlag
	policyFlags
	formatFlag
	textfileFlag
	prefixFlag
	positionalFlags
}

// connFlags: where to connect.
type connFlags struct {
	Host     string     `short:"H" long:"host" value-name:"HOST" description:"host name, IP address or absolute path of a unix socket (default: localhost)"`
	Hostname string     `long:"hostname" hidden:"yes"`
	Port     portNumber `short:"p" long:"port" value-name:"PORT" description:"port (default: 25, 465 with -s)"`
}

// addressFlags: which addresses, and the name to greet with.
type addressFlags struct {
	IPv4    bool   `short:"4" long:"ipv4" description:"use IPv4 only"`
	UseIPv4 bool   `long:"use-ipv4" hidden:"yes"`
	IPv6    bool   `short:"6" long:"ipv6" description:"use IPv6 only"`
	UseIPv6 bool   `long:"use-ipv6" hidden:"yes"`
	FQDN    string `short:"F" long:"fqdn" value-name:"NAME" description:"name sent in EHLO/HELO/LHLO (default: this host's name)"`
}

// tlsFlags: TLS and the certificate.
type tlsFlags struct {
	SMTPS                bool   `short:"s" long:"smtps" description:"implicit TLS from the first byte (aliases: --ssl, --tls)"`
	SSL                  bool   `long:"ssl" hidden:"yes"`
	TLS                  bool   `long:"tls" hidden:"yes"`
	STARTTLS             bool   `short:"S" long:"starttls" description:"upgrade the connection with STARTTLS; CRITICAL if not offered"`
	SNI                  string `long:"sni" optional:"yes" optional-value:"" value-name:"NAME" description:"TLS server name, --sni=NAME (default: the host name)"`
	Insecure             bool   `short:"k" long:"insecure" description:"do not verify the certificate chain and name (alias: --no-check-certificate)"`
	NoCheckCert          bool   `long:"no-check-certificate" hidden:"yes"`
	CAFile               string `long:"cafile" value-name:"FILE" description:"extra PEM root certificates to trust (alias: --ca-file)"`
	CAFileAlias          string `long:"ca-file" hidden:"yes"`
	Certificate          string `short:"D" long:"certificate" value-name:"W[,C]" description:"WARNING/CRITICAL when the certificate expires in fewer than W/C days (needs -s or -S)"`
	IgnoreCertExpiration bool   `long:"ignore-certificate-expiration" description:"an expired certificate is not by itself CRITICAL"`
}

// authFlags: SMTP AUTH.
type authFlags struct {
	AuthMech           string `short:"A" long:"authmech" value-name:"MECH" description:"SASL mechanism: PLAIN, LOGIN or CRAM-MD5 (alias: --authtype)"`
	AuthType           string `long:"authtype" hidden:"yes"`
	AuthUser           string `short:"U" long:"authuser" value-name:"USER" description:"user for AUTH"`
	AuthPassword       string `short:"P" long:"authpassword" value-name:"PASS" description:"password for AUTH (alias: --authpass; better: env CHECK_SMTP_AUTHPASSWORD or --authpassword-file)"`
	AuthPass           string `long:"authpass" hidden:"yes"`
	AuthPasswordFile   string `long:"authpassword-file" value-name:"FILE" description:"read the AUTH password from the first line of FILE"`
	AllowPlaintextAuth bool   `long:"allow-plaintext-auth" description:"permit AUTH over an unencrypted connection to a non-loopback host"`
}

// envelopeFlags: the envelope.
type envelopeFlags struct {
	From       string   `short:"f" long:"from" value-name:"ADDR" description:"MAIL FROM address (default: empty, <>)"`
	Rcpt       []string `long:"rcpt" value-name:"ADDR" description:"RCPT TO that must be accepted (repeatable)"`
	RejectRcpt []string `long:"reject-rcpt" value-name:"ADDR" description:"RCPT TO that must be refused with 5xx (repeatable)"`
}

// expectFlag: the banner check (a default: always registered).
type expectFlag struct {
	Expect string `short:"e" long:"expect" value-name:"STRING" default:"220" description:"string the banner or the EHLO reply must contain; WARNING if missing"`
}

// commandFlags: extra commands and the dialect.
type commandFlags struct {
	Command    []string `short:"C" long:"command" value-name:"CMD" description:"extra command sent after RCPT (repeatable, paired with -R)"`
	Response   []string `short:"R" long:"response" value-name:"REGEXP" description:"regular expression the reply to the matching -C must match; WARNING if not"`
	LMTP       bool     `short:"L" long:"lmtp" description:"speak LMTP: LHLO instead of EHLO"`
	IgnoreQuit bool     `short:"q" long:"ignore-quit-failure" description:"a failed QUIT does not change the status"`
	Proxy      bool     `short:"r" long:"proxy" description:"send a PROXY protocol v1 header first"`
}

// limitFlags: time thresholds.
type limitFlags struct {
	Warning      string   `short:"w" long:"warning" value-name:"SEC" description:"WARNING when the total time exceeds SEC seconds"`
	Critical     string   `short:"c" long:"critical" value-name:"SEC" description:"CRITICAL when the total time exceeds SEC seconds"`
	StepWarning  []string `long:"step-warning" value-name:"STEP=SEC" description:"per-step WARNING threshold (connect, tls, banner, ehlo, starttls, auth, mail, rcpt, command, rset, quit)"`
	StepCritical []string `long:"step-critical" value-name:"STEP=SEC" description:"per-step CRITICAL threshold"`
}

// timeoutFlag: the deadline (a default: always registered).
type timeoutFlag struct {
	Timeout string `short:"t" long:"timeout" value-name:"SEC[:STATE]" default:"10" description:"overall deadline in seconds; STATE (name or 0-3) is reported on timeout (default CRITICAL)"`
}

// runFlags: how the run reports.
type runFlags struct {
	StatusAs   string `long:"status-as" value-name:"MAP" description:"remap states, e.g. warning=critical,unknown=critical"`
	ExtraOpts  string `long:"extra-opts" optional:"yes" optional-value:"check_smtp" value-name:"[SECTION][@FILE]" no-ini:"yes" description:"read options from an ini file (default section check_smtp)"`
	Verbose    bool   `short:"v" long:"verbose" description:"append the conversation transcript (credentials redacted)"`
	NoPerfdata bool   `long:"no-perfdata" description:"leave performance data off the status line"`
	Version    bool   `short:"V" long:"version" no-ini:"yes" description:"print the version"`
	QuitAfter  string `long:"quit-after" value-name:"STEP" description:"end politely with QUIT right after STEP: banner, ehlo, starttls, tls, auth, mail or rcpt"`
}

// mxFlags: domain mode (SPEC Part 2).
type mxFlags struct {
	MX         string   `short:"M" long:"mx" value-name:"DOMAIN" description:"check every MX and address of DOMAIN (port 25, STARTTLS when offered)"`
	DNSServer  []string `long:"dns-server" value-name:"ADDR[:PORT]" description:"DNS resolver for every lookup, repeatable, tried in order (default: /etc/resolv.conf)"`
	DNSTrustAD bool     `long:"dns-trust-ad" description:"trust the AD (DNSSEC) bit from a resolver that is not on a loopback address"`
	MXStrict   bool     `long:"mx-strict" description:"the domain's state is the worst state of any MX address"`
}

// parallelFlag: domain-mode concurrency (a default: always registered).
type parallelFlag struct {
	Parallel int `long:"parallel" value-name:"N" default:"8" description:"at most N conversations at once (1-64)"`
}

// policyFlags: MTA-STS, TLSRPT and DANE (SPEC Parts 2 and 3).
type policyFlags struct {
	NoMTASTS       bool `long:"no-mta-sts" description:"do not look up the MTA-STS policy"`
	MTASTSRequired bool `long:"mta-sts-required" description:"CRITICAL when the domain publishes no usable MTA-STS policy"`
	TLSRPTRequired bool `long:"tlsrpt-required" description:"WARNING when the domain publishes no TLSRPT record"`
	DANE           bool `long:"dane" description:"DANE required: DNSSEC-secure TLSA records must match (needs -s or -S with -H)"`
	NoDANE         bool `long:"no-dane" description:"do not look up TLSA records"`
	DANERollover   bool `long:"dane-rollover" description:"WARNING when a host publishes fewer than two usable TLSA records"`
}

// formatFlag: the stdout format (SPEC Part 4; a default: always registered).
type formatFlag struct {
	Format string `long:"format" value-name:"FORMAT" default:"plugin" description:"stdout format: plugin, json, prometheus or mackerel"`
}

// textfileFlag: the Prometheus textfile.
type textfileFlag struct {
	PrometheusTextfile string `long:"prometheus-textfile" value-name:"FILE" description:"also write the Prometheus exposition to FILE, atomically"`
}

// prefixFlag: mackerel metric names (a default: always registered).
type prefixFlag struct {
	MetricKeyPrefix string `long:"metric-key-prefix" value-name:"PREFIX" default:"smtp" description:"prefix of the mackerel metric names"`
}

// positionalFlags: the host given as an argument.
type positionalFlags struct {
	Args struct {
		Host []string `positional-arg-name:"HOST"`
	} `positional-args:"yes"`
}

// merge folds aliases and the positional host into the canonical fields.
func (o *options) merge() error {
	pick := func(dst *string, alias string) {
		if *dst == "" {
			*dst = alias
		}
	}
	pick(&o.Host, o.Hostname)
	switch {
	case len(o.Args.Host) > 1:
		return fmt.Errorf("unexpected argument %q (only one host may be given)", o.Args.Host[1])
	case len(o.Args.Host) == 1 && o.Host != "" && o.Host != o.Args.Host[0]:
		return fmt.Errorf("two hosts given: -H %q and argument %q", o.Host, o.Args.Host[0])
	case len(o.Args.Host) == 1:
		o.Host = o.Args.Host[0]
	}
	pick(&o.CAFile, o.CAFileAlias)
	pick(&o.AuthMech, o.AuthType)
	pick(&o.AuthPassword, o.AuthPass)
	o.IPv4 = o.IPv4 || o.UseIPv4
	o.IPv6 = o.IPv6 || o.UseIPv6
	o.SMTPS = o.SMTPS || o.SSL || o.TLS
	o.Insecure = o.Insecure || o.NoCheckCert
	return nil
}

// limit is an optional threshold in seconds.
type limit struct {
	set  bool
	secs float64
}

func (l limit) exceededBy(d time.Duration) bool { return l.set && d.Seconds() > l.secs }

// String renders a threshold for perfdata: empty when unset.
func (l limit) String() string {
	if !l.set {
		return ""
	}
	return fmtSeconds(l.secs)
}

func fmtSeconds(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// config is the validated form of the options, split by concern: where to
// connect, the conversation to have, how to judge what it shows and how to
// print the result.
type config struct {
	target  probe.Target
	conv    probe.Settings
	judge   judgement
	out     outputOptions
	timeout time.Duration // the -t deadline, counted from the start of run
	dns     *dnsx.Client  // --dns-server, or always in domain mode
	domain  *domainOptions
	// singleDANE is --dane with -H.
	singleDANE *singleDANE
}

// judgement is everything evaluation needs beyond the probe's result.
type judgement struct {
	expect       string
	responses    []*regexp.Regexp // -R for each -C; nil: the reply only has to be non-5xx
	certDays     bool
	certWarnDays int
	certCritDays int
	ignoreExpiry bool
	ignoreQuit   bool

	warning, critical         limit
	stepWarning, stepCritical map[probe.Step]limit
	timeout                   time.Duration
	timeoutState              checkers.Status
	statusMap                 map[checkers.Status]checkers.Status
}

type outputOptions struct {
	verbose, noPerfdata bool
	format              string // plugin, json, prometheus, mackerel
	textfile            string // --prometheus-textfile
	metricPrefix        string
}

// environ is what run reads from the process and the outside world; tests
// give their own.
type environ struct {
	getenv   func(string) string
	hostname func() (string, error)
	dialer   probe.Dialer
	now      func() time.Time
	// resolvConf is the resolv.conf read when --dns-server is not given
	// ("" = /etc/resolv.conf).
	resolvConf string
	// mtaSTSPort is the HTTPS port of MTA-STS policy hosts (0 = 443).
	mtaSTSPort int
	// dnsPin, when set, replaces every resolver the options name (tests
	// that must never reach a real one).
	dnsPin []string
}

func processEnviron() environ {
	return environ{getenv: os.Getenv, hostname: os.Hostname,
		dialer: &net.Dialer{Resolver: &net.Resolver{PreferGo: true}}, now: time.Now}
}

// usageError is an option problem: reported as UNKNOWN.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// earlyExit is --help or --version: text printed as it is, exit 0.
type earlyExit struct{ text string }

func (e *earlyExit) Error() string { return e.text }

// parseArgs turns argv into a validated config, reading the ini file of
// --extra-opts, the password file and the CA file on the way.
func parseArgs(args []string, env environ) (*config, error) {
	cfg, err := parseArgsRaw(args, env)
	var ue *usageError
	if errors.As(err, &ue) {
		// An option value echoed may hold ';', which Nagios rewrites.
		ue.msg = noSemicolons(ue.msg)
	}
	return cfg, err
}

func parseArgsRaw(args []string, env environ) (*config, error) {
	opts := &options{}
	p := flags.NewNamedParser("check-smtp", flags.HelpFlag|flags.PassDoubleDash)
	args = icingaQuitFlag(args)
	sniWords := sniSpaceValues(args)
	spec, ok, args := extraOptsArg(args)
	if err := opts.register(p, args, ok); err != nil {
		return nil, err
	}
	if ok {
		if err := loadExtraOpts(p, spec, env); err != nil {
			return nil, err
		}
	}
	if _, err := p.ParseArgs(args); err != nil {
		var ferr *flags.Error
		if errors.As(err, &ferr) && ferr.Type == flags.ErrHelp {
			return nil, &earlyExit{helpText(ferr.Message)}
		}
		return nil, flagsError(p, err)
	}
	if opts.Version {
		return nil, &earlyExit{"check-smtp " + version + "\n"}
	}
	if err := opts.sniSpace(sniWords); err != nil {
		return nil, err
	}
	if err := opts.merge(); err != nil {
		return nil, usagef("%s%s", err, seeHelp)
	}
	if err := opts.pendingOptions(); err != nil {
		return nil, err
	}
	if err := opts.domainConflicts(); err != nil {
		return nil, err
	}
	if err := opts.singleServerRules(p); err != nil {
		return nil, err
	}
	cfg, err := opts.config(env)
	if err != nil {
		return nil, err
	}
	if err := opts.dnsConfig(cfg, env); err != nil {
		return nil, err
	}
	return cfg, nil
}

// icingaQuitFlag reads "-q true" and "-q false": Icinga 2's ITL smtp
// command passes -q with the value of $smtp_ignore_quit$, where
// monitoring-plugins' check_smtp takes -q as a plain flag. Without this the
// value would be taken for a second host.
func icingaQuitFlag(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if (a == "-q" || a == "--ignore-quit-failure") && i+1 < len(args) {
			switch strings.ToLower(args[i+1]) {
			case "true":
				out = append(out, a)
				i++
				continue
			case "false":
				i++
				continue
			}
		}
		out = append(out, a)
	}
	return out
}

func (o *options) config(env environ) (*config, error) {
	host, err := hostArg(o.Host)
	if err != nil {
		return nil, err
	}
	c := &config{
		target: probe.Target{Host: host, Port: int(o.Port), UnixSocket: strings.HasPrefix(host, "/")},
		conv: probe.Settings{FQDN: o.FQDN, LMTP: o.LMTP, Proxy: o.Proxy, Verbose: o.Verbose,
			// -f "<addr>" (as monitoring-plugins accepts it) must not become <<addr>>.
			From:  strings.TrimSuffix(strings.TrimPrefix(o.From, "<"), ">"),
			Rcpts: o.Rcpt, RejectRcpts: o.RejectRcpt},
		judge: judgement{expect: o.Expect, ignoreQuit: o.IgnoreQuit, ignoreExpiry: o.IgnoreCertExpiration},
		out: outputOptions{verbose: o.Verbose, noPerfdata: o.NoPerfdata, format: o.Format,
			textfile: o.PrometheusTextfile, metricPrefix: o.MetricKeyPrefix},
	}
	tg := &c.target
	switch {
	case o.IPv4 && o.IPv6:
		return nil, usageHelpf("-4 and -6 cannot be used together")
	case o.SMTPS && o.STARTTLS:
		return nil, usageHelpf("-s (implicit TLS) and -S (STARTTLS) cannot be used together")
	}
	switch {
	case o.SMTPS:
		c.conv.TLS.Mode = probe.ImplicitTLS
	case o.STARTTLS:
		c.conv.TLS.Mode = probe.STARTTLS
	}
	tg.Network = "tcp"
	if tg.UnixSocket {
		tg.Network = "unix"
	} else if ip := net.ParseIP(tg.Host); ip != nil {
		if o.IPv4 && ip.To4() == nil {
			return nil, usageHelpf("-4 given but host %s is an IPv6 address", tg.Host)
		}
		if o.IPv6 && ip.To4() != nil {
			return nil, usageHelpf("-6 given but host %s is an IPv4 address", tg.Host)
		}
	} else if strings.ContainsAny(tg.Host, " \t\r\n/[];,|\"'<>()\\") {
		return nil, usageHelpf("-H %q is not a host name, an IP address or an absolute socket path", tg.Host)
	}
	if !tg.UnixSocket && o.IPv4 {
		tg.Network = "tcp4"
	} else if !tg.UnixSocket && o.IPv6 {
		tg.Network = "tcp6"
	}
	if tg.Port == 0 {
		tg.Port = 25
		if o.SMTPS {
			tg.Port = 465
		}
	}

	if c.conv.FQDN == "" {
		if h, err := env.hostname(); err == nil && h != "" {
			c.conv.FQDN = h
		} else {
			c.conv.FQDN = "localhost"
		}
	}
	for name, v := range map[string]string{"-F": c.conv.FQDN, "-f": c.conv.From, "-U": o.AuthUser} {
		if strings.ContainsAny(v, "\r\n") {
			return nil, usageHelpf("%s must not contain a line break", name)
		}
	}
	for _, a := range append(append([]string{}, o.Rcpt...), o.RejectRcpt...) {
		if a == "" || strings.ContainsAny(a, "\r\n") {
			return nil, usageHelpf("recipient %q is empty or contains a line break", a)
		}
	}
	if err := o.tlsConfig(c, env); err != nil {
		return nil, err
	}
	if err := o.authConfig(c, env); err != nil {
		return nil, err
	}
	if err := o.commandConfig(c); err != nil {
		return nil, err
	}
	if err := o.thresholdConfig(c); err != nil {
		return nil, err
	}
	if err := o.quitAfterConfig(c); err != nil {
		return nil, err
	}
	c.conv.Timeout = c.timeout
	return c, nil
}

func (o *options) tlsConfig(c *config, env environ) error {
	t := &c.conv.TLS
	// In domain mode every target has STARTTLS whenever offered.
	tlsOn := t.Mode != probe.NoTLS || o.MX != ""
	t.Insecure = o.Insecure
	t.ServerName = o.SNI
	if t.ServerName == "" {
		t.ServerName = c.target.Host
		if c.target.UnixSocket {
			t.ServerName = "localhost"
		}
	}
	if o.Certificate != "" {
		if !tlsOn {
			return usageHelpf("-D needs -s or -S: it only means something with TLS")
		}
		w, cr, found := strings.Cut(o.Certificate, ",")
		var err1, err2 error
		c.judge.certWarnDays, err1 = strconv.Atoi(strings.TrimSpace(w))
		if found {
			c.judge.certCritDays, err2 = strconv.Atoi(strings.TrimSpace(cr))
		}
		if err1 != nil || err2 != nil || c.judge.certWarnDays < 0 || c.judge.certCritDays < 0 {
			return usageHelpf("-D %q: want W[,C], whole days, e.g. -D 30,14", o.Certificate)
		}
		c.judge.certDays = true
	}
	cacheDir, err := trustCacheDir(env)
	if err != nil {
		return err
	}
	t.Roots = &tlsverify.Roots{CertFile: env.getenv("SSL_CERT_FILE"), CertDir: env.getenv("SSL_CERT_DIR"),
		Cache: truststore.IndexCache{Dir: cacheDir}}
	if o.CAFile != "" {
		pem, err := readFileLimited(o.CAFile, maxCAFileBytes)
		if err != nil {
			return usagef("cannot read --cafile: %v", err)
		}
		// The system pool is only loaded if the --cafile roots do not
		// verify the chain (see tlsverify): parsing it costs milliseconds.
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return usagef("--cafile %s holds no PEM certificate", o.CAFile)
		}
		t.Roots.Extra, t.Roots.ExtraPEM, t.Roots.ExtraFile = pool, pem, o.CAFile
	}
	return nil
}

// trustCacheDir is where the index of the system trust store is kept:
// CHECK_SMTP_TRUST_CACHE if it is an absolute path, none if it is "off",
// else the XDG cache directory (XDG_CACHE_HOME/check-smtp, or
// ~/.cache/check-smtp), none when that cannot be found.
func trustCacheDir(env environ) (string, error) {
	switch v := env.getenv("CHECK_SMTP_TRUST_CACHE"); {
	case v == "off":
		return "", nil
	case filepath.IsAbs(v):
		return filepath.Clean(v), nil
	case v != "":
		return "", usagef("CHECK_SMTP_TRUST_CACHE=%q: want an absolute directory, or off", v)
	}
	return truststore.DefaultIndexCacheDir(env.getenv("XDG_CACHE_HOME"), env.getenv("HOME")), nil
}

func (o *options) authConfig(c *config, env environ) error {
	a := &c.conv.Auth
	a.User, a.AllowPlaintext = o.AuthUser, o.AllowPlaintextAuth
	// The password file is read even without -A: a file named but missing is
	// a configuration error worth knowing about.
	filePassword := ""
	if o.AuthPasswordFile != "" {
		b, err := readFileLimited(o.AuthPasswordFile, maxPasswordFileBytes)
		if err != nil {
			return usagef("cannot read --authpassword-file: %v", err)
		}
		line, _, _ := bytes.Cut(b, []byte{'\n'})
		filePassword = strings.TrimSuffix(string(line), "\r")
		if filePassword == "" {
			return usagef("--authpassword-file %s: first line is empty", o.AuthPasswordFile)
		}
	}
	// Precedence: -P, then the file, then the environment.
	a.Password = o.AuthPassword
	if a.Password == "" {
		a.Password = filePassword
	}
	if o.AuthMech == "" {
		// CHECK_SMTP_AUTHPASSWORD may be set for other checks: without -A
		// it is not read (and -U, -P or the file alone were refused).
		a.User, a.Password = "", ""
		return nil
	}
	if a.Password == "" {
		a.Password = env.getenv("CHECK_SMTP_AUTHPASSWORD")
	}
	a.Mech = strings.ToUpper(o.AuthMech)
	switch a.Mech {
	case "PLAIN", "LOGIN", "CRAM-MD5":
	default:
		return usageHelpf("-A %s: unsupported mechanism, want PLAIN, LOGIN or CRAM-MD5, e.g. -A PLAIN", o.AuthMech)
	}
	if a.User == "" {
		return usageHelpf("-A %s needs -U (user)", a.Mech)
	}
	if a.Password == "" {
		return usageHelpf("-A %s needs a password: -P, env CHECK_SMTP_AUTHPASSWORD or --authpassword-file", a.Mech)
	}
	if c.conv.TLS.Mode == probe.NoTLS && !a.AllowPlaintext && !c.target.UnixSocket {
		if ip := net.ParseIP(c.target.Host); ip != nil && !ip.IsLoopback() {
			return usagef("refusing to send AUTH in cleartext to %s: use -s or -S, or --allow-plaintext-auth", c.target.Host)
		}
		// A host name is checked against the address actually connected to.
	}
	return nil
}

func (o *options) commandConfig(c *config) error {
	if len(o.Response) > len(o.Command) {
		return usageHelpf("%d -R given for %d -C: each -R pairs with the -C at the same position", len(o.Response), len(o.Command))
	}
	for i, cmd := range o.Command {
		if cmd == "" || strings.ContainsAny(cmd, "\r\n") {
			return usageHelpf("-C %q is empty or contains a line break", cmd)
		}
		var re *regexp.Regexp
		if i < len(o.Response) {
			var err error
			if re, err = regexp.Compile(o.Response[i]); err != nil {
				return usageHelpf("-R %q is not a valid regular expression: %v", o.Response[i], err)
			}
		}
		c.conv.Commands = append(c.conv.Commands, cmd)
		c.judge.responses = append(c.judge.responses, re)
	}
	return nil
}

func (o *options) thresholdConfig(c *config) error {
	j := &c.judge
	var err error
	if j.warning, err = parseLimit("-w", o.Warning); err != nil {
		return err
	}
	if j.critical, err = parseLimit("-c", o.Critical); err != nil {
		return err
	}
	if j.stepWarning, err = parseStepLimits("--step-warning", o.StepWarning); err != nil {
		return err
	}
	if j.stepCritical, err = parseStepLimits("--step-critical", o.StepCritical); err != nil {
		return err
	}
	if c.timeout, j.timeoutState, err = parseTimeout(o.Timeout); err != nil {
		return err
	}
	j.timeout = c.timeout
	if o.StatusAs != "" {
		if j.statusMap, err = checkers.ParseStatusMap(o.StatusAs); err != nil {
			if dup, ok := strings.CutPrefix(err.Error(), "duplicate status in map: "); ok {
				return usageHelpf("--status-as %q: %s is mapped twice", o.StatusAs, dup)
			}
			return usageHelpf("--status-as %q: want FROM=TO pairs separated by commas, each state one of ok, warning, critical, unknown, e.g. --status-as warning=critical,unknown=critical", o.StatusAs)
		}
	}
	return nil
}

func parseSeconds(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f, err == nil && f >= 0 && f < 1e6
}

func parseLimit(name, s string) (limit, error) {
	if s == "" {
		return limit{}, nil
	}
	f, ok := parseSeconds(s)
	if !ok {
		return limit{}, usageHelpf("%s %q: want seconds, e.g. %s 2.5", name, s, name)
	}
	return limit{set: true, secs: f}, nil
}

func parseStepLimits(name string, specs []string) (map[probe.Step]limit, error) {
	m := map[probe.Step]limit{}
	for _, spec := range specs {
		k, v, _ := strings.Cut(spec, "=")
		st, ok := probe.ParseStep(strings.ToLower(strings.TrimSpace(k)))
		if !ok {
			return nil, usageHelpf("%s %q: unknown step %q (connect, tls, banner, ehlo, starttls, auth, mail, rcpt, command, rset, quit), e.g. %s mail=2", name, spec, k, name)
		}
		f, ok := parseSeconds(v)
		if !ok {
			return nil, usageHelpf("%s %q: want STEP=SECONDS, e.g. %s mail=2", name, spec, name)
		}
		m[st] = limit{set: true, secs: f}
	}
	return m, nil
}

// parseTimeout reads "SEC" or "SEC:STATE" (STATE a name or 0-3).
func parseTimeout(s string) (time.Duration, checkers.Status, error) {
	secs, state, hasState := strings.Cut(s, ":")
	f, ok := parseSeconds(secs)
	if !ok || f <= 0 {
		return 0, 0, usageHelpf("-t %q: want seconds > 0, optionally :STATE, e.g. -t 10 or -t 10:UNKNOWN", s)
	}
	st := checkers.CRITICAL
	if hasState {
		var ok bool
		if st, ok = parseState(state); !ok {
			return 0, 0, usageHelpf("-t %q: unknown state %q (OK, WARNING, CRITICAL, UNKNOWN or 0-3), e.g. -t 10:UNKNOWN", s, state)
		}
	}
	return time.Duration(f * float64(time.Second)), st, nil
}

func parseState(s string) (checkers.Status, bool) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "0", "OK":
		return checkers.OK, true
	case "1", "WARNING", "WARN":
		return checkers.WARNING, true
	case "2", "CRITICAL", "CRIT":
		return checkers.CRITICAL, true
	case "3", "UNKNOWN":
		return checkers.UNKNOWN, true
	}
	return 0, false
}

// Files named on the command line are read before connecting; a cap keeps a
// mistaken path such as /dev/zero from eating memory.
const (
	maxCAFileBytes       = 4 << 20
	maxPasswordFileBytes = 64 << 10
	maxIniFileBytes      = 1 << 20
)

func readFileLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, max)
	}
	return b, nil
}

// seeHelp ends an option error: the whole list is one command away.
const seeHelp = " (see --help)"

// usageHelpf is usagef with the pointer to --help.
func usageHelpf(format string, a ...any) error { return usagef(format+seeHelp, a...) }

// portNumber is -p: decimal digits only, 1-65535. go-flags would read an
// int with base prefixes ("010025" as octal, "0x19" as hex) and take 0 for
// "not given".
type portNumber int

// UnmarshalFlag implements flags.Unmarshaler.
func (p *portNumber) UnmarshalFlag(v string) error {
	n, ok := 0, v != ""
	for i := 0; ok && i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			ok = false
			break
		}
		if n = n*10 + int(c-'0'); n > 65535 {
			ok = false
		}
	}
	if !ok || n == 0 {
		return fmt.Errorf("-p %q: want a decimal port number 1-65535, e.g. -p 587%s", v, seeHelp)
	}
	*p = portNumber(n)
	return nil
}

// helpIntro and helpExamples frame go-flags' option list in --help.
const (
	helpIntro = "check-smtp probes an SMTP or LMTP server the way a mail client would, times every step " +
		"and reports the result as a monitoring plugin (Nagios, Icinga, Naemon, Sensu, mackerel-agent).\n\n" +
		"Usage: check-smtp [OPTIONS] [HOST]\n\n"
	helpExamples = "\nExamples:\n" +
		"  check-smtp -H mx.example.com -S -D 30,14 -w 2 -c 5\n" +
		"  check-smtp -H mail.example.com -p 587 -S -A PLAIN -U monitor@example.com\n" +
		"  check-smtp -H mail.example.com -s --quit-after ehlo\n"
)

// helpText is --help: what the check does, the usage line (one host), the
// options as go-flags lists them, and three examples (the second reads its
// password from CHECK_SMTP_AUTHPASSWORD).
func helpText(flagsHelp string) string {
	// go-flags starts with its own "Usage:\n  check-smtp [OPTIONS] [HOST...]".
	if _, rest, ok := strings.Cut(flagsHelp, "\n\n"); ok {
		flagsHelp = rest
	}
	return helpIntro + strings.TrimRight(flagsHelp, "\n") + "\n" + helpExamples
}

// flagsError rewords a go-flags parse error for an operator: the option,
// what it wants, the pointer to --help; never a Go parser's internals.
func flagsError(p *flags.Parser, err error) error {
	var ferr *flags.Error
	if !errors.As(err, &ferr) {
		return usageHelpf("%s", err)
	}
	// go-flags names an option as `-p, --port' or `port' in its messages.
	name := ""
	if _, rest, ok := strings.Cut(ferr.Message, "`"); ok {
		name, _, _ = strings.Cut(rest, "'")
	}
	switch ferr.Type {
	case flags.ErrUnknownFlag:
		if len(name) == 1 {
			return usageHelpf("unknown option -%s", name)
		}
		return usageHelpf("unknown option --%s", name)
	case flags.ErrExpectedArgument:
		return usageHelpf("%s needs a value: %s", optionNames(name), optionExample(p, name))
	case flags.ErrMarshal:
		// "invalid argument for flag `X' (expected T): E"; E is ours for
		// -p, a strconv error for a number option.
		_, inner, _ := strings.Cut(ferr.Message, "): ")
		if strings.HasPrefix(inner, "-p ") {
			return usagef("%s", inner)
		}
		value := ""
		if _, v, ok := strings.Cut(inner, `parsing "`); ok {
			value, _, _ = strings.Cut(v, `"`)
		}
		return usageHelpf("%s %q: want a whole number: %s", optionNames(name), value, optionExample(p, name))
	}
	return usageHelpf("%s", ferr.Message)
}

// optionNames turns go-flags' "-H, --host" into "-H (--host)".
func optionNames(name string) string {
	if short, long, ok := strings.Cut(name, ", "); ok {
		return short + " (" + long + ")"
	}
	return name
}

// optionExample is the option with its value name, "-H HOST".
func optionExample(p *flags.Parser, name string) string {
	short, long, ok := strings.Cut(name, ", ")
	if !ok {
		short, long = "", name
	}
	opt := p.FindOptionByLongName(strings.TrimPrefix(long, "--"))
	if opt == nil || opt.ValueName == "" {
		return name + " VALUE"
	}
	if short != "" {
		return short + " " + opt.ValueName
	}
	return long + " " + opt.ValueName
}

// sniSpaceValues is every word right after a bare "--sni": go-flags takes
// it for the host (--sni has an optional value, given only as --sni=NAME).
func sniSpaceValues(args []string) []string {
	var words []string
	for i, a := range args {
		if a == "--" {
			break
		}
		if a == "--sni" && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			words = append(words, args[i+1])
		}
	}
	return words
}

// sniSpace refuses "--sni NAME": NAME became the host, which is never what
// was meant.
func (o *options) sniSpace(words []string) error {
	for _, w := range words {
		if slices.Contains(o.Args.Host, w) {
			return usageHelpf("--sni takes its value only as --sni=NAME: write --sni=%s (a bare --sni means the host name)", w)
		}
	}
	return nil
}

// singleServerRules refuses options that would do nothing in single-server
// mode, so that a check never reports OK for what it did not do: TLS
// options without TLS, AUTH options without -A, an empty -H.
func (o *options) singleServerRules(p *flags.Parser) error {
	if o.MX != "" {
		return nil
	}
	// The options given, gathered in one pass: FindOptionByLongName walks
	// every option, building each long name, on every call.
	var set map[string]bool
	given := func(long string) bool {
		if set == nil {
			set = map[string]bool{}
			for _, g := range p.Groups() {
				for _, opt := range g.Options() {
					if opt.IsSet() {
						set[opt.LongName] = true
					}
				}
			}
		}
		return set[long]
	}
	tlsOn := o.SMTPS || o.STARTTLS
	for _, c := range []struct {
		long, name string
	}{
		{"certificate", "-D"}, {"cafile", "--cafile"}, {"ca-file", "--ca-file"}, {"sni", "--sni"},
		{"insecure", "-k (--insecure)"}, {"no-check-certificate", "--no-check-certificate"},
		{"ignore-certificate-expiration", "--ignore-certificate-expiration"}, {"dane", "--dane"},
		{"dane-rollover", "--dane-rollover"},
	} {
		if !tlsOn && given(c.long) {
			return usageHelpf("%s needs -s or -S: it only means something with TLS", c.name)
		}
	}
	if o.AuthMech == "" {
		for _, c := range []struct {
			set  bool
			name string
		}{
			{o.AuthUser != "", "-U"}, {given("authpass") && o.AuthPass != "", "--authpass"},
			{o.AuthPassword != "", "-P"}, {o.AuthPasswordFile != "", "--authpassword-file"},
		} {
			if c.set {
				return usageHelpf("%s without -A: no AUTH would be sent, add -A PLAIN (or LOGIN, CRAM-MD5)", c.name)
			}
		}
	}
	if o.Host == "" && (given("host") || given("hostname") || len(o.Args.Host) > 0) {
		return usageHelpf("-H is empty: give a host name, an IP address or a socket path, e.g. -H mail.example.com")
	}
	return nil
}

// hostArg reads -H: a name, an IP literal (an IPv6 one may be bracketed)
// or a socket path; never host:port.
func hostArg(h string) (string, error) {
	withPort := func(host, port string) error {
		return usageHelpf("-H %q holds a port: give it with -p, e.g. -H %s -p %s", h, host, port)
	}
	switch {
	case h == "":
		return "localhost", nil
	case strings.HasPrefix(h, "/"):
		return h, nil
	case strings.HasPrefix(h, "["):
		inner, rest, ok := strings.Cut(h[1:], "]")
		ip := net.ParseIP(inner)
		switch {
		case ok && rest == "" && ip != nil && ip.To4() == nil:
			return inner, nil
		case ok && strings.HasPrefix(rest, ":") && ip != nil:
			return "", withPort(inner, rest[1:])
		case ok && rest == "":
			return "", usageHelpf("-H %q: brackets are for an IPv6 literal, e.g. -H [::1]", h)
		}
		return "", usageHelpf("-H %q is not a host name, an IP address or an absolute socket path", h)
	case strings.Count(h, ":") == 1:
		host, port, _ := strings.Cut(h, ":")
		return "", withPort(host, port)
	}
	return h, nil
}

// quitAfterSteps are the --quit-after points, in conversation order.
func quitAfterSteps() []probe.Step {
	return []probe.Step{probe.StepBanner, probe.StepEHLO, probe.StepSTARTTLS, probe.StepTLS,
		probe.StepAuth, probe.StepMail, probe.StepRcpt}
}

// quitAfterConfig reads --quit-after. A step the command line never runs
// is refused, and so is an option whose command would come after it: a
// check must not silently do less than it was asked.
func (o *options) quitAfterConfig(c *config) error {
	if o.QuitAfter == "" {
		return nil
	}
	st, ok := probe.ParseStep(strings.ToLower(strings.TrimSpace(o.QuitAfter)))
	if !ok || !slices.Contains(quitAfterSteps(), st) {
		return usageHelpf("--quit-after %q: want one of banner, ehlo, starttls, tls, auth, mail, rcpt, e.g. --quit-after ehlo", o.QuitAfter)
	}
	if o.MX == "" {
		mode := c.conv.TLS.Mode
		needs := ""
		switch {
		case st == probe.StepSTARTTLS && mode != probe.STARTTLS:
			needs = "-S"
		case st == probe.StepTLS && mode == probe.NoTLS:
			needs = "-s or -S"
		case st == probe.StepAuth && c.conv.Auth.Mech == "":
			needs = "-A"
		case st == probe.StepRcpt && len(o.Rcpt)+len(o.RejectRcpt) == 0:
			needs = "--rcpt or --reject-rcpt"
		}
		if needs != "" {
			return usageHelpf("--quit-after %s: this command line never runs step %s (it needs %s)", st, st, needs)
		}
	}
	// Where each step sits: STARTTLS and its handshake come before the
	// last EHLO; implicit TLS before the banner.
	pos := map[probe.Step]int{probe.StepBanner: 1, probe.StepSTARTTLS: 2, probe.StepTLS: 2, probe.StepEHLO: 3,
		probe.StepAuth: 4, probe.StepMail: 5, probe.StepRcpt: 6, probe.StepCommand: 7}
	if c.conv.TLS.Mode == probe.ImplicitTLS {
		pos[probe.StepTLS] = 1
	}
	for _, later := range []struct {
		set        bool
		name, what string
		step       probe.Step
	}{
		{o.AuthMech != "", "-A", "AUTH comes", probe.StepAuth},
		{o.From != "", "-f", "MAIL comes", probe.StepMail},
		{len(o.Rcpt) > 0, "--rcpt", "RCPT comes", probe.StepRcpt},
		{len(o.RejectRcpt) > 0, "--reject-rcpt", "RCPT comes", probe.StepRcpt},
		{len(o.Command) > 0, "-C", "the -C commands come", probe.StepCommand},
	} {
		if later.set && pos[later.step] > pos[st] {
			return usageHelpf("%s is never sent with --quit-after %s (%s after %s)", later.name, st, later.what, st)
		}
	}
	c.conv.QuitAfter = st
	return nil
}
