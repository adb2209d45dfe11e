// Package stackreserve grows the main goroutine's stack to 64 KiB once, in
// its initialiser, before any other package of check-smtp initialises.
//
// A goroutine starts with 8 KiB of stack; each time a call needs more, the
// runtime copies the stack and walks every frame on it through the
// function tables (.gopclntab), faulting those pages in. A check grew the
// main stack three times (in an initialiser of the DNS message package,
// in go-flags' scan of the options and in the TLS key exchange), with deep
// stacks each time, and those walks alone kept about 0.5 MiB of the tables
// resident. Grown here, with three frames on the stack, the walk touches
// almost nothing, and nothing later needs more.
//
// Importing the package does it for the main goroutine. It imports nothing, so it is
// ready to initialise first; Go initialises packages in import-path order
// among those whose imports are done, which puts it ahead of the
// packages whose initialisers run deep.
package stackreserve

func init() { reserve() }

// Grow grows the calling goroutine's stack the same way: for a goroutine
// that will run deep (reading the trust store while the main one talks to
// the server), at its start, while its stack is shallow.
func Grow() { reserve() }

// reserve needs a frame of 32 KiB and more: the runtime sizes the new
// stack for the frame at once, 64 KiB.
//
//go:noinline
func reserve() {
	var frame [32 << 10]byte
	touch(frame[:])
}

// touch keeps frame from being optimised away; it does not let it escape
// to the heap.
//
//go:noinline
func touch(b []byte) { b[len(b)-1] = 1 }
