package etcd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/arborgo/arbor/cluster"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

var _ cluster.Elector = (*Node)(nil)

// Margin returns Config.Margin: how long a singleton's child has to stop
// once its lease is declared lost, before another node can be promoted.
func (n *Node) Margin() time.Duration { return n.cfg.Margin }

// Campaign blocks until this node leads name and returns the term, or
// returns ctx.Err() once ctx is done.
//
// Each campaign has a session (lease) of its own, apart from the node's, so
// that a campaign's failure cannot take the node's names with it: on any
// error the campaign's session is revoked, which removes its candidate key
// (etcd-io/etcd#21128), and the campaign starts again with a new session
// after a short pause. The election is etcd's concurrency.Election
// algorithm (candidates queue by create revision; each waits for the
// deletion of the one ahead of it) written out here so that the wait also
// ends when the campaign's own lease is lost, which concurrency.Election
// does not notice (etcd-io/etcd#19597). A won term is verified (the
// candidate key still exists at its create revision, on its lease, and the
// session is live) before Campaign returns it. A candidate promoted while
// one of higher Config.Priority waits gives way: it revokes its session and
// queues again.
func (n *Node) Campaign(ctx context.Context, name string) (cluster.Lease, error) {
	if name == "" || name != cleanName(name) {
		return nil, fmt.Errorf("etcd: campaign: invalid name %q", name)
	}
	pause := min(n.cfg.TTL/4, time.Second)
	for {
		t, err := n.campaignOnce(ctx, name)
		if err == nil {
			return t, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, errGiveWay) {
			continue // queue again, behind the candidate of higher priority
		}
		n.cfg.Logger.Warn("etcd: campaign failed; retrying", zap.String("name", name), zap.Error(err))
		timer := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
}

func cleanName(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' || s[i] < ' ' {
			return ""
		}
	}
	return s
}

func (n *Node) electionPrefix(name string) string {
	return n.cfg.Prefix + "singletons/" + name + "/"
}

// campaignOnce runs one campaign on a new session. On any error the session
// is revoked before it returns.
func (n *Node) campaignOnce(ctx context.Context, name string) (_ *term, err error) {
	s, err := n.grant(ctx, true)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			rctx, cancel := n.requestContext()
			defer cancel()
			_ = s.close(rctx, true)
		}
	}()
	// cctx ends with ctx or with the session (etcd-io/etcd#19597).
	cctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	watched := make(chan struct{})
	// Ends when the session is lost or campaignOnce returns (cancel).
	go func() {
		defer close(watched)
		select {
		case <-s.lost:
			cancel()
		case <-cctx.Done():
		}
	}()
	defer func() { cancel(); <-watched }()

	c := n.cfg.Client
	pfx := n.electionPrefix(name)
	key := fmt.Sprintf("%s%x", pfx, int64(s.id))
	cmp := clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
	resp, err := c.Txn(cctx).If(cmp).
		Then(clientv3.OpPut(key, candidateValue(n.cfg.Priority, n.cfg.Name), clientv3.WithLease(s.id))).
		Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return nil, n.sessionErr(s, err)
	}
	rev := resp.Header.Revision
	if !resp.Succeeded { // cannot happen with a fresh lease, but be exact
		rev = resp.Responses[0].GetResponseRange().Kvs[0].CreateRevision
	}
	if err := waitDeletes(cctx, c, pfx, rev-1); err != nil {
		return nil, n.sessionErr(s, err)
	}
	// Re-verify: Campaign may have been woken by a deletion after its own
	// lease lapsed (etcd-io/etcd#19597). The same read finds the
	// candidates of higher priority, if any, to give way to.
	g, err := c.Get(cctx, pfx, clientv3.WithPrefix())
	if err != nil {
		return nil, n.sessionErr(s, err)
	}
	ok := false
	for _, kv := range g.Kvs {
		if string(kv.Key) == key {
			ok = kv.CreateRevision == rev && clientv3.LeaseID(kv.Lease) == s.id
		} else if p, _ := parseCandidate(kv.Value); p > n.cfg.Priority {
			return nil, errGiveWay
		}
	}
	if !ok || s.isLost() {
		return nil, fmt.Errorf("etcd: campaign for %q: own key gone before promotion: %w", name, ErrSessionLost)
	}
	t := &term{n: n, s: s, tok: cluster.Token{Key: key, Revision: rev}, lost: make(chan struct{}), watched: make(chan struct{})}
	var tctx context.Context
	tctx, t.stop = context.WithCancel(context.Background())
	// Ends when the term is lost or taken over, or when Release calls stop.
	go t.watch(tctx, pfx, g.Header.Revision)
	return t, nil
}

// errGiveWay ends a campaign that won while a candidate of higher priority
// waits: its session is revoked and it queues again.
var errGiveWay = errors.New("etcd: a candidate of higher priority waits")

// candidateValue is the value of a candidate's key: its priority and its
// node's name.
func candidateValue(priority int, node string) string {
	return strconv.Itoa(priority) + " " + node
}

func parseCandidate(v []byte) (priority int, node string) {
	p, node, _ := strings.Cut(string(v), " ")
	priority, _ = strconv.Atoi(p)
	return priority, node
}

// sessionErr reports ErrSessionLost rather than a cancellation caused by it.
func (n *Node) sessionErr(s *session, err error) error {
	if s.isLost() {
		return fmt.Errorf("%w (%v)", ErrSessionLost, err)
	}
	return err
}

func (n *Node) requestContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), n.cfg.RequestTimeout)
}

// waitDeletes returns once no key under pfx has a create revision at or
// below maxRev: every candidate ahead has gone.
func waitDeletes(ctx context.Context, c *clientv3.Client, pfx string, maxRev int64) error {
	opts := append(clientv3.WithLastCreate(), clientv3.WithMaxCreateRev(maxRev))
	for {
		resp, err := c.Get(ctx, pfx, opts...)
		if err != nil {
			return err
		}
		if len(resp.Kvs) == 0 {
			return nil
		}
		if err := waitDelete(ctx, c, string(resp.Kvs[0].Key), resp.Header.Revision); err != nil {
			return err
		}
	}
}

// waitDelete returns once key is deleted after revision rev.
func waitDelete(ctx context.Context, c *clientv3.Client, key string, rev int64) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for wr := range c.Watch(wctx, key, clientv3.WithRev(rev+1)) {
		if err := wr.Err(); err != nil {
			return err
		}
		for _, ev := range wr.Events {
			if ev.Type == clientv3.EventTypeDelete {
				return nil
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New("etcd: watch closed")
}

// term is one won election: a cluster.Lease.
type term struct {
	n   *Node
	s   *session
	tok cluster.Token

	// lost is closed by watch when the session is lost, when a candidate
	// of higher priority campaigns (a takeover), or on Release.
	lost    chan struct{}
	stop    context.CancelFunc
	watched chan struct{} // closed when watch has returned

	once sync.Once
	err  error
}

func (t *term) Token() cluster.Token  { return t.tok }
func (t *term) Lost() <-chan struct{} { return t.lost }

// watch closes t.lost when the term's session is lost, when a candidate of
// higher priority appears under pfx after revision rev, or when ctx ends.
func (t *term) watch(ctx context.Context, pfx string, rev int64) {
	defer close(t.watched)
	defer close(t.lost)
	wch := t.n.cfg.Client.Watch(ctx, pfx, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	for {
		select {
		case <-t.s.lost:
			return
		case <-ctx.Done():
			return
		case wr, ok := <-wch:
			if !ok || wr.Err() != nil {
				// No takeover without the watch; the session still
				// decides the term's end.
				wch = nil
				continue
			}
			for _, ev := range wr.Events {
				if p, node := parseCandidate(ev.Kv.Value); ev.Type == clientv3.EventTypePut && p > t.n.cfg.Priority {
					t.n.cfg.Logger.Info("etcd: takeover: stepping down", zap.String("key", t.tok.Key),
						zap.String("by", node), zap.Int("priority", p))
					return
				}
			}
		}
	}
}

// Release revokes the term's session: its key is deleted and the next
// candidate is promoted. It is bounded by ctx and by Config.RequestTimeout;
// if it fails, the lease expires by itself within the TTL.
func (t *term) Release(ctx context.Context) error {
	t.once.Do(func() {
		t.stop()
		<-t.watched
		ctx, cancel := context.WithTimeout(ctx, t.n.cfg.RequestTimeout)
		defer cancel()
		t.err = t.s.close(ctx, true)
	})
	return t.err
}
