module github.com/check-smtp/check-smtp/bench

go 1.24
