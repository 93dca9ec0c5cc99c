//go:build race

package hashring

// raceEnabled reports that the race detector is on: its 5–20× slowdown
// makes some exhaustive tests sample instead.
const raceEnabled = true
