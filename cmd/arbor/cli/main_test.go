package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// arborBin is the arbor binary built by TestMain for the tests that run it.
var arborBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "arbor-cli-test-")
	if err != nil {
		panic(err)
	}
	arborBin = filepath.Join(dir, "arbor")
	if out, err := exec.Command("go", "build", "-race", "-o", arborBin, "..").CombinedOutput(); err != nil {
		panic(fmt.Sprintf("building arbor: %v\n%s", err, out))
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { os.RemoveAll(dir) }))
}
