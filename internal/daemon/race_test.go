//go:build race

package daemon

// raceEnabled: under the race detector the daemon runs several times
// slower, too slow for the tests that need it to keep up with the kernel.
const raceEnabled = true
