// Package smtptest is the test support that check-smtp's packages share:
//
//   - Server, a scripted SMTP peer on a loopback socket (Start, Serve,
//     ServeTLS), the script fragments of the usual conversation (Greeting,
//     Tail, STARTTLS, ...) and the sockets around it (ListenLoopback,
//     UnixListener, ClosedPort, ServeOnce);
//   - Certs and NewChain, a private CA and server certificates made at test
//     time, so nothing in testdata can expire;
//   - GoSMTP, emersion/go-smtp serving a Backend in-process, an SMTP server
//     the project did not write;
//   - Expect and RunCases, the one way to run a check and assert its state,
//     its output (a regexp over all of it) and the plugin-output contract
//     (AssertPluginOutput).
//
// It is for tests only: everything that can fail takes a testing.TB, fails
// the test, and releases what it opened in t.Cleanup. It listens on
// 127.0.0.1, ::1 and unix sockets only.
package smtptest
