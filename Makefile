# check-smtp build, test and benchmark entry points.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/check-smtp/check-smtp/lib.version=$(VERSION)

.PHONY: build install test fuzz integration bench clean

build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/check-smtp ./check-smtp

# make install [PREFIX=/usr/local] [BINDIR=$(PREFIX)/bin] [DESTDIR=]; for
# Nagios' plugin directory: make install BINDIR=/usr/lib/nagios/plugins
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
install: build
	install -d "$(DESTDIR)$(BINDIR)"
	install -m 0755 bin/check-smtp "$(DESTDIR)$(BINDIR)/check-smtp"

# The race detector needs cgo and a C compiler: without them the tests run
# without -race (and say so) instead of failing on a Go-only machine.
RACE := $(shell [ "$$(go env CGO_ENABLED 2>/dev/null)" = 1 ] && command -v "$$(go env CC 2>/dev/null)" >/dev/null 2>&1 && echo -race)
test:
	go vet ./...
	test -z "$$(gofmt -l check-smtp lib)"
	@[ -n "$(RACE)" ] || echo "make test: no C compiler (or CGO_ENABLED=0): running the tests without -race"
	go test $(RACE) -count=1 ./...

clean:
	rm -rf bin

# Fuzz the parsers of outside input for FUZZTIME each (FUZZSHORT for the
# ones whose seed corpora already run with every go test); the seed corpora
# in each package's testdata/fuzz run with every go test as well.
FUZZTIME ?= 20s
FUZZSHORT ?= 8s
fuzz:
	go test ./lib/internal/wire -run '^$$' -fuzz '^FuzzReadReply$$' -fuzztime $(FUZZTIME)
	go test ./lib -run '^$$' -fuzz '^FuzzRunArgs$$' -fuzztime $(FUZZTIME)
	go test ./lib -run '^$$' -fuzz '^FuzzRegisterParsesAlike$$' -fuzztime $(FUZZSHORT)
	go test ./lib/internal/mtasts -run '^$$' -fuzz '^FuzzParsePolicy$$' -fuzztime $(FUZZSHORT)
	go test ./lib/internal/mtasts -run '^$$' -fuzz '^FuzzParseRecord$$' -fuzztime $(FUZZSHORT)
	go test ./lib/internal/tlsrpt -run '^$$' -fuzz '^FuzzParseRecord$$' -fuzztime $(FUZZSHORT)
	go test ./lib/internal/dane -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZSHORT)
	go test ./lib/internal/dnsx -run '^$$' -fuzz '^FuzzAnswer$$' -fuzztime $(FUZZSHORT)
	go test ./lib/internal/dnsx -run '^$$' -fuzz '^FuzzReplyMatchesMiekgDNS$$' -fuzztime $(FUZZSHORT)
	go test ./lib/internal/truststore -run '^$$' -fuzz '^FuzzNextBlock$$' -fuzztime $(FUZZSHORT)
	go test ./lib/internal/truststore -run '^$$' -fuzz '^FuzzScan$$' -fuzztime $(FUZZSHORT)
	go test ./lib/internal/truststore -run '^$$' -fuzz '^FuzzParseIndex$$' -fuzztime $(FUZZSHORT)
	go test ./lib/internal/truststore -run '^$$' -fuzz '^FuzzFramedBody$$' -fuzztime $(FUZZSHORT)

# Whole-process benchmark against a floor client and monitoring-plugins
# check_smtp (issues #7 and #15); writes bench/RESULTS.md. Not run in CI.
# bench/out/linked holds the floor built with one dependency of check-smtp
# linked in (bench/cmd/floor/link_*.go), for the start-up cost section.
BENCH_ARGS ?=
BENCH_LINKED := none: dns:linkdns json:linkjson regexp:linkregexp idna:linkidna all:linkdns,linkjson,linkregexp,linkidna
bench: build
	cd bench && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o out/ ./cmd/...
	cd bench && mkdir -p out/linked && for v in $(BENCH_LINKED); do \
		CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -tags "$${v#*:}" -o "out/linked/floor-$${v%%:*}" ./cmd/floor || exit 1; done
	sh bench/install-monitoring-plugins.sh
	bench/out/runner -check-smtp bin/check-smtp -floor bench/out/floor \
		-server bench/out/benchserver -dns bench/out/benchdns -floor-variants bench/out/linked \
		-out bench/RESULTS.md $(BENCH_ARGS)
	@cat bench/RESULTS.md

# Integration tests (issue #6): real chasquid, Postfix + Dovecot SASL, Dovecot
# LMTP, Nagios 4 and mackerel-agent's check code, all on loopback. Needs root:
# integration/servers.sh installs the Debian packages it lacks. Under CI a
# server that fails to start fails the run instead of skipping its tests.
integration: build
	cd integration && go vet ./... && test -z "$$(gofmt -l .)"
	cd integration && CHECK_SMTP_IT_REQUIRE=$${CHECK_SMTP_IT_REQUIRE:-$${CI:+1}} \
		go test -count=1 -v -timeout 30m ./...; rc=$$?; \
		if [ -z "$$CHECK_SMTP_IT_STATE" ]; then bash servers.sh stop >/dev/null 2>&1 || true; fi; \
		exit $$rc
