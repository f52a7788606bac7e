// Command gentree writes a tree for the storage-exporter benchmark and prints
// its manifest as JSON.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/outrigger/outrigger/exporters/storage/internal/treegen"
)

func main() { os.Exit(run()) }

func run() int {
	dir := flag.String("dir", "", "empty directory to fill")
	files := flag.Int("files", 1_000_000, "regular files in the bulk of the tree")
	perDir := flag.Int("files-per-dir", 100, "files per leaf directory")
	workers := flag.Int("workers", 2, "parallel writers")
	extras := flag.Bool("extras", true, "add hard links, sparse files, symlink loops, odd names and a directory to lock")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "gentree: -dir is required")
		return 2
	}
	m, err := treegen.Generate(context.Background(), *dir,
		treegen.Spec{Files: *files, FilesPerDir: *perDir, Workers: *workers, Extras: *extras})
	if err != nil {
		fmt.Fprintf(os.Stderr, "gentree: %v\n", err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(m); err != nil {
		fmt.Fprintf(os.Stderr, "gentree: %v\n", err)
		return 1
	}
	return 0
}
