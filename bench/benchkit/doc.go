// Package benchkit holds the pieces the benchmarks share: building and
// zipping Lambda artifacts, the API Gateway events they send, a reverse
// proxy that adds a fixed latency to every AWS call and records it, reading
// the Lambda Runtime Interface Emulator's reports, process memory and CPU
// from /proc, and small statistics.
//
// Nothing here asserts a timing: the benchmarks measure and report, and the
// report generator (bench/cmd/report) compares the numbers with the targets.
package benchkit
