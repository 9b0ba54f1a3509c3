package treefile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/cmd/arbor/internal/proc"
	"github.com/arborgo/arbor/strategy"
)

const valid = `version: 1
shutdown_timeout: 20s
root:
  strategy: one_for_all
  intensity: 5
  period: 10s
  backoff: {initial: 100ms, max: 2s}
  children:
    - name: db
      command: /bin/sh
      args: ["-c", "sleep 100"]
      env: {A: b, N: 1}
      restart: transient
      success_exit_codes: [0, 3]
      shutdown: 7s
      stop_signal: INT
      kill: process
      readiness: {tcp: "127.0.0.1:6432", timeout: 9s}
      logs: {stdout: inherit, stderr: "file:/tmp/x.log", ring: 10}
    - name: workers
      kind: supervisor
      strategy: rest_for_one
      restart: transient
      children:
        - {name: q, command: q, readiness: {notify: fd:3}}
        - {name: m, command: m, shutdown: brutal_kill, readiness: {uptime: 0s}}
`

func TestParseValid(t *testing.T) {
	f, err := Parse("tree.yaml", []byte(valid))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if f.ShutdownTimeout != 20*time.Second || f.Root.Strategy != strategy.OneForAll || f.Root.Intensity.MaxRestarts != 5 {
		t.Errorf("root = %+v, timeout %v", f.Root, f.ShutdownTimeout)
	}
	db := f.Root.Children[0].(*Process)
	want := proc.Config{Command: "/bin/sh", Args: []string{"-c", "sleep 100"}, Env: map[string]string{"A": "b", "N": "1"},
		SuccessExitCodes: []int{0, 3}, Shutdown: 7 * time.Second, StopSignal: syscall.SIGINT, KillProcessOnly: true,
		Readiness: proc.Readiness{Kind: proc.ReadyTCP, Addr: "127.0.0.1:6432", Timeout: 9 * time.Second},
		Logs:      proc.Logs{Stdout: proc.Stream{Mode: proc.LogInherit}, Stderr: proc.Stream{Mode: proc.LogFile, Path: "/tmp/x.log"}, Ring: 10}}
	if !db.Config.Equal(want) || db.Path != "root/db" || db.Restart != child.Transient {
		t.Errorf("db = %+v\nwant %+v", db, want)
	}
	w := f.Root.Children[1].(*Supervisor)
	if w.Path != "root/workers" || w.Strategy != strategy.RestForOne || w.Backoff == nil || w.Backoff.Max != 2*time.Second || w.Shutdown != child.Infinity {
		t.Errorf("workers = %+v", w)
	}
	q, m := w.Children[0].(*Process), w.Children[1].(*Process)
	if q.Path != "root/workers/q" || q.Config.Readiness.Kind != proc.ReadyFD || q.Config.Readiness.FD != 3 {
		t.Errorf("q = %+v", q)
	}
	if !m.Config.BrutalKill || m.Config.Readiness.Uptime != proc.ReadyAtOnce {
		t.Errorf("m = %+v", m.Config)
	}
}

func TestParseExample(t *testing.T) {
	f, err := ReadFile(filepath.Join("..", "..", "..", "..", "examples", "tree.yaml"))
	if err != nil {
		t.Fatalf("examples/tree.yaml: %v", err)
	}
	if len(f.Warnings) != 0 {
		t.Errorf("warnings: %v", f.Warnings)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		at        string // "line:column"
		want      string
	}{
		{"syntax", "version: 1\nroot:\n  children:\n   - name: a\n  command: [x\n", "", "not found"},
		{"empty", "", "1:1", "empty"},
		{"no version", "root: {children: [{name: a, command: x}]}\n", "1:1", "missing version"},
		{"bad version", "version: 2\nroot: {children: [{name: a, command: x}]}\n", "1:10", "unsupported version 2"},
		{"unknown top", "version: 1\nrooot: {}\n", "2:1", `did you mean "root"`},
		{"bad duration", "version: 1\nshutdown_timeout: 5 parsecs\nroot: {children: [{name: a, command: x}]}\n", "2:19", "is not a duration"},
		{"negative duration", "version: 1\nshutdown_timeout: -5s\nroot: {children: [{name: a, command: x}]}\n", "2:19", "positive"},
		{"strategy", "version: 1\nroot:\n  strategy: one_for_some\n  children: [{name: a, command: x}]\n", "3:13", "unknown strategy"},
		{"restart", "version: 1\nroot:\n  children:\n    - name: a\n      command: x\n      restart: sometimes\n", "6:16", "unknown restart type"},
		{"duplicate name", "version: 1\nroot:\n  children:\n    - name: a\n      command: x\n    - name: a\n      command: y\n", "6:13", "duplicate name \"a\""},
		{"duplicate key", "version: 1\nversion: 1\nroot: {children: [{name: a, command: x}]}\n", "2:1", "already defined"},
		{"children not supervisor", "version: 1\nroot:\n  children:\n    - name: a\n      children: []\n", "5:7", "must be a supervisor"},
		{"process field on supervisor", "version: 1\nroot:\n  command: x\n  children: [{name: a, command: x}]\n", "3:3", "applies to processes"},
		{"supervisor field on process", "version: 1\nroot:\n  children:\n    - {name: a, command: x, strategy: one_for_one}\n", "4:29", "applies to supervisors"},
		{"bad name", "version: 1\nroot:\n  children:\n    - name: A/b\n      command: x\n", "4:13", "not a valid name"},
		{"missing name", "version: 1\nroot:\n  children:\n    - command: x\n", "4:7", "missing name"},
		{"missing command", "version: 1\nroot:\n  children:\n    - name: a\n", "4:7", "missing command"},
		{"no children", "version: 1\nroot:\n  strategy: one_for_one\n", "3:3", "needs children"},
		{"two probes", "version: 1\nroot:\n  children:\n    - name: a\n      command: x\n      readiness: {tcp: ':1', exec: [x]}\n", "6:30", "one readiness probe"},
		{"notify", "version: 1\nroot:\n  children:\n    - name: a\n      command: x\n      readiness: {notify: fd:1}\n", "6:27", "fd:N"},
		{"signal", "version: 1\nroot:\n  children:\n    - name: a\n      command: x\n      stop_signal: SIGNOPE\n", "6:20", "unknown signal"},
		{"exit code", "version: 1\nroot:\n  children:\n    - name: a\n      command: x\n      success_exit_codes: [0, 256]\n", "6:31", "out of range"},
		{"intensity type", "version: 1\nroot:\n  intensity: three\n  children: [{name: a, command: x}]\n", "3:14", "want an integer"},
		{"alias", "version: 1\nroot:\n  children:\n    - *nope\n", "4:7", "no anchor"},
		{"two docs", "version: 1\nroot: {children: [{name: a, command: x}]}\n---\nversion: 1\n", "4:1", "one YAML document"},
		{"log mode", "version: 1\nroot:\n  children:\n    - name: a\n      command: x\n      logs: {stdout: journald}\n", "6:22", "unknown log mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("t.yaml", []byte(tc.src))
			var es Errors
			if !errors.As(err, &es) || f != nil {
				t.Fatalf("Parse = %v, %v; want Errors", f, err)
			}
			e := es[0]
			if !strings.Contains(e.Message, tc.want) {
				t.Errorf("message = %q; want it to contain %q\n%s", e.Message, tc.want, err)
			}
			if tc.at != "" {
				if got := strings.Join([]string{itoa(e.Line), itoa(e.Column)}, ":"); got != tc.at {
					t.Errorf("at %s; want %s\n%s", got, tc.at, err)
				}
			}
			if e.Line > 0 && !strings.Contains(e.Excerpt, "^") {
				t.Errorf("excerpt without a caret:\n%s", e.Excerpt)
			}
			if !strings.HasPrefix(err.Error(), "t.yaml:") {
				t.Errorf("error does not start with the file name: %s", err)
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

const clusterTree = `version: 1
node: n1
cluster:
  endpoints: [http://10.0.0.1:2379, http://10.0.0.2:2379]
  ttl: 20s
  prefix: /prod
  priority: 2
root:
  children:
    - {name: leader, command: x, shutdown: 3s, singleton: true}
    - {name: cron, command: x, shutdown: 1s, singleton: {name: jobs.cron}, register: {name: cron, scope: cluster}}
    - {name: db, command: x, register: db}
`

func TestParseCluster(t *testing.T) {
	f, err := Parse("t.yaml", []byte(clusterTree))
	if err != nil {
		t.Fatal(err)
	}
	want := Cluster{Endpoints: []string{"http://10.0.0.1:2379", "http://10.0.0.2:2379"}, TTL: 20 * time.Second,
		Margin: 12 * time.Second, Prefix: "/prod/", Priority: 2, Line: 3, Column: 1}
	if c := f.Cluster; c == nil || !slices.Equal(c.Endpoints, want.Endpoints) || c.TTL != want.TTL || c.Margin != want.Margin ||
		c.Prefix != want.Prefix || c.Priority != want.Priority || c.Line != want.Line || c.Column != want.Column {
		t.Errorf("cluster = %+v\nwant %+v", c, want)
	}
	leader, cron, db := f.Root.Children[0].(*Process), f.Root.Children[1].(*Process), f.Root.Children[2].(*Process)
	if leader.Singleton != "root.leader" || leader.Register != nil {
		t.Errorf("leader: singleton %q, register %+v; want root.leader, none", leader.Singleton, leader.Register)
	}
	if cron.Singleton != "jobs.cron" || cron.Register == nil || *cron.Register != (Register{Name: "cron", Scope: ScopeCluster}) {
		t.Errorf("cron: singleton %q, register %+v", cron.Singleton, cron.Register)
	}
	if db.Singleton != "" || db.Register == nil || *db.Register != (Register{Name: "db", Scope: ScopeLocal}) {
		t.Errorf("db: singleton %q, register %+v", db.Singleton, db.Register)
	}

	f, err = Parse("t.yaml", []byte("version: 1\ncluster: {endpoints: [e]}\nroot: {children: [{name: a, command: x, shutdown: 3s, singleton: true}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c := f.Cluster; c.TTL != DefaultTTL || c.Margin != 6*time.Second || c.Prefix != DefaultPrefix || c.Priority != 0 {
		t.Errorf("defaults = %+v", c)
	}
	f, err = Parse("t.yaml", []byte("version: 1\nroot: {children: [{name: a, command: x, singleton: false}]}\n"))
	if err != nil || f.Cluster != nil || f.Root.Children[0].(*Process).Singleton != "" {
		t.Errorf("singleton: false = %+v, %v; want a plain process and no cluster", f, err)
	}
}

// TestParseClusterErrors checks the first error of each file, whole.
func TestParseClusterErrors(t *testing.T) {
	const top = "version: 1\ncluster: {endpoints: [e]}\nroot:\n  children:\n"
	for _, tc := range []struct{ name, src, want string }{
		{"singleton without cluster", "version: 1\nroot:\n  children:\n    - {name: a, command: x, singleton: true}\n",
			"t.yaml:4:29: root.children[0].singleton: a singleton needs a cluster: section (add cluster: {endpoints: [...]} at the top of the file)"},
		{"cluster name without cluster", "version: 1\nroot:\n  children:\n    - {name: a, command: x, register: {name: a, scope: cluster}}\n",
			"t.yaml:4:29: root.children[0].register: a cluster-scoped name needs a cluster: section (add cluster: {endpoints: [...]} at the top of the file)"},
		{"no endpoints", "version: 1\ncluster: {ttl: 5s}\nroot: {children: [{name: a, command: x}]}\n",
			"t.yaml:2:1: cluster.endpoints: missing endpoints (the client URLs of the cluster engine, such as [http://127.0.0.1:2379])"},
		{"unknown cluster field", "version: 1\ncluster: {endpoints: [e], tll: 5s}\nroot: {children: [{name: a, command: x}]}\n",
			`t.yaml:2:27: cluster.tll: unknown field "tll" (did you mean "ttl"?)`},
		{"unquoted URL", "version: 1\ncluster: {endpoints: [http://e:2379]}\nroot: {children: [{name: a, command: x}]}\n",
			`t.yaml:2:23: cluster.endpoints[0]: want a URL, got a mapping: quote a URL in a [...] list, such as ["http://127.0.0.1:2379"]`},
		{"fractional ttl", "version: 1\ncluster: {endpoints: [e], ttl: 1500ms}\nroot: {children: [{name: a, command: x}]}\n",
			"t.yaml:2:32: cluster.ttl: 1.5s: want a whole number of seconds, at least 1s"},
		{"margin not below ttl", "version: 1\ncluster: {endpoints: [e], ttl: 5s, margin: 5s}\nroot: {children: [{name: a, command: x}]}\n",
			"t.yaml:2:44: cluster.margin: margin 5s is not below ttl 5s (a node must stop its singletons before its session can expire)"},
		{"default shutdown over the margin", top + "    - {name: a, command: x, singleton: true}\n",
			"t.yaml:5:29: root.children[0].singleton: shutdown 5s does not fit the cluster's margin 6s: with 2s for SIGKILL, a singleton could still run when another node starts it (set shutdown below 4s, or raise cluster.margin)"},
		{"shutdown at the limit", top + "    - {name: a, command: x, shutdown: 4s, singleton: true}\n",
			"t.yaml:5:39: root.children[0].shutdown: shutdown 4s does not fit the cluster's margin 6s: with 2s for SIGKILL, a singleton could still run when another node starts it (set shutdown below 4s, or raise cluster.margin)"},
		{"brutal kill", top + "    - {name: a, command: x, shutdown: brutal_kill, singleton: true}\n",
			"t.yaml:5:39: root.children[0].shutdown: a singleton is stopped gracefully and awaited before another node may start it; brutal_kill cannot be one (set shutdown below 4s)"},
		{"margin too small", "version: 1\ncluster: {endpoints: [e], margin: 2s}\nroot:\n  children:\n    - {name: a, command: x, shutdown: 1s, singleton: true}\n",
			"t.yaml:5:39: root.children[0].shutdown: a singleton must stop within the cluster's margin 2s, less 2s for SIGKILL: raise cluster.margin above 2s"},
		{"duplicate register", top + "    - {name: a, command: x, register: db}\n    - {name: b, command: x, register: {name: db, scope: cluster}}\n",
			`t.yaml:6:46: root.children[1].register.name: the name "db" is already registered by another process (first at line 5)`},
		{"bad scope", top + "    - {name: a, command: x, register: {name: db, scope: global}}\n",
			`t.yaml:5:57: root.children[0].register.scope: unknown scope "global" (want local or cluster)`},
		{"register without name", top + "    - {name: a, command: x, register: {scope: cluster}}\n",
			"t.yaml:5:39: root.children[0].register.name: missing name (the name to register the process under)"},
		{"bad register name", top + "    - {name: a, command: x, register: a/b}\n",
			`t.yaml:5:39: root.children[0].register: "a/b" is not a valid name (want letters, digits, '.', '_' and '-', starting with a letter or digit, at most 253 characters)`},
		{"bad singleton name", top + "    - {name: a, command: x, shutdown: 1s, singleton: {name: a/b}}\n",
			`t.yaml:5:61: root.children[0].singleton.name: "a/b" is not a valid singleton name (want letters, digits, '.', '_' and '-', starting with a letter or digit, at most 253 characters)`},
		{"singleton on a supervisor", top + "    - {name: s, kind: supervisor, singleton: true, children: [{name: a, command: x}]}\n",
			"t.yaml:5:35: root.children[0].singleton: singleton applies to processes; this node is a supervisor"},
		{"singleton not a boolean", top + "    - {name: a, command: x, shutdown: 1s, singleton: yes}\n",
			`t.yaml:5:54: root.children[0].singleton: want true, false or {name: ...}, got "yes"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.src))
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("Parse = %v; want Errors", err)
			}
			if got := es[0].Error(); got != tc.want {
				t.Errorf("error =\n%s\nwant\n%s\n%s", got, tc.want, err)
			}
		})
	}
}

func TestParseCollectsAllErrors(t *testing.T) {
	src := "version: 1\nroot:\n  strategy: x\n  children:\n    - {name: a, command: x, restart: y}\n    - {name: b, command: x, shutdown: z}\n"
	_, err := Parse("t.yaml", []byte(src))
	var es Errors
	if !errors.As(err, &es) || len(es) != 3 {
		t.Fatalf("errors = %v; want 3", err)
	}
}

func TestWarningLowIntensity(t *testing.T) {
	f, err := Parse("t.yaml", []byte("version: 1\nroot:\n  intensity: 1\n  children: [{name: a, command: x}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Warnings) != 1 || f.Warnings[0].Line != 3 {
		t.Errorf("warnings = %v; want one at line 3", f.Warnings)
	}
}

func TestExcerpt(t *testing.T) {
	got := excerpt([]string{"a: 1", "b:\t2", "c: 3"}, 2, 4)
	want := "     1 | a: 1\n>    2 | b:\t2\n           \t^"
	if got != want {
		t.Errorf("excerpt =\n%q\nwant\n%q", got, want)
	}
}

func TestReadFileMissing(t *testing.T) {
	_, err := ReadFile(filepath.Join(t.TempDir(), "none.yaml"))
	var es Errors
	if !errors.As(err, &es) || !strings.Contains(err.Error(), "none.yaml") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(valid))
	if src, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "examples", "tree.yaml")); err == nil {
		f.Add(src)
	}
	f.Add([]byte("version: 1\nroot: &a {children: [*a]}\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("f.yaml", src)
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 || file != nil {
				t.Fatalf("Parse = %v, %v", file, err)
			}
			for _, e := range es {
				if e.Message == "" {
					t.Fatalf("empty message in %v", err)
				}
			}
			return
		}
		seen := map[string]bool{}
		Walk(file.Root, func(n Node) {
			p := n.Base().Path
			if p == "" || seen[p] {
				t.Fatalf("bad or duplicate path %q", p)
			}
			seen[p] = true
		})
	})
}
