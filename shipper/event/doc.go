// Package event holds the types that travel from the file inputs through the
// processors to the outputs, and the acknowledgement contract between them:
// an output calls Done once for every event it delivered (or dropped for
// good), and the input commits an offset only when every output did.
package event
