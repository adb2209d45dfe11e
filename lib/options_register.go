package checksmtp

import (
	"os"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	flags "github.com/jessevdk/go-flags"
)

// flagPart is one embedded part of options, registered with go-flags as a
// whole or not at all.
type flagPart struct {
	ptr any // pointer to the part inside an options value
	// defaults: the part holds an option with a default, which go-flags
	// sets only on an option it was given; register sets it from the tag
	// when the part is not registered.
	defaults bool
	always   bool // the positional host: registered on every run
}

// parts lists o's parts in --help order.
func (o *options) parts() []flagPart {
	return []flagPart{
		{ptr: &o.connFlags},
		{ptr: &o.addressFlags},
		{ptr: &o.tlsFlags},
		{ptr: &o.authFlags},
		{ptr: &o.envelopeFlags},
		{ptr: &o.expectFlag, defaults: true},
		{ptr: &o.commandFlags},
		{ptr: &o.limitFlags},
		{ptr: &o.timeoutFlag, defaults: true},
		{ptr: &o.runFlags},
		{ptr: &o.mxFlags},
		{ptr: &o.parallelFlag, defaults: true},
		{ptr: &o.policyFlags},
		{ptr: &o.formatFlag, defaults: true},
		{ptr: &o.textfileFlag},
		{ptr: &o.prefixFlag, defaults: true},
		{ptr: &o.positionalFlags, always: true},
	}
}

// register adds o's options to p: all of them when all is set (an ini
// file can set any option), and otherwise only the parts that args can
// name, which gives go-flags the same answers at a fraction of the cost.
//
// go-flags reads an argument as an option only by its own syntax (a long
// name after "--", up to "="; a cluster of short names after "-", where
// only the first can take the rest as its value), so every name it could
// look up is in args: register takes every word that starts with "-", even
// an option's value or a word after "--", and registers each part that
// has one of those names. A name no part has (an unknown option, or -h and
// --help, which go-flags answers with the help of every option) registers
// everything, as does shell completion, which lists every option.
func (o *options) register(p *flags.Parser, args []string, all bool) error {
	parts := o.parts()
	var want []bool
	if !all && os.Getenv("GO_FLAGS_COMPLETION") == "" { // go-flags reads it so, too
		want = namedParts(parts, args)
	}
	if want == nil {
		_, err := p.AddGroup("Options", "", o)
		return err
	}
	for i, pt := range parts {
		if !want[i] && !pt.always && (!pt.defaults || setDefaults(pt.ptr)) {
			continue
		}
		if _, err := p.AddGroup("Options", "", pt.ptr); err != nil {
			return err
		}
	}
	return nil
}

// setDefaults sets the fields of the part at ptr that have a default tag
// to it, as go-flags would set an option not given; false, having set
// nothing, if a default is of a kind whose conversion is go-flags' alone
// or does not convert (the part is then registered, and go-flags says).
func setDefaults(ptr any) bool {
	v := reflect.ValueOf(ptr).Elem()
	t := v.Type()
	for pass := 0; pass < 2; pass++ { // check all, then set all
		for i := 0; i < t.NumField(); i++ {
			def, ok := t.Field(i).Tag.Lookup("default")
			if !ok {
				continue
			}
			switch f := v.Field(i); f.Kind() {
			case reflect.String:
				if pass == 1 {
					f.SetString(def)
				}
			case reflect.Int:
				n, err := strconv.ParseInt(def, 10, 0)
				if err != nil {
					return false
				}
				if pass == 1 {
					f.SetInt(n)
				}
			default:
				return false
			}
		}
	}
	return true
}

// namedParts marks the parts that hold an option args may name; nil if
// some name is in no part.
func namedParts(parts []flagPart, args []string) []bool {
	want := make([]bool, len(parts))
	mark := func(name string, short bool) (takesValue, ok bool) {
		i, takesValue, ok := findOption(parts, name, short)
		if ok {
			want[i] = true
		}
		return takesValue, ok
	}
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, "--"):
			if len(a) == 2 || a[2] == '-' {
				continue // "--", or not an option to go-flags
			}
			name, _, _ := strings.Cut(a[2:], "=")
			if _, ok := mark(name, false); !ok {
				return nil
			}
		case len(a) > 1 && a[0] == '-':
			cluster := a[1:]
			_, n := utf8.DecodeRuneInString(cluster)
			takesValue, ok := mark(cluster[:n], true)
			if !ok {
				return nil
			}
			if takesValue || (n == 1 && len(cluster) > 1 && cluster[1] == '=') {
				continue // the rest is the first option's value
			}
			for _, c := range cluster[n:] {
				if _, ok := mark(string(c), true); !ok {
					return nil
				}
			}
		}
	}
	return want
}

// findOption finds the part holding the option of that long or short
// name, and whether the option takes a value (every option that is not a
// bool does, as go-flags decides).
func findOption(parts []flagPart, name string, short bool) (part int, takesValue, ok bool) {
	key := "long"
	if short {
		key = "short"
	}
	for i, pt := range parts {
		t := reflect.TypeOf(pt.ptr).Elem()
		for j := 0; j < t.NumField(); j++ {
			f := t.Field(j)
			if v, ok := f.Tag.Lookup(key); ok && v == name {
				return i, f.Type.Kind() != reflect.Bool, true
			}
		}
	}
	return 0, false, false
}
