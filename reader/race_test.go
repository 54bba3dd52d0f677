//go:build race

package reader

// raceEnabled: under the race detector the reader is several times slower.
const raceEnabled = true
