//go:build !unix

package store

import "os"

// secureFile: ownership and modes are Unix notions.
func secureFile(*os.File, string) error { return nil }
