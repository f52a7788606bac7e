package testkit

import (
	"fmt"
	"os"
	"sync"
)

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

// PackageTB is a TB for fixtures shared by a whole test package and
// started from TestMain, where no *testing.T exists: Fatal panics (failing
// the package), Cleanup functions run at Close. The demo program uses it too.
type PackageTB struct {
	name     string
	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

// NewPackageTB returns a PackageTB; call Close after m.Run.
func NewPackageTB(name string) *PackageTB { return &PackageTB{name: name} }

func (p *PackageTB) Helper()      {}
func (p *PackageTB) Name() string { return p.name }
func (p *PackageTB) Logf(f string, a ...any) {
	fmt.Fprintf(os.Stderr, p.name+": "+f+"\n", a...)
}
func (p *PackageTB) Log(a ...any) { fmt.Fprintln(os.Stderr, append([]any{p.name + ":"}, a...)...) }
func (p *PackageTB) Errorf(f string, a ...any) {
	p.mu.Lock()
	p.failed = true
	p.mu.Unlock()
	p.Logf(f, a...)
}
func (p *PackageTB) Error(a ...any) { p.Errorf("%s", fmt.Sprint(a...)) }
func (p *PackageTB) Fatalf(f string, a ...any) {
	p.Errorf(f, a...)
	panic(fmt.Sprintf(p.name+": "+f, a...))
}
func (p *PackageTB) Fatal(a ...any) { p.Fatalf("%s", fmt.Sprint(a...)) }
func (p *PackageTB) FailNow()       { p.Fatalf("FailNow") }
func (p *PackageTB) Failed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed
}
func (p *PackageTB) Cleanup(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cleanups = append(p.cleanups, f)
}
func (p *PackageTB) TempDir() string {
	d, err := os.MkdirTemp("", "outrigger-pkg-")
	if err != nil {
		p.Fatal(err)
	}
	p.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// Close runs the cleanups, last registered first.
func (p *PackageTB) Close() {
	p.mu.Lock()
	cs := p.cleanups
	p.cleanups = nil
	p.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}
