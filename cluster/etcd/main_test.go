package etcd

import (
	"testing"

	"go.uber.org/goleak"
)

// No ignore is needed: every test closes its registries, nodes and clients
// before the embedded server (see startEtcd), and embed.Close stops all of
// the server's goroutines once no client is connected.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
