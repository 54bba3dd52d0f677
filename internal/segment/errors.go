package segment

import "errors"

var (
	// ErrCorrupt is wrapped by Cat, CatFiltered and ScanIndex when a
	// segment holds bytes that are not a valid frame or do not decode.
	ErrCorrupt = errors.New("corrupt segment")
	// ErrNoIndex is wrapped by ReadIndex when a segment has no valid index
	// trailer: a plain segment, or one whose writer crashed (until the
	// next Repair).
	ErrNoIndex = errors.New("segment has no index trailer")
	// errTorn marks a frame cut short by the end of the file.
	errTorn = errors.New("torn frame")
)
