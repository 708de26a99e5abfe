// Package e2e tests the service as its users meet it: every sample event
// through the real bootstrap under the Lambda Runtime Interface Emulator, and
// the local API through Label Studio's own Python SDK. The tests need moto,
// the emulator and the project's virtualenv, so they build only with the
// integration tag: go test -tags integration ./internal/dev/e2e (make test does).
package e2e
