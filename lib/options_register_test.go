package checksmtp

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	flags "github.com/jessevdk/go-flags"
)

// parseRegistered parses args with go-flags after register; all as given.
func parseRegistered(t testing.TB, args []string, all bool) (*options, []string, string, int) {
	t.Helper()
	o := &options{}
	p := flags.NewNamedParser("check-smtp", flags.HelpFlag|flags.PassDoubleDash)
	if err := o.register(p, args, all); err != nil {
		t.Fatalf("register: %v", err)
	}
	rest, err := p.ParseArgs(args)
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	n := 0
	for _, g := range p.Groups() {
		n += len(g.Options())
	}
	return o, rest, msg, n
}

// assertSameParse is the contract of register: go-flags given only the
// parts args name answers as it does given every option.
func assertSameParse(t testing.TB, args []string) (registered, total int) {
	t.Helper()
	full, fullRest, fullErr, total := parseRegistered(t, args, true)
	part, partRest, partErr, registered := parseRegistered(t, args, false)
	if fullErr != partErr {
		t.Fatalf("%q: error %q with every option registered, %q with the named parts", args, fullErr, partErr)
	}
	// After an error go-flags has set no defaults; the options are not
	// used then.
	if fullErr == "" && !reflect.DeepEqual(full, part) {
		t.Fatalf("%q: options differ:\nevery option: %+v\nnamed parts:  %+v", args, *full, *part)
	}
	if !reflect.DeepEqual(fullRest, partRest) {
		t.Fatalf("%q: remaining args %q against %q", args, fullRest, partRest)
	}
	return registered, total
}

func TestRegisterNamedPartsParseAlike(t *testing.T) {
	cases := [][]string{
		{},
		{"-H", "127.0.0.1", "-p", "2525"},
		{"-H127.0.0.1", "-p2525"},
		{"-H=127.0.0.1", "-p=25"},
		{"--host=mx.example.test", "--port", "587", "-S", "-k"},
		{"-Sk", "-A", "PLAIN", "-U", "user", "-P", "pass"},
		{"-kS4"},
		{"-kp", "25"}, // a value-taking option last in a cluster takes the next word
		{"-kp25"},     // ... but only the first may take the rest of the word
		{"-pk"},       // "k" is -p's value
		{"-e", "-k"},  // a value that looks like an option: go-flags refuses it
		{"-e", "ESMTP", "-t", "5:warning", "-w", "1", "-c", "2"},
		{"-P", "-secret-"},     // a password that looks like options
		{"-P", "--authpass=x"}, // a value naming another option
		{"--sni", "mx.example.test"},
		{"--sni=", "-s"},
		{"--extra-opts"},
		{"-H", "a", "--", "-k", "--format=json"},
		{"---x"},
		{"-"},
		{"--", "--"},
		{"-h"},
		{"--help"},
		{"-?"},
		{"--no-such-option"},
		{"-Z"},
		{"-kZ"},
		{"-é"},
		{"-é=x"},
		{"-M", "example.test", "--parallel", "2", "--dane", "--no-mta-sts"},
		{"-M", "example.test", "--dns-server", "127.0.0.1:53", "--dns-server=::1"},
		{"--format", "prometheus", "--prometheus-textfile", "/tmp/x.prom", "--metric-key-prefix", "m"},
		{"--format=mackerel", "--metric-key-prefix="},
		{"-e", "", "-t", ""},
		{"--parallel", "x"},
		{"--parallel"},
		{"-p", "99999"},
		{"-p"},
		{"-C", "NOOP", "-R", "^250", "-C", "VRFY x", "--rcpt", "a@b", "--reject-rcpt", "c@d"},
		{"-L", "-q", "-r", "-v", "--no-perfdata", "--quit-after", "ehlo", "--status-as", "warning=critical"},
		{"-V"},
		{"--step-warning", "mail=1", "--step-critical=rcpt=2", "-D", "30,7", "--ignore-certificate-expiration"},
		{"--ssl", "--tls", "--no-check-certificate", "--ca-file", "x", "--cafile", "y", "--authtype", "LOGIN"},
		{"--hostname", "h", "--use-ipv4", "--use-ipv6", "-F", "me.example.test", "-f", "<a@b>"},
		{"host.example.test"},
		{"a", "b"},
		{"--authpassword-file", "f", "--allow-plaintext-auth", "--dns-trust-ad", "--mx-strict"},
		{"--mta-sts-required", "--tlsrpt-required", "--no-dane", "--dane-rollover"},
	}
	for _, args := range cases {
		assertSameParse(t, args)
	}
	// The point of it: a plain check registers a fraction of the options.
	reg, total := assertSameParse(t, []string{"-H", "127.0.0.1", "-p", "25"})
	if reg*3 > total {
		t.Errorf("a plain check registered %d of %d options", reg, total)
	}
	if reg, _ := assertSameParse(t, []string{"--help"}); reg != total {
		t.Errorf("--help registered %d options, want every one of %d", reg, total)
	}
}

// Every option with a default is in a part that register registers or
// sets from its tags, and the positional host is registered on every run:
// go-flags sets defaults only on the options it was given.
func TestRegisterDefaults(t *testing.T) {
	o := &options{}
	withDefault := 0
	for _, pt := range o.parts() {
		ty := reflect.TypeOf(pt.ptr).Elem()
		for _, f := range reflect.VisibleFields(ty) {
			_, def := f.Tag.Lookup("default")
			_, env := f.Tag.Lookup("env")
			_, pos := f.Tag.Lookup("positional-args")
			switch {
			case env:
				t.Errorf("%s.%s takes a default from the environment, which register does not know", ty.Name(), f.Name)
			case def && !pt.defaults && !pt.always:
				t.Errorf("%s.%s has a default, but its part is not marked defaults", ty.Name(), f.Name)
			case pos && !pt.always:
				t.Errorf("%s.%s is positional, but its part is not always registered", ty.Name(), f.Name)
			case def && !setDefaults(reflect.New(ty).Interface()):
				t.Errorf("%s.%s: setDefaults cannot set its default", ty.Name(), f.Name)
			}
			if def {
				withDefault++
			}
		}
	}
	if withDefault == 0 {
		t.Fatal("found no option with a default")
	}
	// A kind setDefaults does not convert leaves the part to go-flags.
	var odd struct {
		D float64 `long:"d" default:"1.5"`
	}
	if setDefaults(&odd) || odd.D != 0 {
		t.Errorf("setDefaults took a float64 default: %v", odd.D)
	}
	var bad struct {
		S string `long:"s" default:"x"`
		N int    `long:"n" default:"eight"`
	}
	if setDefaults(&bad) || bad.S != "" {
		t.Errorf("setDefaults set %q before refusing a bad int default", bad.S)
	}
	// parts covers every embedded part of options, in order.
	var fromParts, fromStruct []string
	for _, pt := range o.parts() {
		fromParts = append(fromParts, reflect.TypeOf(pt.ptr).Elem().Name())
	}
	ty := reflect.TypeOf(*o)
	for i := 0; i < ty.NumField(); i++ {
		if !ty.Field(i).Anonymous {
			t.Errorf("options field %s is not an embedded part", ty.Field(i).Name)
		}
		fromStruct = append(fromStruct, ty.Field(i).Type.Name())
	}
	if !reflect.DeepEqual(fromParts, fromStruct) {
		t.Errorf("parts() lists %v, options embeds %v", fromParts, fromStruct)
	}
}

// FuzzRegisterParsesAlike: for any argument list, go-flags given only the
// named parts parses as it does given every option. The seeds are the
// FuzzRunArgs corpus too (newline-separated arguments).
func FuzzRegisterParsesAlike(f *testing.F) {
	f.Add("-H\nmx.example.test\n-t\n0.5\n-v")
	f.Add("-kp\n25")
	f.Add("-e\n-k")
	seeds, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzRunArgs", "*"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		// go test fuzz v1 / string("...")
		_, v, ok := strings.Cut(string(b), "string(")
		if !ok {
			continue
		}
		if u, err := strconv.Unquote(strings.TrimSuffix(strings.TrimSpace(v), ")")); err == nil {
			f.Add(u)
		}
	}
	f.Fuzz(func(t *testing.T, input string) {
		assertSameParse(t, strings.Split(input, "\n"))
	})
}

// Shell completion lists every option: go-flags reads GO_FLAGS_COMPLETION
// itself, so register must see it too.
func TestRegisterEverythingForCompletion(t *testing.T) {
	count := func() int {
		o := &options{}
		p := flags.NewNamedParser("check-smtp", flags.HelpFlag|flags.PassDoubleDash)
		if err := o.register(p, []string{"-H", "x"}, false); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, g := range p.Groups() {
			n += len(g.Options())
		}
		return n
	}
	plain := count()
	t.Setenv("GO_FLAGS_COMPLETION", "1")
	if all := count(); all <= plain {
		t.Errorf("with GO_FLAGS_COMPLETION set, %d options registered; %d without", all, plain)
	}
}
