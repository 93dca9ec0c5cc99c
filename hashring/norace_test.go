//go:build !race

package hashring

// raceEnabled reports that the race detector is on.
const raceEnabled = false
