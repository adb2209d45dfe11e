package checksmtp

import (
	"testing"

	"github.com/mackerelio/checkers"

	"github.com/check-smtp/check-smtp/lib/internal/smtptest"
)

// Files named on the command line are read with a size cap: an endless file
// such as /dev/zero must give UNKNOWN, not exhaust memory or hang. These
// fail before connecting.
func TestFileSizeLimits(t *testing.T) {
	expectCases(t, []smtptest.Case{
		{Name: "password file", NoConnect: true, Args: []string{"-A", "PLAIN", "-U", "u", "--authpassword-file", "/dev/zero"},
			Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: cannot read --authpassword-file: /dev/zero: larger than 65536 bytes\n$`},
		{Name: "CA file", NoConnect: true, Args: []string{"-S", "--cafile", "/dev/zero"},
			Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: cannot read --cafile: /dev/zero: larger than 4194304 bytes\n$`},
		{Name: "ini file", NoConnect: true, Args: []string{"--extra-opts=check_smtp@/dev/zero"},
			Status: checkers.UNKNOWN, Output: `^SMTP UNKNOWN: --extra-opts: cannot read /dev/zero: larger than 1048576 bytes\n$`},
	})
}
