#!/usr/bin/env bash
# Prints the directory of every module listed in go.work, one a line.
set -euo pipefail
cd "$(dirname "$0")/.."
go work edit -json | sed -n 's/.*"DiskPath": "\.\/\(.*\)".*/\1/p'
