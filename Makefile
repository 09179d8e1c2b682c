# Ferry — build, test, lint, bench, demo.
GO       ?= go
BIN      ?= bin
FUZZTIME ?= 10s
export CGO_ENABLED ?= 0

.PHONY: all build test test-short fuzz lint bench demo clean

all: build

build:
	$(GO) build -trimpath -o $(BIN)/ferry ./cmd/ferry
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(BIN)/ferry-install ./cmd/ferry-install

# The full suite: unit, integration (containerd, docker-registry, systemd-nspawn
# where present) and a short run of every fuzz target.
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...
	$(MAKE) fuzz

test-short:
	$(GO) test -short -count=1 ./...

# Each fuzz target for FUZZTIME (CI: 10s each).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f for $(FUZZTIME)"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg > /tmp/ferry-fuzz.log 2>&1 || { cat /tmp/ferry-fuzz.log; exit 1; }; \
	    tail -1 /tmp/ferry-fuzz.log; \
	  done; \
	done

lint:
	test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# End-to-end benchmark (several minutes; not part of test): ferry build,
# verify and install beside crane/curl/tar|zstd/cosign/sha256sum on the
# same generated fixture, two fixture sizes, BENCH_RUNS runs each.
BENCH_RUNS ?= 3
bench:
	$(GO) run ./bench/cmd/ferry-bench -runs $(BENCH_RUNS)

demo:
	$(GO) run ./cmd/ferry-demo

clean:
	rm -rf $(BIN)
