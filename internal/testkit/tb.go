package testkit

// TB is the part of testing.TB that testkit needs. *testing.T and *testing.B
// satisfy it; so does the demo program, which starts the same services
// outside a test.
type TB interface {
	Helper()
	Cleanup(func())
	Failed() bool
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
	TempDir() string
}
