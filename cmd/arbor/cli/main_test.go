package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// arborBin is the arbor binary built by TestMain for the tests that run it,
// and clusterBin the same command with an in-process cluster engine
// (testdata/localcluster).
var arborBin, clusterBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "arbor-cli-test-")
	if err != nil {
		panic(err)
	}
	arborBin = filepath.Join(dir, "arbor")
	clusterBin = filepath.Join(dir, "localcluster")
	for bin, pkg := range map[string]string{arborBin: "..", clusterBin: "./testdata/localcluster"} {
		if out, err := exec.Command("go", "build", "-race", "-o", bin, pkg).CombinedOutput(); err != nil {
			panic(fmt.Sprintf("building %s: %v\n%s", pkg, err, out))
		}
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { os.RemoveAll(dir) }))
}
