//go:build race

package plugins

// raceEnabled: the race detector slows Dispatch down tenfold; timing
// assertions are skipped under it.
const raceEnabled = true
