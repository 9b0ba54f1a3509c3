# Arbor's tasks. `make test` is what CI runs.
GO ?= go
STATICCHECK_VERSION ?= v0.8.2
PKGS := ./...

.PHONY: test test-cluster demo lint lint-cluster cover bench tidy-check soak soak-short fuzz

## test: vet, then every test under the race detector (goleak checks each package), then the supervisor's tests again without it: some run only there (the race detector allows at most 8128 live goroutines)
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	$(GO) test -count=1 -timeout 10m ./supervisor/

## test-cluster: the etcd cluster engine's tests (a module of its own, against an embedded etcd), under the race detector
test-cluster:
	cd cluster/etcd && $(GO) test -race -count=1 -timeout 10m ./...

## lint-cluster: vet, staticcheck (pinned) and the go mod tidy check for the cluster/etcd module (gofmt is in lint)
lint-cluster:
	cd cluster/etcd && $(GO) vet ./... && $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	@cd cluster/etcd && cp go.mod /tmp/arbor-etcd.go.mod.bak && cp go.sum /tmp/arbor-etcd.go.sum.bak && $(GO) mod tidy && \
	if ! git diff --quiet -- go.mod go.sum; then echo "cluster/etcd: go.mod/go.sum not tidy:"; git diff -- go.mod go.sum; \
	cp /tmp/arbor-etcd.go.mod.bak go.mod; cp /tmp/arbor-etcd.go.sum.bak go.sum; exit 1; fi

## demo: build bin/arbordemo and run it: restarts with backoff, a nested supervisor that gives up and is restarted by its parent, the live tree page's URL (stops by itself after 30 s, or on Ctrl-C; the binary, not go run, so that the interrupt ends it cleanly)
demo:
	$(GO) build -o bin/arbordemo ./cmd/arbordemo
	ARBORDEMO_OWN_TERMINAL=1 ./bin/arbordemo -duration 30s

## lint: gofmt check, vet, staticcheck (pinned), go mod tidy check
lint: tidy-check
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

tidy-check:
	@cp go.mod /tmp/arbor.go.mod.bak; cp go.sum /tmp/arbor.go.sum.bak
	@$(GO) mod tidy
	@if ! git diff --quiet -- go.mod go.sum; then echo "go.mod/go.sum not tidy:"; git diff -- go.mod go.sum; cp /tmp/arbor.go.mod.bak go.mod; cp /tmp/arbor.go.sum.bak go.sum; exit 1; fi

## cover: test with coverage and print the per-function summary
cover:
	$(GO) test -race -count=1 -coverprofile=cover.out $(PKGS)
	$(GO) tool cover -func=cover.out | tail -n 1

## bench: arbor side by side with suture and the plain-goroutine floor, each figure in fresh processes (under 5 minutes on 2 cores; BENCHFLAGS=-quick for about 30 s)
bench:
	cd bench && $(GO) run . $(BENCHFLAGS) -out ../docs/benchmarks-latest.txt

.PHONY: test-grpc
## test-grpc: examples/grpc is a module of its own (so arbor does not depend on gRPC): vet and race-test it
test-grpc:
	cd examples/grpc && $(GO) vet ./... && $(GO) test -race -count=1 ./...

.PHONY: cli
## cli: build the process supervisor command to bin/arbor (docs/cli.md)
cli:
	$(GO) build -o bin/arbor ./cmd/arbor

## soak: the chaos soak on the full tree (about 1,000 workers, a pool of up to 10,000), SOAK_DURATION long (default 10m); SOAK_SEED=n replays a workload. See docs/reliability.md
SOAK_DURATION ?= 10m
SOAK_SEED ?= 0
soak:
	$(GO) test -count=1 -timeout 0 -v -run '^TestSoak$$' ./internal/soak -soak.full -soak.duration=$(SOAK_DURATION) -soak.seed=$(SOAK_SEED) -soak.report=soak-report.txt

## soak-short: the short chaos soak CI runs once, under the race detector, on a smaller tree (45 s)
soak-short:
	$(GO) test -race -count=1 -timeout 5m -v -run '^TestSoak$$' ./internal/soak -soak.duration=45s -soak.seed=$(SOAK_SEED)

## fuzz: each fuzz target for FUZZTIME (default 2m); a failing input lands in the package's testdata/fuzz (docs/reliability.md: how to keep new corpus)
FUZZTIME ?= 2m
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzCheckSpecs$$' -fuzztime $(FUZZTIME) ./supervisor/
	$(GO) test -run '^$$' -fuzz '^FuzzApply$$' -fuzztime $(FUZZTIME) ./supervisor/
	$(GO) test -run '^$$' -fuzz '^FuzzDocumentRoundTrip$$' -fuzztime $(FUZZTIME) ./treeview/
	$(GO) test -run '^$$' -fuzz '^FuzzDocumentJSON$$' -fuzztime $(FUZZTIME) ./treeview/
