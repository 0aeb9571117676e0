# The two commands a newcomer runs: `make run` and `make test`.
# Both prepare their own PostgreSQL and NATS (deployments/local/stack.sh).

SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)

GO            ?= go
BIN           := bin/leadsvc
STATICCHECK   := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Helm for internal/deploytest's chart checks, pinned. `go install` puts
# it in bin/ once, from the Go module proxy; the tests run that binary, so
# they need no network afterwards (`go run pkg@version` asks the proxy on
# every run). The tests install it the same way when it is missing.
HELM_MODULE   := helm.sh/helm/v4/cmd/helm@v4.3.2
HELM_BIN      := bin/helm-$(lastword $(subst @, ,$(HELM_MODULE)))
DATABASE_URL  ?= postgres://postgres@127.0.0.1:5432/leadsvc?sslmode=disable
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/leadsvc_test?sslmode=disable
FUZZTIME      ?= 5s
BENCH_NATS_URL ?= nats://127.0.0.1:4222
BENCH_RESULTS ?= $(CURDIR)/bench-results.jsonl
VERSION       := $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: run test build stack lint unit fuzz bench clean cluster test-cluster demo-reset

## run: prepare Postgres, migrate, print a demo account, campaign and tokens, serve on :8080
run: stack build
	@DATABASE_URL='$(DATABASE_URL)' ./$(BIN) migrate
	@DATABASE_URL='$(DATABASE_URL)' ./$(BIN) demo
	DATABASE_URL='$(DATABASE_URL)' exec ./$(BIN) serve

## demo-reset: revoke the demo's partner tokens and make a fresh demo account (then make run)
demo-reset: stack build
	@DATABASE_URL='$(DATABASE_URL)' ./$(BIN) migrate
	@DATABASE_URL='$(DATABASE_URL)' ./$(BIN) demo --reset

## test: prepare Postgres and NATS, then formatting, vet, staticcheck, every test, short fuzz runs
test: stack lint unit fuzz

## cluster: three clustered nats-server and three leadsvc replicas on loopback ports (deployments/cluster); Ctrl-C stops them
cluster: stack build
	@DATABASE_URL='$(DATABASE_URL)' LEADSVC_BIN=$(BIN) bash deployments/cluster/cluster.sh

## test-cluster: the cluster under faults (SIGKILLed relay holder, NATS node and replica); make test runs it with every test
test-cluster: stack
	DATABASE_URL='$(TEST_DATABASE_URL)' $(GO) test -count=1 -timeout 10m -run '^TestCluster' -v ./deployments/cluster/

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/leadsvc

stack:
	@bash deployments/local/stack.sh

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go') $$(git ls-files --others --exclude-standard '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# Helm is built first, so that its first build (minutes on a slow
# machine) does not count against a test's timeout.
unit: $(HELM_BIN)
	DATABASE_URL='$(TEST_DATABASE_URL)' $(GO) test -count=1 -timeout 15m ./...

# Short fuzz runs over the committed seed corpora (testdata/fuzz); longer
# runs: make fuzz FUZZTIME=5m. Go 1.26's fuzz coordinator can end a run at
# the -fuzztime deadline with a bare "context deadline exceeded" and no
# failing input (go.dev/issue/75804, fixed in 1.27): such a run is repeated
# once; any run that writes a failing input, or fails twice, fails.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    for attempt in 1 2; do \
	      echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	      if out=$$(DATABASE_URL='$(TEST_DATABASE_URL)' $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg 2>&1); then break; fi; \
	      if [ $$attempt = 1 ] && grep -q 'context deadline exceeded' <<<"$$out" && ! grep -q 'Failing input written' <<<"$$out"; then \
	        echo "fuzz $$f: deadline race in the fuzz coordinator, no failing input; running again"; continue; fi; \
	      echo "$$out"; echo "fuzz $$f failed; the failing input is under $$dir/testdata/fuzz/$$f"; exit 1; \
	    done; \
	  done; \
	done

## bench: figures beside the raw Postgres/NATS baselines and the CRUD baseline measured in the same run, and their plots (docs/benchmarks.md)
# -p 1: one package's benchmarks at a time, so that none measures while
# another loads the same 2 cores and the same Postgres. Every benchmark
# appends its figures to BENCH_RESULTS (JSON lines); benchplot draws the
# SVGs of docs/benchmarks/ from them.
bench: stack
	rm -f '$(BENCH_RESULTS)'
	set -o pipefail; LEADSVC_BENCH_RESULTS='$(BENCH_RESULTS)' DATABASE_URL='$(TEST_DATABASE_URL)' NATS_URL='$(BENCH_NATS_URL)' \
	  $(GO) test -p 1 -run='^$$' -bench=. -benchtime=1x -timeout 60m ./... | tee bench.out
	$(GO) run ./internal/benchplot -in '$(BENCH_RESULTS)' -out docs/benchmarks

$(HELM_BIN):
	@mkdir -p bin/.helm-install
	GOBIN=$(CURDIR)/bin/.helm-install $(GO) install $(HELM_MODULE)
	mv bin/.helm-install/helm $@
	rmdir bin/.helm-install

clean:
	rm -rf bin bench.out bench-results.jsonl
