package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/repli-dr/repli/runbooks"
)

func TestSchemaCommandPrintsTheSchema(t *testing.T) {
	t.Parallel()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"schema"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), runbooks.Schema()) {
		t.Error("repli schema does not print runbooks.Schema()")
	}
	var doc map[string]any
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if doc["$schema"] != runbooks.SchemaDraft {
		t.Errorf("$schema %v", doc["$schema"])
	}

	root = newRootCmd()
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"schema", "extra"})
	if err := root.ExecuteContext(context.Background()); err == nil {
		t.Error("repli schema accepts an argument")
	}
}
