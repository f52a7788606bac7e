package promkit

import (
	"fmt"
	"io"
)

// BodyTooLargeError is what a CappedReader returns once its source has given
// more than the cap.
type BodyTooLargeError struct{ Limit int64 }

func (e *BodyTooLargeError) Error() string {
	return fmt.Sprintf("response larger than %d bytes: not read", e.Limit)
}

// CappedReader reads r up to limit bytes; reading more fails with a
// BodyTooLargeError instead of ending the body early (as io.LimitReader
// would, leaving a decoder to report a puzzling unexpected EOF). It is how
// every daemon reads an HTTP response of a service it watches: decoding
// streams from it, and memory stays bounded by what is decoded.
func CappedReader(r io.Reader, limit int64) io.Reader {
	return &cappedReader{r: r, left: limit + 1, limit: limit}
}

type cappedReader struct {
	r           io.Reader
	left, limit int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, &BodyTooLargeError{Limit: c.limit}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left <= 0 && n > 0 {
		// The byte past the cap was read: the body is too large.
		return n - 1, &BodyTooLargeError{Limit: c.limit}
	}
	return n, err
}
