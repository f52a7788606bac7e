package pipeline

import (
	"reflect"
	"testing"
)

// TestFoldLags: the most lagging files keep a series each (ties by path),
// the rest are left for the "other" sum, and paths that are the same once
// made valid UTF-8 share one series.
func TestFoldLags(t *testing.T) {
	lags := []fileLagBytes{{"/b", 5}, {"/a", 5}, {"/c", 9}, {"/d", 1}, {"/x\xff", 2}, {"/x\xfe", 3}}
	keep, rest := foldLags(lags, 5)
	wantKeep := []fileLagBytes{{"/c", 9}, {"/a", 5}, {"/b", 5}, {"/x\uFFFD", 5}}
	if !reflect.DeepEqual(keep, wantKeep) {
		t.Errorf("kept %+v, want %+v", keep, wantKeep)
	}
	if want := []fileLagBytes{{"/d", 1}}; !reflect.DeepEqual(rest, want) {
		t.Errorf("rest %+v, want %+v", rest, want)
	}
	if keep, rest := foldLags(nil, 5); len(keep) != 0 || len(rest) != 0 {
		t.Errorf("no files: %+v %+v", keep, rest)
	}
}
