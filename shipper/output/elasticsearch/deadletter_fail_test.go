package elasticsearch

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// fullFile is an *os.File that runs out of space: the write that would go
// past room writes what fits and fails with ENOSPC, as a full filesystem does.
type fullFile struct {
	*os.File
	room int
}

func (f *fullFile) Write(b []byte) (int, error) {
	if len(b) <= f.room {
		f.room -= len(b)
		return f.File.Write(b)
	}
	n, _ := f.File.Write(b[:f.room])
	f.room = 0
	return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
}

func letters(n int) []letter {
	ls := make([]letter, n)
	for i := range ls {
		ls[i] = letter{index: "logs", id: "id", source: "/app/logs/app.log", status: 400, typ: "mapper_parsing_exception", reason: "bad", doc: []byte(`{"n":1}`)}
	}
	return ls
}

// TestDeadLetterShortWrite: a write cut by a full disk is truncated back, so
// the file holds only whole NDJSON lines and the next append (after space
// was freed) starts a line of its own; a partial line left by a crash is
// cut at open.
func TestDeadLetterShortWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.ndjson")
	var ff *fullFile
	d := deadLetters{path: path, openFile: func(p string) (deadLetterFile, error) {
		f, err := openAppend(p)
		if err != nil {
			return nil, err
		}
		ff = &fullFile{File: f.(*os.File), room: 1 << 20}
		return ff, nil
	}}
	if err := d.open(); err != nil {
		t.Fatal(err)
	}
	defer d.close()
	if kept, err := d.write("es", letters(2)); err != nil || kept != 2 {
		t.Fatalf("first write: %d, %v", kept, err)
	}
	ff.room = 100 // the next batch is cut in its first line
	if _, err := d.write("es", letters(3)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write on a full disk: %v, want ENOSPC", err)
	}
	ff.room = 1 << 20
	if kept, err := d.write("es", letters(3)); err != nil || kept != 3 {
		t.Fatalf("write after space was freed: %d, %v", kept, err)
	}
	checkLines(t, path, 5)

	// A crash mid-line: the partial line is cut when the file is opened.
	d.close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"@timestamp":"2026`)
	f.Close()
	d2 := deadLetters{path: path}
	if err := d2.open(); err != nil {
		t.Fatal(err)
	}
	defer d2.close()
	if _, err := d2.write("es", letters(1)); err != nil {
		t.Fatal(err)
	}
	checkLines(t, path, 6)
}

func checkLines(t *testing.T, path string, want int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		if !json.Valid(sc.Bytes()) {
			t.Errorf("line %d is not JSON: %s", n, sc.Bytes())
		}
	}
	if n != want {
		t.Errorf("%d lines, want %d", n, want)
	}
}
