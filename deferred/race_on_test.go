//go:build race

package deferred

// raceEnabled reports whether the race detector is on; it makes the
// million-Deferred child process ten times smaller, as race instrumentation
// makes every lock about ten times slower.
const raceEnabled = true
