package kubernetes

import (
	"bufio"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// slack is the time the process needs to exit once the tree has stopped.
const slack = 5 * time.Second

// manifest is what the test reads from daemon.yaml. The manifest is plain
// enough that lines suffice; a YAML parser would be a dependency for a test.
type manifest struct {
	grace     time.Duration
	preStop   time.Duration
	budget    time.Duration
	host      string
	admin     string            // the -admin-port argument
	ports     map[string]string // container port name -> number
	probes    map[string]string // probe kind -> path
	probePort map[string]string // probe kind -> port name
}

func read(t *testing.T) manifest {
	t.Helper()
	f, err := os.Open("daemon.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := manifest{ports: map[string]string{}, probes: map[string]string{}, probePort: map[string]string{}}
	var (
		probe   string
		inHook  bool
		num     = func(s string) time.Duration { n, _ := strconv.Atoi(s); return time.Duration(n) * time.Second }
		portRE  = regexp.MustCompile(`\{name: (\w+), containerPort: (\d+)\}`)
		httpRE  = regexp.MustCompile(`httpGet: \{path: (\S+), port: (\w+)\}`)
		sleepRE = regexp.MustCompile(`sleep: \{seconds: (\d+)\}`)
	)
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		line, _, _ = strings.Cut(line, " #")
		switch {
		case strings.HasPrefix(line, "terminationGracePeriodSeconds:"):
			m.grace = num(strings.TrimSpace(strings.TrimPrefix(line, "terminationGracePeriodSeconds:")))
		case strings.HasPrefix(line, "- -shutdown-budget="):
			m.budget, err = time.ParseDuration(strings.TrimPrefix(line, "- -shutdown-budget="))
			if err != nil {
				t.Fatal(err)
			}
		case strings.HasPrefix(line, "- -host="):
			m.host = strings.TrimPrefix(line, "- -host=")
		case strings.HasPrefix(line, "- -admin-port="):
			m.admin = strings.TrimPrefix(line, "- -admin-port=")
		case portRE.MatchString(line):
			p := portRE.FindStringSubmatch(line)
			m.ports[p[1]] = p[2]
		case strings.HasSuffix(line, "Probe:"):
			probe = strings.TrimSuffix(line, ":")
		case httpRE.MatchString(line) && probe != "":
			p := httpRE.FindStringSubmatch(line)
			m.probes[probe], m.probePort[probe] = p[1], p[2]
		case line == "preStop:":
			inHook = true
		case inHook && sleepRE.MatchString(line):
			m.preStop = num(sleepRE.FindStringSubmatch(line)[1])
			inHook = false
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// The grace period covers the preStop pause, the whole shutdown budget and
// the process's exit, so the kubelet's SIGKILL never cuts a shutdown that
// daemon.Run still bounds.
func TestGracePeriodCoversTheShutdownBudget(t *testing.T) {
	m := read(t)
	if m.budget == 0 || m.grace == 0 || m.preStop == 0 {
		t.Fatalf("read budget %v, grace %v, preStop %v; want all three", m.budget, m.grace, m.preStop)
	}
	if need := m.preStop + m.budget + slack; m.grace < need {
		t.Fatalf("terminationGracePeriodSeconds = %v; want at least preStop %v + budget %v + slack %v = %v",
			m.grace, m.preStop, m.budget, slack, need)
	}
}

// The probes reach the daemon's admin listener: liveness on /livez (with a
// startup probe on the same path), readiness on /readyz.
func TestProbesPointAtTheAdminEndpoints(t *testing.T) {
	m := read(t)
	want := map[string]string{"livenessProbe": "/livez", "startupProbe": "/livez", "readinessProbe": "/readyz"}
	for probe, path := range want {
		if m.probes[probe] != path {
			t.Errorf("%s on %q; want %s", probe, m.probes[probe], path)
		}
		if port := m.ports[m.probePort[probe]]; port != m.admin {
			t.Errorf("%s on port %q (%s); want the admin port %s", probe, m.probePort[probe], port, m.admin)
		}
	}
	if m.host != "0.0.0.0" {
		t.Errorf("-host=%s; the kubelet probes the pod's IP, so the daemon must listen on 0.0.0.0", m.host)
	}
}
