package etcd

import (
	"testing"

	"go.uber.org/goleak"
)

// etcd's own packages start goroutines at init or keep them for the life of
// the process, which no Close stops; they are not ours to leak:
//   - the gRPC balancer and resolver registries and the OpenCensus-free
//     channelz/idle machinery are started on first use and never stopped;
//   - the embedded server's raft and wal goroutines are all stopped by
//     Close, so they need no entry here.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
