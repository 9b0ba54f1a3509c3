package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/arborgo/arbor/cmd/arbor/internal/agent"
	"github.com/arborgo/arbor/cmd/arbor/internal/proc"
	"github.com/arborgo/arbor/treeview"
)

// client talks to a running arbor over its control socket.
type client struct {
	socket string
	http   *http.Client
}

func newClient(socket string) *client {
	return &client{socket: socket, http: &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true, // one command, one request: no idle connection left behind
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}}
}

// do sends a request and decodes a JSON answer into out; an error answer
// becomes an error with the daemon's message.
func (c *client) do(ctx context.Context, method, path string, body any, out any) error {
	resp, err := c.open(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (c *client) open(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://arbor"+path, rd)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach arbor at %s (is arbor run running? --socket): %w", c.socket, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		var e struct {
			Error string `json:"error"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return nil, errors.New(e.Error)
	}
	return resp, nil
}

// completePaths completes child paths from the running tree.
func completePaths(g *globalFlags) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var rows []agent.Row
		ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Second)
		defer cancel()
		if err := newClient(g.socket).do(ctx, "GET", "/v1/status", nil, &rows); err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var out []string
		for _, r := range rows {
			if r.Path != "root" && strings.HasPrefix(r.Path, toComplete) {
				out = append(out, r.Path)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

func addClientCmds(root *cobra.Command, g *globalFlags) {
	var statusJSON bool
	status := &cobra.Command{
		Use:   "status [path]",
		Short: "Show the children as a table; exit 1 if a permanent child is not running",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := ""
			if len(args) == 1 {
				q = "?path=" + url.QueryEscape(args[0])
			}
			var rows []agent.Row
			if err := newClient(g.socket).do(cmd.Context(), "GET", "/v1/status"+q, nil, &rows); err != nil {
				return err
			}
			if statusJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				_ = enc.Encode(rows)
			} else {
				printStatus(cmd.OutOrStdout(), rows, time.Now())
			}
			for _, r := range rows {
				if r.Restart == "permanent" && r.State != "running" {
					return &exitError{code: exitFailed, err: fmt.Errorf("%s is %s", r.Path, r.State)}
				}
			}
			return nil
		},
		ValidArgsFunction: completePaths(g),
	}
	status.Flags().BoolVar(&statusJSON, "json", false, "print JSON")

	var treeJSON, watch bool
	tree := &cobra.Command{
		Use:   "tree",
		Short: "Show the live tree (--watch redraws it every second)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer cancel()
			return runTree(ctx, newClient(g.socket), cmd.OutOrStdout(), treeJSON, watch)
		},
	}
	tree.Flags().BoolVar(&treeJSON, "json", false, "print JSON (with --watch: the tree, then one event per line)")
	tree.Flags().BoolVar(&watch, "watch", false, "redraw the tree on every event until interrupted")

	verb := func(name, short string) *cobra.Command {
		return &cobra.Command{
			Use:   name + " <path>",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				var out map[string]string
				if err := newClient(g.socket).do(cmd.Context(), "POST", "/v1/"+name, agent.Request{Path: args[0]}, &out); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", out["path"], out["action"])
				return nil
			},
			ValidArgsFunction: completePaths(g),
		}
	}

	sig := &cobra.Command{
		Use:   "signal <path> <SIGNAL>",
		Short: "Send a signal to a process's group",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := proc.ParseSignal(args[1]); err != nil {
				return &exitError{code: exitInvalid, err: err}
			}
			var out map[string]string
			if err := newClient(g.socket).do(cmd.Context(), "POST", "/v1/signal", agent.Request{Path: args[0], Signal: args[1]}, &out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", out["path"], out["action"])
			return nil
		},
		ValidArgsFunction: completePaths(g),
	}

	var dryRun bool
	reload := &cobra.Command{
		Use:   "reload",
		Short: "Read the tree file again and apply the difference (as SIGHUP does)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var plan agent.Plan
			if err := newClient(g.socket).do(cmd.Context(), "POST", "/v1/reload", agent.Request{DryRun: dryRun}, &plan); err != nil {
				return err
			}
			printPlan(cmd.OutOrStdout(), plan, dryRun)
			return nil
		},
	}
	reload.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan without applying it")

	var follow bool
	var lines int
	logs := &cobra.Command{
		Use:   "logs <path>",
		Short: "Print a process's last output lines (-f follows)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer cancel()
			q := url.Values{"path": {args[0]}, "n": {strconv.Itoa(lines)}}
			if follow {
				q.Set("follow", "1")
			}
			resp, err := newClient(g.socket).open(ctx, "GET", "/v1/logs?"+q.Encode(), nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
			for sc.Scan() {
				var l proc.Line
				if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s[%d] %s: %s\n", l.Time.Format(time.RFC3339), args[0], l.PID, l.Stream, l.Text)
			}
			if ctx.Err() != nil {
				return nil
			}
			return sc.Err()
		},
		ValidArgsFunction: completePaths(g),
	}
	logs.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines")
	logs.Flags().IntVarP(&lines, "lines", "n", 100, "how many of the last lines to print")

	debug := &cobra.Command{Use: "debug", Short: "Debugging aids"}
	debug.AddCommand(&cobra.Command{
		Use:   "stacks",
		Short: "Print the goroutine stacks of the running arbor",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := newClient(g.socket).open(cmd.Context(), "GET", "/v1/debug/stacks", nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			_, err = io.Copy(cmd.OutOrStdout(), resp.Body)
			return err
		},
	})

	root.AddCommand(status, tree,
		verb("start", "Start a stopped child"),
		verb("stop", "Stop a child (it stays stopped until started)"),
		verb("restart", "Stop a child and start it again (also clears a failed start)"),
		sig, reload, logs, debug)
}

// runTree prints the tree; with watch, it redraws it on every event (or,
// with asJSON, prints each event as a JSON line) until ctx ends.
func runTree(ctx context.Context, c *client, out io.Writer, asJSON, watch bool) error {
	draw := func() error {
		var t agent.TreeResponse
		if err := c.do(ctx, "GET", "/v1/tree", nil, &t); err != nil {
			return err
		}
		if asJSON {
			enc := json.NewEncoder(out)
			if !watch {
				enc.SetIndent("", "  ")
			}
			return enc.Encode(t)
		}
		if watch {
			fmt.Fprint(out, "\x1b[H\x1b[2J")
		}
		printTree(out, &t)
		return nil
	}
	if !watch {
		return draw()
	}
	// Subscribe before the first draw, so that no change falls between.
	resp, err := c.open(ctx, "GET", "/v1/events", nil)
	if err != nil {
		return err
	}
	lines := make(chan []byte)
	quit := make(chan struct{})
	readerDone := make(chan struct{})
	go func() { // ends at the end of the stream, or when quit is closed
		defer close(readerDone)
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			select {
			case lines <- append([]byte(nil), sc.Bytes()...):
			case <-quit:
				return
			}
		}
	}()
	defer func() {
		close(quit)
		resp.Body.Close() // unblocks the scanner
		<-readerDone
	}()
	if err := draw(); err != nil {
		return err
	}
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("arbor closed the event stream")
			}
			if asJSON {
				fmt.Fprintln(out, string(l))
				continue
			}
			// Redraw once for a burst of events.
		drain:
			for {
				select {
				case _, ok := <-lines:
					if !ok {
						break drain
					}
				default:
					break drain
				}
			}
			if err := draw(); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		case <-ctx.Done():
			return nil
		}
	}
}

func printStatus(w io.Writer, rows []agent.Row, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tSTATE\tPID\tUPTIME\tRESTARTS\tLAST EXIT")
	for _, r := range rows {
		pid, up, last := "-", "-", "-"
		if r.PID != 0 {
			pid = strconv.Itoa(r.PID)
		}
		if r.StartedAt != nil {
			up = now.Sub(*r.StartedAt).Truncate(time.Second).String()
		}
		if r.LastExit != nil {
			last = r.LastExit.Kind
			if r.LastExit.Reason != "" {
				last += ": " + r.LastExit.Reason
			}
			last += " (" + now.Sub(r.LastExit.At).Truncate(time.Second).String() + " ago)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", r.Path, r.State, pid, up, r.Restarts, last)
	}
	tw.Flush()
}

func printTree(w io.Writer, t *agent.TreeResponse) {
	var walk func(n *treeview.Node, depth int)
	walk = func(n *treeview.Node, depth int) {
		line := strings.Repeat("  ", depth) + n.Name
		if n.Kind == "supervisor" && n.Strategy != "" {
			line += fmt.Sprintf(" [%s", n.Strategy)
			if n.Intensity != nil {
				line += fmt.Sprintf(", %d/%d restarts in %s", n.Intensity.InWindow, n.Intensity.MaxRestarts, n.Intensity.Period)
			}
			line += "]"
		}
		line += " " + n.State
		if p, ok := t.Processes[n.Path]; ok {
			line += fmt.Sprintf(" pid %d", p.PID)
			if p.Status != "" {
				line += " (" + p.Status + ")"
			}
		}
		if n.Restarts > 0 {
			line += fmt.Sprintf(" restarts %d", n.Restarts)
		}
		fmt.Fprintln(w, line)
		for _, c := range n.Children {
			walk(c, depth+1)
		}
	}
	if t.Node != "" {
		fmt.Fprintf(w, "node %s\n", t.Node)
	}
	if t.Tree != nil && t.Tree.Root != nil {
		walk(t.Tree.Root, 0)
	}
}

func printPlan(w io.Writer, p agent.Plan, dryRun bool) {
	verb := "applied"
	if dryRun {
		verb = "plan (dry run, nothing changed)"
	}
	fmt.Fprintln(w, "reload "+verb+":")
	for _, s := range []struct {
		mark  string
		paths []string
	}{{"+", p.Added}, {"-", p.Removed}, {"~", p.Changed}} {
		sort.Strings(s.paths)
		for _, path := range s.paths {
			fmt.Fprintf(w, "  %s %s\n", s.mark, path)
		}
	}
	fmt.Fprintf(w, "  %d unchanged\n", len(p.Unchanged))
	for _, warn := range p.Warnings {
		fmt.Fprintln(w, "  warning: "+warn)
	}
	for _, f := range p.Failed {
		fmt.Fprintln(w, "  failed: "+f)
	}
}
