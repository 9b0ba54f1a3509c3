package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidateExample(t *testing.T) {
	code, out, errs := runCLI(t, "validate", "-c", filepath.Join("..", "..", "..", "examples", "tree.yaml"))
	if code != 0 || !strings.Contains(out, "valid") {
		t.Fatalf("exit %d, out %q, err %q", code, out, errs)
	}
}

func TestValidateInvalid(t *testing.T) {
	p := writeFile(t, "bad.yaml", "version: 1\nroot:\n  strategy: one_for_some\n  children: [{name: a, command: x}]\n")
	code, _, errs := runCLI(t, "validate", "-c", p)
	if code != exitInvalid {
		t.Errorf("exit %d; want %d", code, exitInvalid)
	}
	if !strings.Contains(errs, "bad.yaml:3:13: root.strategy: unknown strategy") || !strings.Contains(errs, "^") {
		t.Errorf("stderr = %q", errs)
	}
}

func TestValidateJSON(t *testing.T) {
	p := writeFile(t, "bad.yaml", "version: 1\nroot:\n  children:\n    - {name: a, command: x, shutdown: 5 parsecs}\n")
	code, out, _ := runCLI(t, "validate", "--format", "json", "-c", p)
	var rep validateReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if code != exitInvalid || rep.Valid || len(rep.Errors) != 1 || rep.Errors[0].Line != 4 || rep.Errors[0].Column != 39 {
		t.Errorf("exit %d, report %+v", code, rep)
	}
	code, _, _ = runCLI(t, "validate", "--format", "yaml", "-c", p)
	if code != exitInvalid {
		t.Errorf("bad --format: exit %d", code)
	}
}

func TestValidateMissingFile(t *testing.T) {
	code, _, errs := runCLI(t, "validate", "-c", filepath.Join(t.TempDir(), "none.yaml"))
	if code != exitInvalid || !strings.Contains(errs, "none.yaml") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

func TestRunRefusesAnInvalidFile(t *testing.T) {
	p := writeFile(t, "bad.yaml", "version: 1\nroot:\n  children:\n    - {name: a, command: x, restart: sometimes}\n")
	code, _, errs := runCLI(t, "run", "--socket", filepath.Join(t.TempDir(), "s"), "--http", "", "-c", p)
	if code != exitInvalid || !strings.Contains(errs, "bad.yaml:4:38: root.children[0].restart") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}
