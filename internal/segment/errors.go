package segment

import "errors"

var (
	// ErrCorrupt is the reason of a Skip, and of Repair's cut, when a
	// segment holds bytes that are not a valid frame or do not verify.
	ErrCorrupt = errors.New("corrupt segment")
	// ErrNoIndex is wrapped by ReadIndex when a segment has no valid index
	// trailer: a plain segment, or one whose writer crashed (until the
	// next Repair).
	ErrNoIndex = errors.New("segment has no index trailer")
	// ErrSkipped is wrapped by the *SkipError that Cat, CatFiltered,
	// Follow and ScanIndex return when they skipped damaged regions.
	ErrSkipped = errors.New("damaged data skipped")
	// errTorn marks a frame cut short by the end of the file.
	errTorn = errors.New("torn frame")
)
