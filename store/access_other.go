//go:build !unix

package store

// dirWritable assumes a writable directory where access(2) is not
// available; the read-only open then relies on SQLite's mode=ro alone.
func dirWritable(string) bool { return true }
