package etcd

import (
	"context"
	"fmt"

	"github.com/arborgo/arbor/cluster"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Guard returns the comparison that holds only while tok's term lasts: its
// election key still exists with the create revision it was won at. Put it
// in the If of every transaction a singleton makes.
func Guard(tok cluster.Token) clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(tok.Key), "=", tok.Revision)
}

// GuardedTxn applies ops in one transaction if, and only if, tok's term still
// lasts; otherwise it applies nothing and returns an error matching
// [ErrFenced]. A deposed leader that woke up late, or whose child did not
// stop in time, cannot write through it.
func GuardedTxn(ctx context.Context, kv clientv3.KV, tok cluster.Token, ops ...clientv3.Op) (*clientv3.TxnResponse, error) {
	resp, err := kv.Txn(ctx).If(Guard(tok)).Then(ops...).Commit()
	if err != nil {
		return nil, err
	}
	if !resp.Succeeded {
		return resp, fmt.Errorf("%w: %s", ErrFenced, tok)
	}
	return resp, nil
}

// GuardedPut writes key=val if, and only if, the term carried by ctx (see
// [cluster.TokenFrom]) still lasts. Outside a singleton's child it returns an
// error matching [ErrFenced].
func GuardedPut(ctx context.Context, kv clientv3.KV, key, val string, opts ...clientv3.OpOption) error {
	tok, ok := cluster.TokenFrom(ctx)
	if !ok {
		return fmt.Errorf("%w: no token in context", ErrFenced)
	}
	_, err := GuardedTxn(ctx, kv, tok, clientv3.OpPut(key, val, opts...))
	return err
}
