package structure

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// maxFuncLines is the longest a non-test function may be, in lines from
// its func keyword to its closing brace.
const maxFuncLines = 90

// tooLong are functions allowed over maxFuncLines for a while, each to be
// split by the work that owns its file, keyed "file:function". It is empty:
// every function that was over when this test was written has been split.
// The list only shrinks: a function not on it fails the test.
var tooLong = map[string]bool{}

func TestNoFunctionIsTooLong(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	seen := map[string]bool{}
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			// The libvirt test lab starts real daemons step by step; it is
			// test support, not product code.
			if rel == "engine/libvirt/libvirtlab" || rel != "." && strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "bin" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			checked++
			n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
			key := rel + ":" + fd.Name.Name
			switch {
			case n <= maxFuncLines && tooLong[key]:
				t.Logf("%s is %d lines now: take it off tooLong", key, n)
			case n > maxFuncLines && tooLong[key]:
				seen[key] = true
			case n > maxFuncLines:
				t.Errorf("%s is %d lines, more than %d: split it", key, n, maxFuncLines)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// So that the test cannot pass by reading nothing (a wrong root).
	if checked < 500 {
		t.Fatalf("only %d functions found under %s: the walk does not read the module", checked, root)
	}
	for key := range tooLong {
		if !seen[key] {
			t.Logf("%s is gone or short now: take it off tooLong", key)
		}
	}
}
