package writer

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these (or an
// OS error) with the values involved; compare with errors.Is.
var (
	// ErrClosed is returned by Append, Tick, Flush and Rotate after Close.
	ErrClosed = errors.New("writer: closed")
	// ErrConfig is wrapped by Open when a Config field is invalid.
	ErrConfig = errors.New("writer: invalid config")
	// ErrDirLocked is wrapped by Open when another Writer (in this or
	// another process) has the directory open.
	ErrDirLocked = errors.New("writer: directory in use by another writer")
	// ErrSegmentRemoved is wrapped by the DiskError raised when the open
	// segment's link count dropped to zero (it or its directory was
	// deleted while being written).
	ErrSegmentRemoved = errors.New("writer: segment removed while open")
)
