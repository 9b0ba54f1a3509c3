// Command bench measures arbor side by side with thejerf/suture v4 and with
// two floors, and prints one table with the ratios:
//
//   - the context floor (floor-ctx): what any OTP-style supervisor must do at
//     the least, written by hand: a fresh cancellable context per incarnation
//     (context.WithCancel), a deferred recover, a done signal; for ordered
//     start and stop, one child at a time with a ready signal. The targets are
//     stated against this floor.
//   - the bare floor (floor): the same handshakes with bare goroutines and
//     channels, on a shared context, with no context of their own.
//
// Each figure runs for each variant in a fresh child process (this program
// re-executed with -child), because Go reuses freed goroutine stacks, which
// would flatter whichever variant ran second. Each child warms up, then
// measures; the parent repeats every process -reps times, rotating the order
// of the variants, and reports the median of the repetitions.
//
//	cd bench && go run .                 # full run, about 2.5 minutes on 2 cores
//	cd bench && go run . -quick          # about 35 s, fewer samples and repetitions
//	cd bench && go run . -only restart-error,dynamic -reps 1 -cpuprofile /tmp/prof
//	cd bench && go run . -only memory -reps 1 -cpuprofile /tmp/prof -memprofile
//
// This module is separate from arbor's so that arbor never depends on suture.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

type config struct {
	quick   bool
	profDir string // write CPU profiles (and the memory figure's heap profile) here
	memProf bool   // sample every allocation, for the memory figure's heap profile
}

type figure struct {
	id       string
	variants []string
	run      func(cfg config, variant string) (map[string]float64, error)
}

var peers = []string{"arbor", "suture", "floor-ctx", "floor"}

var figures = []figure{
	{"restart-error", peers, figRestart(false)},
	{"restart-panic", peers, figRestart(true)},
	{"back-to-back", peers, figBackToBack},
	{"ordered-10k", peers, figOrdered(10_000)},
	{"ordered-100k", peers, figOrdered(100_000)},
	{"memory", []string{"arbor", "suture", "floor-ctx", "floor", "floor-bare"}, figMemory},
	{"dynamic", peers, figDynamic(0)},
	{"dynamic-1k", peers, figDynamic(1_000)},
	{"dynamic-10k", peers, figDynamic(10_000)},
	{"dynamic-100k", peers, figDynamic(100_000)},
	{"lookup", []string{"arbor", "rwmutex", "syncmap"}, figLookup},
}

const resultPrefix = "RESULT "

func main() {
	quick := flag.Bool("quick", false, "short run (about 30 s): fewer samples and repetitions")
	reps := flag.Int("reps", 0, "fresh processes per figure and variant (default 7, 3 with -quick)")
	only := flag.String("only", "", "comma-separated figure ids to run (default all): "+figureIDs())
	out := flag.String("out", "", "also write the report to this file")
	profDir := flag.String("cpuprofile", "", "write a CPU profile of each child process into this directory")
	memProf := flag.Bool("memprofile", false, "with -cpuprofile: also write the heap profile of the idle children of the memory figure (slower)")
	childSpec := flag.String("child", "", "internal: run one figure/variant and print its result")
	flag.Parse()
	cfg := config{quick: *quick, profDir: *profDir, memProf: *memProf && *profDir != ""}

	if *childSpec != "" {
		if cfg.memProf {
			runtime.MemProfileRate = 1
		}
		if err := runChild(cfg, *childSpec); err != nil {
			fmt.Fprintln(os.Stderr, "bench child", *childSpec+":", err)
			os.Exit(1)
		}
		return
	}
	if *reps <= 0 {
		*reps = 7
		if *quick {
			*reps = 3
		}
	}
	selected, err := selectFigures(*only)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if *profDir != "" {
		if err := os.MkdirAll(*profDir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	start := time.Now()
	res, err := runAll(cfg, selected, *reps)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	report := render(res, *reps, cfg, time.Since(start))
	fmt.Print(report)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

func figureIDs() string {
	ids := make([]string, len(figures))
	for i, f := range figures {
		ids[i] = f.id
	}
	return strings.Join(ids, ",")
}

func selectFigures(only string) ([]figure, error) {
	if only == "" {
		return figures, nil
	}
	var sel []figure
	for _, id := range strings.Split(only, ",") {
		i := slices.IndexFunc(figures, func(f figure) bool { return f.id == strings.TrimSpace(id) })
		if i < 0 {
			return nil, fmt.Errorf("unknown figure %q (have %s)", id, figureIDs())
		}
		sel = append(sel, figures[i])
	}
	return sel, nil
}

// runChild runs one figure for one variant in this process and prints the
// result as one JSON line.
func runChild(cfg config, spec string) error {
	figID, variant, ok := strings.Cut(spec, "/")
	if !ok {
		return fmt.Errorf("want figure/variant, got %q", spec)
	}
	i := slices.IndexFunc(figures, func(f figure) bool { return f.id == figID })
	if i < 0 || !slices.Contains(figures[i].variants, variant) {
		return fmt.Errorf("unknown figure or variant %q", spec)
	}
	if cfg.profDir != "" {
		f, err := os.Create(filepath.Join(cfg.profDir, figID+"-"+variant+".pprof"))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	m, err := figures[i].run(cfg, variant)
	if err != nil {
		return err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	fmt.Printf("%s%s\n", resultPrefix, b)
	return nil
}

// results maps figure → variant → metric → one value per repetition.
type results map[string]map[string]map[string][]float64

func (r results) median(fig, variant, metric string) float64 {
	return median(r[fig][variant][metric])
}

func runAll(cfg config, figs []figure, reps int) (results, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	res := results{}
	total := 0
	for _, f := range figs {
		total += reps * len(f.variants)
	}
	done := 0
	for rep := range reps {
		for _, f := range figs {
			// Rotate the order of the variants from one repetition to the next.
			vs := slices.Clone(f.variants)
			k := rep % len(vs)
			vs = append(vs[k:], vs[:k]...)
			for _, v := range vs {
				done++
				fmt.Fprintf(os.Stderr, "[%3d/%d] %s/%s ", done, total, f.id, v)
				t0 := time.Now()
				m, err := spawn(exe, cfg, f.id+"/"+v)
				if err != nil {
					return nil, fmt.Errorf("%s/%s: %w", f.id, v, err)
				}
				fmt.Fprintf(os.Stderr, "%.1fs\n", time.Since(t0).Seconds())
				if res[f.id] == nil {
					res[f.id] = map[string]map[string][]float64{}
				}
				if res[f.id][v] == nil {
					res[f.id][v] = map[string][]float64{}
				}
				for k, x := range m {
					res[f.id][v][k] = append(res[f.id][v][k], x)
				}
			}
		}
	}
	return res, nil
}

// spawn re-executes this program to run one figure/variant in a fresh process.
func spawn(exe string, cfg config, spec string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := []string{"-child", spec}
	if cfg.quick {
		args = append(args, "-quick")
	}
	if cfg.profDir != "" {
		args = append(args, "-cpuprofile", cfg.profDir)
	}
	if cfg.memProf {
		args = append(args, "-memprofile")
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var m map[string]float64
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), resultPrefix); ok {
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				return nil, err
			}
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("no result printed")
	}
	return m, nil
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func machine() string {
	return fmt.Sprintf("%d CPUs (%s), GOMAXPROCS %d, %s %s/%s", runtime.NumCPU(), cpuModel(),
		runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
