# check-smtp build, test and benchmark entry points.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/check-smtp/check-smtp/lib.version=$(VERSION)

.PHONY: build test fuzz integration bench clean

build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/check-smtp ./check-smtp

test:
	go vet ./...
	test -z "$$(gofmt -l check-smtp lib)"
	go test -race -count=1 ./...

clean:
	rm -rf bin

# Whole-process benchmark against a floor client and monitoring-plugins
# check_smtp (issue #7); writes bench/RESULTS.md. Not run in CI.
BENCH_ARGS ?=
bench: build
	cd bench && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o out/ ./cmd/...
	sh bench/install-monitoring-plugins.sh
	bench/out/runner -check-smtp bin/check-smtp -floor bench/out/floor \
		-server bench/out/benchserver -out bench/RESULTS.md $(BENCH_ARGS)
	@cat bench/RESULTS.md
