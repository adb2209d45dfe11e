package checksmtp

import (
	"regexp"
	"testing"

	"github.com/mackerelio/checkers"
)

// Files named on the command line are read with a size cap: an endless file
// such as /dev/zero must give UNKNOWN, not exhaust memory or hang. No server
// is needed: these fail before connecting.
func TestFileSizeLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"password file", []string{"-A", "PLAIN", "-U", "u", "--authpassword-file", "/dev/zero"},
			`^SMTP UNKNOWN: cannot read --authpassword-file: /dev/zero: larger than 65536 bytes\n$`},
		{"CA file", []string{"-S", "--cafile", "/dev/zero"},
			`^SMTP UNKNOWN: cannot read --cafile: /dev/zero: larger than 4194304 bytes\n$`},
		{"ini file", []string{"--extra-opts=check_smtp@/dev/zero"},
			`^SMTP UNKNOWN: --extra-opts: cannot read /dev/zero: larger than 1048576 bytes\n$`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ckr := run(append([]string{"-H", "127.0.0.1", "-p", "1"}, tc.args...))
			out := format(ckr)
			if ckr.Status != checkers.UNKNOWN || !regexp.MustCompile(tc.want).MatchString(out) {
				t.Errorf("got %v %q, want UNKNOWN matching %q", ckr.Status, out, tc.want)
			}
		})
	}
}
