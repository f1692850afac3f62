// Package structure holds no code: its tests check the shape of the whole
// repository (issue 8), such as how long a function may grow.
package structure
