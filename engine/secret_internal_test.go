package engine

import "testing"

// TestSecretSuppliedNamesItsSecretVar: a secret given with --secret-var is
// recorded under the var's name, with the operator of the console.
func TestSecretSuppliedNamesItsSecretVar(t *testing.T) {
	t.Parallel()
	e := &Engine{opts: Options{Operator: "claire", SecretVars: map[string]string{"db_password": "/run/keys/pw", "age_key": "/run/keys/acme.txt"}}}
	ev := e.secretSupplied("decrypt", 7, "AGE_KEY", "/run/keys/acme.txt", "short")
	if ev.Var != "age_key" || ev.Env != "AGE_KEY" || ev.Operator != "claire" || ev.Action != 7 || ev.KeyIDKind != KeyIDNone || ev.KeyID != "" {
		t.Errorf("%+v", ev)
	}
	if ev := e.secretSupplied("decrypt", 7, "K", "/elsewhere", "x"); ev.Var != "" {
		t.Errorf("a secret_env file is named as the secret var %q", ev.Var)
	}
}
