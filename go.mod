module github.com/check-smtp/check-smtp

go 1.24

require (
	github.com/emersion/go-sasl v0.0.0-20241020182733-b788ff22d5a6
	github.com/emersion/go-smtp v0.24.0
	github.com/jessevdk/go-flags v1.6.1
	github.com/mackerelio/checkers v0.2.1
	github.com/pires/go-proxyproto v0.8.1
)

require golang.org/x/sys v0.21.0 // indirect
