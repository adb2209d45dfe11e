module github.com/check-smtp/check-smtp/integration

go 1.25.0

require github.com/mackerelio/mackerel-agent v0.87.0

require (
	github.com/BurntSushi/toml v1.6.0 // indirect
	github.com/Songmu/timeout v0.4.0 // indirect
	github.com/Songmu/wrapcommander v0.1.0 // indirect
	github.com/agext/levenshtein v1.2.3 // indirect
	github.com/mackerelio/go-osstat v0.2.7 // indirect
	github.com/mackerelio/golib v1.2.2 // indirect
	github.com/mackerelio/mackerel-client-go v0.43.0 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	golang.org/x/sys v0.46.0 // indirect
	golang.org/x/text v0.38.0 // indirect
)
