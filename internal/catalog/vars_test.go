package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecretVars(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	if err := os.WriteFile(file, []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := SecretVars([]string{"db_password=@" + file})
	if err != nil || got["db_password"] != file {
		t.Fatalf("got %v %v", got, err)
	}
	for _, bad := range []string{"db_password=hunter2", "db_password=@", "=@" + file, "db_password=@" + filepath.Join(dir, "missing")} {
		_, err := SecretVars([]string{bad})
		if err == nil {
			t.Errorf("%s accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows the value: %v", err)
		}
	}
}

func TestVars(t *testing.T) {
	t.Parallel()
	got, err := Vars([]string{"vms=a,b", "empty="})
	if err != nil || got["vms"] != "a,b" || got["empty"] != "" || len(got) != 2 {
		t.Fatalf("Vars = %v, %v", got, err)
	}
	if _, err := Vars([]string{"novalue"}); err == nil {
		t.Error("NAME without =VALUE accepted")
	}
}
