module github.com/check-smtp/check-smtp/bench

go 1.26.0

require github.com/miekg/dns v1.1.73

require (
	golang.org/x/net v0.61.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
)
