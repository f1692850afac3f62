//go:build !unix

package store

import "os"

// Ownership and modes are Unix notions.
func checkOwner(*os.File, string) error  { return nil }
func makePrivate(*os.File, string) error { return nil }
