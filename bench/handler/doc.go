// Package handler benchmarks the CPU and memory cost of one create through
// the real Lambda handler (the app's event dispatcher, HTTP handler, request
// decoder and storage service), with in-process fakes for the secret store,
// the repository, the id allocator and the connection checker, so no network
// is involved:
//
//	go test -run '^$' -bench BenchmarkCreate -benchmem ./bench/handler
//
// Besides ns/op, B/op and allocs/op it reports cpu-ns/op, the process's user
// plus system CPU time per create (garbage collection on other cores
// included), which is what a Lambda is billed for.
package handler
