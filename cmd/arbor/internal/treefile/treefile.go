// Package treefile decodes and checks arbor's tree file: the YAML document
// that declares a supervision tree of OS processes.
//
// Every problem, a YAML syntax error or one of arbor's own checks (an unknown
// strategy, a bad duration, a duplicate name, a node with children that is not
// a supervisor), is an *Error with its file:line:column and an excerpt of the
// source pointing at the node. Parse walks the YAML syntax tree itself, rather
// than decoding into structs by reflection, so every value keeps its position:
// durations, signals and enums are decoded by arbor, not by the YAML library.
package treefile

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/arborgo/arbor/child"
	"github.com/arborgo/arbor/cmd/arbor/internal/proc"
	"github.com/arborgo/arbor/escalation"
	"github.com/arborgo/arbor/strategy"
)

// Limits that keep a hostile file from taking arbor down.
const (
	// MaxSize is the largest tree file accepted.
	MaxSize   = 1 << 20
	maxDepth  = 32     // nesting of supervisors
	maxNodes  = 100000 // YAML nodes visited, aliases expanded
	maxErrors = 50
)

// DefaultShutdownTimeout is the whole tree's stop budget when the file does
// not set shutdown_timeout: it leaves slack inside Kubernetes' default 30 s.
const DefaultShutdownTimeout = 25 * time.Second

// File is a decoded, checked tree file.
type File struct {
	Name            string
	Version         int
	Node            string        // the node's name; default the host name
	ShutdownTimeout time.Duration // the whole tree's stop budget
	// Cluster is the cluster: section, nil if the file has none.
	Cluster *Cluster
	Root    *Supervisor
	// Warnings are legal but doubtful settings, such as an intensity of 1.
	Warnings Errors
}

// NodeName returns the node's name: Node, else the host name.
func (f *File) NodeName() string {
	if f.Node != "" {
		return f.Node
	}
	h, _ := os.Hostname()
	return h
}

// Node is a *Supervisor or a *Process.
type Node interface {
	Base() *Common
}

// Common holds what every node has.
type Common struct {
	Name     string
	Path     string // such as "root/workers/queue": the identity every command uses
	Restart  child.Restart
	Shutdown time.Duration // a supervisor's: child.Infinity by default
	Line     int           // where the node starts in the file
}

// Base returns c.
func (c *Common) Base() *Common { return c }

// Supervisor is a supervisor node.
type Supervisor struct {
	Common
	Strategy  strategy.Strategy
	Intensity escalation.Intensity
	Backoff   *Backoff // for its children; inherited from the nearest ancestor that sets one
	Children  []Node
}

// Process is an OS process node.
type Process struct {
	Common
	Config proc.Config
	// Singleton is the name the process campaigns for, so that it runs on
	// one node of the cluster at a time (for singleton: true, its path with
	// dots for slashes, such as root.db); "" if it is not a singleton.
	Singleton string
	// Register is the name the process is registered under while it runs;
	// nil for none.
	Register *Register
}

// Scopes of a registered name.
const (
	// ScopeLocal names are known to this arbor only.
	ScopeLocal = "local"
	// ScopeCluster names are known to every node of the cluster.
	ScopeCluster = "cluster"
)

// Register is a process's register: setting.
type Register struct {
	Name  string
	Scope string // ScopeLocal or ScopeCluster
}

// Defaults of the cluster: section.
const (
	// DefaultTTL is the time to live of a node's session.
	DefaultTTL = 10 * time.Second
	// DefaultPrefix is put before every key arbor writes.
	DefaultPrefix = "/arbor/"
)

// Cluster is the cluster: section: how this node joins its cluster. The
// node's name in the cluster is File.Node.
type Cluster struct {
	Endpoints []string      // the engine's client URLs; at least one
	TTL       time.Duration // a whole number of seconds; default DefaultTTL
	// Margin is how long before its session can expire a node stops its
	// singletons: below TTL; default six tenths of it.
	Margin   time.Duration
	Prefix   string // ends with '/'; default DefaultPrefix
	Priority int    // takeover order of the node's singletons; default 0
	// Line and Column are where the section starts.
	Line, Column int
}

// Backoff is an exponential delay before restarts.
type Backoff struct {
	Initial    time.Duration
	Max        time.Duration
	Multiplier float64
	Jitter     float64
}

// ReadFile reads and parses the tree file at path.
func ReadFile(path string) (*File, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Message: err.Error()}}
	}
	return Parse(path, src)
}

// Parse decodes and checks src, read from the file name. A bad file returns
// Errors, never a partial File.
func Parse(name string, src []byte) (f *File, err error) {
	d := &decoder{file: name, lines: strings.Split(string(src), "\n"), anchors: map[string]ast.Node{}}
	if len(src) > MaxSize {
		d.errs = append(d.errs, &Error{File: name, Message: fmt.Sprintf("file is larger than %d bytes", MaxSize)})
		return nil, d.errs
	}
	defer func() {
		// The YAML parser is third-party code: a panic in it on hostile input
		// must be a clear error, not a crash of the daemon during a reload.
		if r := recover(); r != nil {
			f, err = nil, Errors{{File: name, Message: fmt.Sprintf("cannot parse the file: %v", r)}}
		}
	}()
	ast, perr := parser.ParseBytes(src, 0)
	if perr != nil {
		d.syntaxError(perr)
		return nil, d.errs
	}
	f = d.file1(ast)
	if len(d.errs) > 0 {
		slices.SortStableFunc(d.errs, func(a, b *Error) int {
			if a.Line != b.Line {
				return a.Line - b.Line
			}
			return a.Column - b.Column
		})
		return nil, d.errs
	}
	f.Warnings = d.warns
	return f, nil
}

type decoder struct {
	file    string
	lines   []string
	errs    Errors
	warns   Errors
	anchors map[string]ast.Node
	nodes   int
	// clustered are the processes that need the cluster: section, checked
	// once the whole file is read.
	clustered []clusterUse
	// registered maps each register name to the line of its first use.
	registered map[string]int
}

// clusterUse is a process setting that needs the cluster: section.
type clusterUse struct {
	p        *Process
	key      ast.Node // the field that needs the section
	path     string
	shutdown ast.Node // the process's shutdown value, if set
}

func (d *decoder) syntaxError(err error) {
	e := &Error{File: d.file, Message: err.Error()}
	var ye yaml.Error
	if errors.As(err, &ye) {
		e.Message = ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Column = tk.Position.Line, tk.Position.Column
			e.Excerpt = excerpt(d.lines, e.Line, e.Column)
		}
	}
	d.errs = append(d.errs, e)
}

func pos(n ast.Node) (int, int) {
	switch v := n.(type) {
	case nil:
		return 0, 0
	case *ast.MappingNode:
		// Point at the first key rather than at the mapping's first ':'.
		if len(v.Values) > 0 && v.Values[0] != nil && v.Values[0].Key != nil && !v.IsFlowStyle {
			return pos(v.Values[0].Key)
		}
	case *ast.MappingValueNode:
		if v.Key != nil {
			return pos(v.Key)
		}
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return 0, 0
	}
	return tk.Position.Line, tk.Position.Column
}

func (d *decoder) report(list *Errors, n ast.Node, path, format string, args ...any) {
	if len(*list) >= maxErrors {
		return
	}
	line, col := pos(n)
	*list = append(*list, &Error{File: d.file, Line: line, Column: col, Path: path,
		Message: fmt.Sprintf(format, args...), Excerpt: excerpt(d.lines, line, col)})
}

func (d *decoder) errorf(n ast.Node, path, format string, args ...any) {
	d.report(&d.errs, n, path, format, args...)
}

func (d *decoder) warnf(n ast.Node, path, format string, args ...any) {
	d.report(&d.warns, n, path, format, args...)
}

// resolve follows anchors, aliases and tags to the node that holds the value.
func (d *decoder) resolve(n ast.Node, path string) ast.Node {
	for range 16 {
		d.nodes++
		switch v := n.(type) {
		case *ast.AnchorNode:
			if v.Name != nil {
				d.anchors[v.Name.GetToken().Value] = v.Value
			}
			n = v.Value
		case *ast.AliasNode:
			name := ""
			if v.Value != nil {
				name = v.Value.GetToken().Value
			}
			target, ok := d.anchors[name]
			if !ok {
				d.errorf(n, path, "alias *%s names no anchor defined before it", name)
				return nil
			}
			n = target
		case *ast.TagNode:
			n = v.Value
		default:
			return n
		}
	}
	d.errorf(n, path, "too many anchors, aliases or tags in a row")
	return nil
}

type field struct {
	key string
	kn  ast.Node // the key, for errors about the field itself
	v   ast.Node // the value; nil for a null
}

// mapping returns the fields of the mapping n, in order. It reports
// duplicate keys, merge keys and a value that is not a mapping.
func (d *decoder) mapping(n ast.Node, path, what string) ([]field, bool) {
	n = d.resolve(n, path)
	var values []*ast.MappingValueNode
	switch v := n.(type) {
	case nil:
		return nil, false
	case *ast.MappingNode:
		values = v.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{v}
	default:
		d.errorf(n, path, "want %s (a mapping of keys to values), got %s", what, describe(n))
		return nil, false
	}
	fields := make([]field, 0, len(values))
	seen := map[string]ast.Node{}
	for _, mv := range values {
		if mv == nil || mv.Key == nil {
			continue
		}
		if mv.Key.IsMergeKey() {
			d.errorf(mv.Key, path, "merge keys (<<) are not supported")
			continue
		}
		key := mv.Key.GetToken().Value
		if first, dup := seen[key]; dup {
			l, _ := pos(first)
			d.errorf(mv.Key, join(path, key), "duplicate key %q (first at line %d)", key, l)
			continue
		}
		seen[key] = mv.Key
		v := d.resolve(mv.Value, join(path, key))
		if _, null := v.(*ast.NullNode); null {
			v = nil
		}
		fields = append(fields, field{key: key, kn: mv.Key, v: v})
	}
	return fields, true
}

func describe(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.NullNode:
		return "nothing"
	case *ast.IntegerNode:
		return "an integer"
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a number"
	case *ast.BoolNode:
		return "a boolean"
	}
	if tk := n.GetToken(); tk != nil {
		return strconv.Quote(tk.Value)
	}
	return "an unknown node"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// scalar returns the text of a scalar node.
func (d *decoder) scalar(n ast.Node, path, want string) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value != nil {
			return v.Value.Value, true
		}
		return "", true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return n.GetToken().Value, true
	}
	d.errorf(n, path, "want %s, got %s", want, describe(n))
	return "", false
}

func (d *decoder) str(n ast.Node, path string) string {
	s, _ := d.scalar(n, path, "a string")
	return s
}

func (d *decoder) integer(n ast.Node, path string, lo, hi int) (int, bool) {
	iv, ok := n.(*ast.IntegerNode)
	if !ok {
		d.errorf(n, path, "want an integer, got %s", describe(n))
		return 0, false
	}
	i, err := strconv.ParseInt(strings.ReplaceAll(iv.GetToken().Value, "_", ""), 0, 64)
	if err != nil || i < int64(lo) || i > int64(hi) {
		d.errorf(n, path, "%s is out of range (want %d to %d)", iv.GetToken().Value, lo, hi)
		return 0, false
	}
	return int(i), true
}

func (d *decoder) number(n ast.Node, path string) (float64, bool) {
	switch n.(type) {
	case *ast.IntegerNode, *ast.FloatNode:
		f, err := strconv.ParseFloat(n.GetToken().Value, 64)
		if err == nil {
			return f, true
		}
	}
	d.errorf(n, path, "want a number, got %s", describe(n))
	return 0, false
}

func (d *decoder) boolean(n ast.Node, path string) bool {
	b, ok := n.(*ast.BoolNode)
	if !ok {
		d.errorf(n, path, "want true or false, got %s", describe(n))
		return false
	}
	return b.Value
}

// duration decodes a Go duration such as "10s", which must be positive.
func (d *decoder) duration(n ast.Node, path string) (time.Duration, bool) {
	return d.durationFrom(n, path, 1)
}

// durationFrom decodes a Go duration of at least lo.
func (d *decoder) durationFrom(n ast.Node, path string, lo time.Duration) (time.Duration, bool) {
	s, ok := d.scalar(n, path, "a duration such as 10s")
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.errorf(n, path, "%q is not a duration (want a number with a unit, such as 500ms, 10s or 1m30s)", s)
		return 0, false
	}
	if v < lo {
		if lo == 0 {
			d.errorf(n, path, "%q: want a duration of 0 or more", s)
		} else {
			d.errorf(n, path, "%q: want a positive duration", s)
		}
		return 0, false
	}
	return v, true
}

func (d *decoder) strings(n ast.Node, path string) []string {
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		d.errorf(n, path, "want a list of strings, got %s", describe(n))
		return nil
	}
	out := make([]string, 0, len(seq.Values))
	for i, e := range seq.Values {
		p := fmt.Sprintf("%s[%d]", path, i)
		e = d.resolve(e, p)
		if e == nil {
			continue
		}
		s, _ := d.scalar(e, p, "a string")
		out = append(out, s)
	}
	return out
}

func (d *decoder) unknown(f field, path string, known []string) {
	msg := fmt.Sprintf("unknown field %q", f.key)
	if s := suggest(f.key, known); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	d.errorf(f.kn, join(path, f.key), "%s", msg)
}

var topFields = []string{"version", "node", "shutdown_timeout", "cluster", "root"}

func (d *decoder) file1(file *ast.File) *File {
	f := &File{Name: d.file, ShutdownTimeout: DefaultShutdownTimeout}
	var docs []*ast.DocumentNode
	for _, doc := range file.Docs {
		if doc != nil && doc.Body != nil {
			docs = append(docs, doc)
		}
	}
	if len(docs) == 0 {
		d.errs = append(d.errs, &Error{File: d.file, Line: 1, Column: 1, Message: "the file is empty: want version and root",
			Excerpt: excerpt(d.lines, 1, 1)})
		return nil
	}
	if len(docs) > 1 {
		d.errorf(docs[1].Body, "", "want one YAML document, found %d", len(docs))
		return nil
	}
	fields, ok := d.mapping(docs[0].Body, "", "the tree file")
	if !ok {
		return nil
	}
	var rootNode ast.Node
	var versionSeen bool
	for _, fl := range fields {
		switch fl.key {
		case "version":
			versionSeen = true
			if fl.v == nil {
				d.errorf(fl.kn, "version", "want 1")
			} else if v, ok := d.integer(fl.v, "version", 0, 1<<30); ok {
				if v != 1 {
					d.errorf(fl.v, "version", "unsupported version %d (this arbor reads version 1)", v)
				}
				f.Version = v
			}
		case "node":
			if fl.v != nil {
				f.Node = d.str(fl.v, "node")
			}
		case "shutdown_timeout":
			if fl.v != nil {
				if v, ok := d.duration(fl.v, "shutdown_timeout"); ok {
					f.ShutdownTimeout = v
				}
			}
		case "root":
			rootNode = fl.v
			if fl.v == nil {
				d.errorf(fl.kn, "root", "want the root supervisor (a mapping with children)")
			}
		case "cluster":
			f.Cluster = d.cluster(fl)
		default:
			d.unknown(fl, "", topFields)
		}
	}
	if !versionSeen {
		d.errorf(docs[0].Body, "", "missing version (want version: 1)")
	}
	if rootNode == nil {
		if len(d.errs) == 0 {
			d.errorf(docs[0].Body, "", "missing root (the root supervisor)")
		}
		return f
	}
	f.Root = d.supervisor(rootNode, "root", nil, nil, 0)
	d.checkClustered(f.Cluster)
	return f
}

var clusterFields = []string{"endpoints", "ttl", "margin", "prefix", "priority"}

// cluster decodes the cluster: section.
func (d *decoder) cluster(fl field) *Cluster {
	c := &Cluster{TTL: DefaultTTL, Prefix: DefaultPrefix}
	c.Line, c.Column = pos(fl.kn)
	var fields []field
	if fl.v != nil {
		var ok bool
		if fields, ok = d.mapping(fl.v, "cluster", "the cluster section"); !ok {
			return nil
		}
	}
	var marginNode ast.Node
	for _, f := range fields {
		p := join("cluster", f.key)
		if f.v == nil {
			continue
		}
		switch f.key {
		case "endpoints":
			if seq, ok := f.v.(*ast.SequenceNode); ok && seq.IsFlowStyle {
				for i, e := range seq.Values {
					if describe(d.resolve(e, p)) == "a mapping" {
						d.errorf(e, fmt.Sprintf("%s[%d]", p, i), "want a URL, got a mapping: quote a URL in a [...] list, such as [\"http://127.0.0.1:2379\"]")
						return nil
					}
				}
			}
			for i, e := range d.strings(f.v, p) {
				if strings.TrimSpace(e) == "" {
					d.errorf(f.v, fmt.Sprintf("%s[%d]", p, i), "want a client URL such as http://127.0.0.1:2379")
					continue
				}
				c.Endpoints = append(c.Endpoints, e)
			}
		case "ttl":
			if v, ok := d.duration(f.v, p); ok {
				if v < time.Second || v%time.Second != 0 {
					d.errorf(f.v, p, "%s: want a whole number of seconds, at least 1s", v)
				}
				c.TTL = v
			}
		case "margin":
			if v, ok := d.duration(f.v, p); ok {
				c.Margin, marginNode = v, f.v
			}
		case "prefix":
			c.Prefix = d.str(f.v, p)
			if c.Prefix == "" {
				d.errorf(f.v, p, "want a key prefix such as %s", DefaultPrefix)
			} else if !strings.HasSuffix(c.Prefix, "/") {
				c.Prefix += "/"
			}
		case "priority":
			if v, ok := d.integer(f.v, p, -1<<20, 1<<20); ok {
				c.Priority = v
			}
		default:
			d.unknown(f, "cluster", clusterFields)
		}
	}
	if len(c.Endpoints) == 0 {
		d.errorf(fl.kn, "cluster.endpoints", "missing endpoints (the client URLs of the cluster engine, such as [http://127.0.0.1:2379])")
	}
	switch {
	case marginNode == nil:
		c.Margin = c.TTL * 6 / 10
	case c.Margin >= c.TTL:
		d.errorf(marginNode, "cluster.margin", "margin %s is not below ttl %s (a node must stop its singletons before its session can expire)", c.Margin, c.TTL)
	}
	return c
}

// checkClustered reports the singletons and cluster names of a file without
// a cluster: section, and the singletons that cannot stop within c's margin:
// the checks of cluster.Singleton (ErrBudget), made before anything runs.
func (d *decoder) checkClustered(c *Cluster) {
	for _, u := range d.clustered {
		key := u.key.GetToken().Value
		if c == nil {
			d.errorf(u.key, join(u.path, key), "%s needs a cluster: section (add cluster: {endpoints: [...]} at the top of the file)", u.what())
			continue
		}
		if key != "singleton" {
			continue
		}
		at, p := u.shutdown, join(u.path, "shutdown")
		if at == nil {
			at, p = u.key, join(u.path, key)
		}
		cfg := u.p.Config.WithDefaults()
		limit := c.Margin - proc.KillGrace
		switch {
		case limit <= 0:
			d.errorf(at, p, "a singleton must stop within the cluster's margin %s, less %s for SIGKILL: raise cluster.margin above %s", c.Margin, proc.KillGrace, proc.KillGrace)
		case cfg.BrutalKill:
			d.errorf(at, p, "a singleton is stopped gracefully and awaited before another node may start it; brutal_kill cannot be one (set shutdown below %s)", limit)
		case cfg.Shutdown >= limit:
			d.errorf(at, p, "shutdown %s does not fit the cluster's margin %s: with %s for SIGKILL, a singleton could still run when another node starts it (set shutdown below %s, or raise cluster.margin)", cfg.Shutdown, c.Margin, proc.KillGrace, limit)
		}
	}
}

func (u clusterUse) what() string {
	if u.key.GetToken().Value == "singleton" {
		return "a singleton"
	}
	return "a cluster-scoped name"
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

var (
	commonFields     = []string{"name", "kind", "restart", "shutdown"}
	supervisorFields = []string{"strategy", "intensity", "period", "backoff", "children"}
	processFields    = []string{"command", "args", "env", "env_file", "clear_env", "dir", "user",
		"success_exit_codes", "stop_signal", "kill", "readiness", "logs", "singleton", "register"}
)

func has(list []string, s string) bool { return slices.Contains(list, s) }

// child decodes one entry of a children list.
func (d *decoder) child(n ast.Node, path string, parent *Supervisor, siblings map[string]int, depth int) Node {
	fields, ok := d.mapping(n, path, "a child")
	if !ok {
		return nil
	}
	kind := "process"
	var children *field
	for i, fl := range fields {
		switch fl.key {
		case "kind":
			if fl.v == nil {
				continue
			}
			k := d.str(fl.v, join(path, "kind"))
			if k != "process" && k != "supervisor" {
				d.errorf(fl.v, join(path, "kind"), "unknown kind %q (want process or supervisor)", k)
				return nil
			}
			kind = k
		case "children":
			children = &fields[i]
		}
	}
	if kind == "process" && children != nil {
		d.errorf(children.kn, join(path, "children"), "a node with children must be a supervisor (add kind: supervisor)")
		return nil
	}
	if kind == "supervisor" {
		if s := d.supervisor(n, path, parent, siblings, depth+1); s != nil {
			return s
		}
		return nil
	}
	return d.process(fields, n, path, parent, siblings)
}

// name decodes and checks a child's name and sets its path.
func (d *decoder) name(fields []field, n ast.Node, path string, parent *Supervisor, siblings map[string]int, c *Common) {
	for _, fl := range fields {
		if fl.key != "name" {
			continue
		}
		if fl.v == nil {
			break
		}
		s := d.str(fl.v, join(path, "name"))
		switch {
		case len(s) > 63 || !nameRE.MatchString(s):
			d.errorf(fl.v, join(path, "name"), "%q is not a valid name (want lower-case letters, digits, '-' and '_', starting with a letter or digit, at most 63 characters)", s)
		case siblings != nil && siblings[s] != 0:
			d.errorf(fl.v, join(path, "name"), "duplicate name %q among the children of %s (first at line %d)", s, parent.Path, siblings[s])
		default:
			if siblings != nil {
				siblings[s], _ = pos(fl.v)
			}
			c.Name = s
			c.Path = parent.Path + "/" + s
		}
		return
	}
	d.errorf(n, path, "missing name")
}

func (d *decoder) restart(fl field, path string, c *Common) {
	s := d.str(fl.v, join(path, "restart"))
	if err := c.Restart.UnmarshalText([]byte(s)); err != nil {
		d.errorf(fl.v, join(path, "restart"), "unknown restart type %q (want permanent, transient or temporary)", s)
	}
}

func (d *decoder) supervisor(n ast.Node, path string, parent *Supervisor, siblings map[string]int, depth int) *Supervisor {
	if depth > maxDepth {
		d.errorf(n, path, "supervisors nested more than %d deep", maxDepth)
		return nil
	}
	if d.nodes > maxNodes {
		d.errorf(n, path, "the file expands to more than %d nodes (aliases?)", maxNodes)
		return nil
	}
	fields, ok := d.mapping(n, path, "a supervisor")
	if !ok {
		return nil
	}
	s := &Supervisor{Common: Common{Shutdown: child.Infinity}, Intensity: escalation.Default}
	s.Line, _ = pos(n)
	if parent == nil {
		s.Name, s.Path = "root", "root"
	} else {
		d.name(fields, n, path, parent, siblings, &s.Common)
		s.Backoff = parent.Backoff
	}
	var childrenNode ast.Node
	var childrenKey ast.Node
	var intensityNode ast.Node
	for _, fl := range fields {
		p := join(path, fl.key)
		if fl.v == nil && fl.key != "children" && fl.key != "kind" {
			continue
		}
		switch fl.key {
		case "name":
			if parent == nil {
				d.errorf(fl.kn, p, "the root supervisor is always named root")
			}
		case "kind":
		case "restart", "shutdown":
			if parent == nil {
				d.errorf(fl.kn, p, "the root supervisor has no %s: it is the top of the tree", fl.key)
				continue
			}
			if fl.key == "restart" {
				d.restart(fl, path, &s.Common)
				continue
			}
			if str, ok := d.scalar(fl.v, p, "a duration or infinity"); ok && str == "infinity" {
				s.Shutdown = child.Infinity
			} else if v, ok := d.duration(fl.v, p); ok {
				s.Shutdown = v
			}
		case "strategy":
			str := d.str(fl.v, p)
			switch str {
			case "one_for_one", "one_for_all", "rest_for_one":
				_ = s.Strategy.UnmarshalText([]byte(str))
			default:
				d.errorf(fl.v, p, "unknown strategy %q (want one_for_one, one_for_all or rest_for_one)", str)
			}
		case "intensity":
			if v, ok := d.integer(fl.v, p, 0, 1<<20); ok {
				s.Intensity.MaxRestarts = v
				intensityNode = fl.v
			}
		case "period":
			if v, ok := d.duration(fl.v, p); ok {
				s.Intensity.Period = v
			}
		case "backoff":
			s.Backoff = d.backoff(fl.v, p)
		case "children":
			childrenNode, childrenKey = fl.v, fl.kn
		default:
			switch {
			case has(processFields, fl.key):
				d.errorf(fl.kn, p, "%s applies to processes; this node is a supervisor", fl.key)
			default:
				d.unknown(fl, path, append(slices.Clone(commonFields), supervisorFields...))
			}
		}
	}
	if intensityNode != nil && s.Intensity.MaxRestarts <= 1 {
		d.warnf(intensityNode, join(path, "intensity"), "an intensity of %d gives up after %d restart(s) in %s; OS processes usually want more (such as 5 in 10s)", s.Intensity.MaxRestarts, s.Intensity.MaxRestarts, s.Intensity.Period)
	}
	if childrenNode == nil {
		if childrenKey == nil {
			childrenKey = n
		}
		d.errorf(childrenKey, join(path, "children"), "a supervisor needs children (a list of processes and supervisors)")
		return s
	}
	seq, ok := childrenNode.(*ast.SequenceNode)
	if !ok {
		d.errorf(childrenNode, join(path, "children"), "want a list of children, got %s", describe(childrenNode))
		return s
	}
	if len(seq.Values) == 0 {
		d.errorf(childrenNode, join(path, "children"), "a supervisor needs children (a list of processes and supervisors)")
	}
	names := map[string]int{}
	for i, e := range seq.Values {
		if len(d.errs) >= maxErrors {
			break
		}
		if c := d.child(e, fmt.Sprintf("%s.children[%d]", path, i), s, names, depth); c != nil {
			s.Children = append(s.Children, c)
		}
	}
	return s
}

var backoffFields = []string{"initial", "max", "multiplier", "jitter"}

func (d *decoder) backoff(n ast.Node, path string) *Backoff {
	fields, ok := d.mapping(n, path, "a backoff")
	if !ok {
		return nil
	}
	b := &Backoff{Initial: 500 * time.Millisecond, Max: 30 * time.Second, Multiplier: 2, Jitter: 0.2}
	var maxNode ast.Node = n
	for _, fl := range fields {
		p := join(path, fl.key)
		if fl.v == nil {
			continue
		}
		switch fl.key {
		case "initial":
			if v, ok := d.duration(fl.v, p); ok {
				b.Initial = v
			}
		case "max":
			if v, ok := d.duration(fl.v, p); ok {
				b.Max, maxNode = v, fl.v
			}
		case "multiplier":
			if v, ok := d.number(fl.v, p); ok {
				if v < 1 || v > 100 {
					d.errorf(fl.v, p, "%v is out of range (want 1 to 100)", v)
				}
				b.Multiplier = v
			}
		case "jitter":
			if v, ok := d.number(fl.v, p); ok {
				if v < 0 || v > 1 {
					d.errorf(fl.v, p, "%v is out of range (want 0 to 1)", v)
				}
				b.Jitter = v
			}
		default:
			d.unknown(fl, path, backoffFields)
		}
	}
	if b.Max < b.Initial {
		d.errorf(maxNode, join(path, "max"), "max %s is less than initial %s", b.Max, b.Initial)
	}
	return b
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (d *decoder) process(fields []field, n ast.Node, path string, parent *Supervisor, siblings map[string]int) *Process {
	p := &Process{}
	p.Line, _ = pos(n)
	d.name(fields, n, path, parent, siblings, &p.Common)
	c := &p.Config
	var commandSeen bool
	var singleton, register *clusterUse
	var shutdownNode ast.Node
	for _, fl := range fields {
		fp := join(path, fl.key)
		if fl.v == nil {
			if fl.key == "command" {
				d.errorf(fl.kn, fp, "want the program to run")
				commandSeen = true
			}
			continue
		}
		switch fl.key {
		case "name", "kind":
		case "restart":
			d.restart(fl, path, &p.Common)
		case "shutdown":
			shutdownNode = fl.v
			if s, ok := d.scalar(fl.v, fp, "a duration or brutal_kill"); ok && s == "brutal_kill" {
				c.BrutalKill = true
			} else if v, ok := d.duration(fl.v, fp); ok {
				c.Shutdown = v
			}
		case "command":
			commandSeen = true
			c.Command = d.str(fl.v, fp)
			if strings.TrimSpace(c.Command) == "" {
				d.errorf(fl.v, fp, "want the program to run")
			}
		case "args":
			c.Args = d.strings(fl.v, fp)
		case "env":
			env, ok := d.mapping(fl.v, fp, "environment variables")
			if !ok {
				continue
			}
			c.Env = map[string]string{}
			for _, e := range env {
				if !envNameRE.MatchString(e.key) {
					d.errorf(e.kn, join(fp, e.key), "%q is not a valid environment variable name", e.key)
					continue
				}
				if e.v != nil {
					c.Env[e.key] = d.str(e.v, join(fp, e.key))
				} else {
					c.Env[e.key] = ""
				}
			}
		case "env_file":
			c.EnvFile = d.str(fl.v, fp)
		case "clear_env":
			c.ClearEnv = d.boolean(fl.v, fp)
		case "dir":
			c.Dir = d.str(fl.v, fp)
		case "user":
			c.User = d.str(fl.v, fp)
		case "success_exit_codes":
			seq, ok := fl.v.(*ast.SequenceNode)
			if !ok {
				d.errorf(fl.v, fp, "want a list of exit codes such as [0, 2], got %s", describe(fl.v))
				continue
			}
			c.SuccessExitCodes = []int{}
			for i, e := range seq.Values {
				if v, ok := d.integer(d.resolve(e, fp), fmt.Sprintf("%s[%d]", fp, i), 0, 255); ok {
					c.SuccessExitCodes = append(c.SuccessExitCodes, v)
				}
			}
		case "stop_signal":
			s := d.str(fl.v, fp)
			sig, err := proc.ParseSignal(s)
			if err != nil {
				d.errorf(fl.v, fp, "%v", err)
			}
			c.StopSignal = sig
		case "kill":
			switch s := d.str(fl.v, fp); s {
			case "group":
			case "process":
				c.KillProcessOnly = true
			default:
				d.errorf(fl.v, fp, "unknown kill mode %q (want group or process)", s)
			}
		case "readiness":
			d.readiness(fl.v, fp, &c.Readiness)
		case "logs":
			d.logs(fl.v, fp, &c.Logs)
		case "singleton":
			if name, ok := d.singleton(fl.v, fp, strings.ReplaceAll(p.Path, "/", ".")); ok {
				p.Singleton = name
				singleton = &clusterUse{p: p, key: fl.kn, path: path}
			}
		case "register":
			if p.Register = d.register(fl.v, fp); p.Register != nil && p.Register.Scope == ScopeCluster {
				register = &clusterUse{p: p, key: fl.kn, path: path}
			}
		default:
			switch {
			case has(supervisorFields, fl.key):
				d.errorf(fl.kn, fp, "%s applies to supervisors; this node is a process (add kind: supervisor)", fl.key)
			default:
				d.unknown(fl, path, append(slices.Clone(commonFields), processFields...))
			}
		}
	}
	if !commandSeen {
		d.errorf(n, path, "missing command (the program to run)")
	}
	for _, u := range []*clusterUse{singleton, register} {
		if u != nil {
			u.shutdown = shutdownNode
			d.clustered = append(d.clustered, *u)
		}
	}
	return p
}

// singleton decodes singleton: true, false or {name: x}: the name the
// process campaigns for (default def), and whether it is a singleton.
func (d *decoder) singleton(n ast.Node, path, def string) (string, bool) {
	switch n.(type) {
	case *ast.BoolNode:
		return def, d.boolean(n, path)
	case *ast.MappingNode, *ast.MappingValueNode:
	default:
		d.errorf(n, path, "want true, false or {name: ...}, got %s", describe(n))
		return "", false
	}
	fields, ok := d.mapping(n, path, "{name: ...}")
	if !ok {
		return "", false
	}
	name := def
	for _, f := range fields {
		if f.v == nil {
			continue
		}
		if f.key != "name" {
			d.unknown(f, path, []string{"name"})
			continue
		}
		name = d.str(f.v, join(path, "name"))
		if !regNameRE.MatchString(name) {
			d.errorf(f.v, join(path, "name"), "%q is not a valid singleton name (%s)", name, regNameRule)
		}
	}
	return name, true
}

var (
	regNameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$`)
	regNameRule = "want letters, digits, '.', '_' and '-', starting with a letter or digit, at most 253 characters"
)

// register decodes register: name or {name: x, scope: local|cluster}.
func (d *decoder) register(n ast.Node, path string) *Register {
	r := &Register{Scope: ScopeLocal}
	nameNode := n
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		fields, ok := d.mapping(n, path, "a name or {name: ..., scope: ...}")
		if !ok {
			return nil
		}
		nameNode = nil
		for _, f := range fields {
			p := join(path, f.key)
			if f.v == nil {
				continue
			}
			switch f.key {
			case "name":
				nameNode = f.v
				r.Name = d.str(f.v, p)
			case "scope":
				switch s := d.str(f.v, p); s {
				case ScopeLocal, ScopeCluster:
					r.Scope = s
				default:
					d.errorf(f.v, p, "unknown scope %q (want local or cluster)", s)
				}
			default:
				d.unknown(f, path, []string{"name", "scope"})
			}
		}
		if nameNode == nil {
			d.errorf(n, join(path, "name"), "missing name (the name to register the process under)")
			return nil
		}
	default:
		r.Name = d.str(n, path)
	}
	p := path
	if nameNode != n {
		p = join(path, "name")
	}
	if !regNameRE.MatchString(r.Name) {
		d.errorf(nameNode, p, "%q is not a valid name (%s)", r.Name, regNameRule)
		return nil
	}
	if d.registered == nil {
		d.registered = map[string]int{}
	}
	if first, dup := d.registered[r.Name]; dup {
		d.errorf(nameNode, p, "the name %q is already registered by another process (first at line %d)", r.Name, first)
		return nil
	}
	d.registered[r.Name], _ = pos(nameNode)
	return r
}

var readinessFields = []string{"tcp", "http", "exec", "notify", "uptime", "timeout"}

func (d *decoder) readiness(n ast.Node, path string, r *proc.Readiness) {
	fields, ok := d.mapping(n, path, "a readiness probe")
	if !ok {
		return
	}
	var probes []string
	var probeNode ast.Node
	for _, fl := range fields {
		p := join(path, fl.key)
		if fl.v == nil {
			d.errorf(fl.kn, p, "want a value")
			continue
		}
		if fl.key != "timeout" && has(readinessFields, fl.key) {
			probes = append(probes, fl.key)
			if len(probes) == 2 {
				d.errorf(fl.kn, p, "a process has one readiness probe; found %s and %s", probes[0], probes[1])
			}
			probeNode = fl.v
		}
		switch fl.key {
		case "tcp":
			r.Kind = proc.ReadyTCP
			r.Addr = d.str(fl.v, p)
			if _, port, err := net.SplitHostPort(r.Addr); err != nil || port == "" {
				d.errorf(fl.v, p, "%q is not a host:port address", r.Addr)
			}
		case "http":
			r.Kind = proc.ReadyHTTP
			r.URL = d.str(fl.v, p)
			if u, err := url.Parse(r.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				d.errorf(fl.v, p, "%q is not an http:// or https:// URL", r.URL)
			}
		case "exec":
			r.Kind = proc.ReadyExec
			if _, ok := fl.v.(*ast.SequenceNode); ok {
				r.Exec = d.strings(fl.v, p)
			} else {
				r.Exec = []string{d.str(fl.v, p)}
			}
			if len(r.Exec) == 0 || r.Exec[0] == "" {
				d.errorf(fl.v, p, "want a command such as [pg_isready, -q]")
			}
		case "notify":
			s := d.str(fl.v, p)
			switch {
			case s == "systemd":
				r.Kind = proc.ReadySystemd
			case strings.HasPrefix(s, "fd:"):
				r.Kind = proc.ReadyFD
				fd, err := strconv.Atoi(s[3:])
				if err != nil || fd < 3 || fd > 255 {
					d.errorf(fl.v, p, "%q: want fd:N with N from 3 to 255 (0-2 are stdin, stdout and stderr)", s)
				}
				r.FD = fd
			default:
				d.errorf(fl.v, p, "unknown notify protocol %q (want fd:N or systemd)", s)
			}
		case "uptime":
			r.Kind = proc.ReadyUptime
			if v, ok := d.durationFrom(fl.v, p, 0); ok {
				r.Uptime = v
				if v == 0 {
					r.Uptime = proc.ReadyAtOnce
				}
			}
		case "timeout":
			if v, ok := d.duration(fl.v, p); ok {
				r.Timeout = v
			}
		default:
			d.unknown(fl, path, readinessFields)
		}
	}
	if r.Kind == proc.ReadyUptime && r.Timeout > 0 && r.Uptime >= r.Timeout && probeNode != nil {
		d.errorf(probeNode, join(path, "uptime"), "uptime %s is not shorter than the readiness timeout %s", r.Uptime, r.Timeout)
	}
}

var logsFields = []string{"stdout", "stderr", "ring"}

func (d *decoder) logs(n ast.Node, path string, l *proc.Logs) {
	fields, ok := d.mapping(n, path, "a logs setting")
	if !ok {
		return
	}
	for _, fl := range fields {
		p := join(path, fl.key)
		if fl.v == nil {
			continue
		}
		switch fl.key {
		case "stdout", "stderr":
			st := &l.Stdout
			if fl.key == "stderr" {
				st = &l.Stderr
			}
			switch s := d.str(fl.v, p); {
			case s == "capture":
				st.Mode = proc.LogCapture
			case s == "inherit":
				st.Mode = proc.LogInherit
			case s == "discard":
				st.Mode = proc.LogDiscard
			case strings.HasPrefix(s, "file:") && strings.TrimSpace(s[5:]) != "":
				st.Mode, st.Path = proc.LogFile, strings.TrimSpace(s[5:])
			default:
				d.errorf(fl.v, p, "unknown log mode %q (want capture, inherit, discard or file:/path)", s)
			}
		case "ring":
			if v, ok := d.integer(fl.v, p, 1, 1_000_000); ok {
				l.Ring = v
			}
		default:
			d.unknown(fl, path, logsFields)
		}
	}
}

// Walk calls fn for every node below and including s, parents first.
func Walk(s *Supervisor, fn func(Node)) {
	fn(s)
	for _, c := range s.Children {
		if sub, ok := c.(*Supervisor); ok {
			Walk(sub, fn)
		} else {
			fn(c)
		}
	}
}
