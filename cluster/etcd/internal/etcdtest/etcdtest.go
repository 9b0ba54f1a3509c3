// Package etcdtest starts an embedded etcd server for the tests of this
// module, tuned for speed: fast ticks, no fsync, a quiet logger.
package etcdtest

import (
	"net/url"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// Start starts a one-member etcd server on a free local port, stopped when
// the test ends (register the clients' cleanups after this call, so that
// they close first), and returns its client URL. It fails t if the server is
// not ready within ready.
func Start(t testing.TB, ready time.Duration) string {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Dir, cfg.UnsafeNoFsync, cfg.TickMs, cfg.ElectionMs = t.TempDir(), true, 10, 100
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zaptest.NewLogger(t, zaptest.Level(zap.DPanicLevel)))
	local := []url.URL{{Scheme: "http", Host: "127.0.0.1:0"}}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls, cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = local, local, local, local
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(ready):
		t.Fatal("etcd not ready")
	}
	return "http://" + e.Clients[0].Addr().String()
}
