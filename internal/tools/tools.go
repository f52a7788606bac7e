// Package tools pins the development tools every module's lint uses
// (staticcheck, by the tool directive in go.mod); it holds no code.
package tools
