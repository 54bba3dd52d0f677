# auditdrain: build, test, bench, run.
GO      ?= go
BIN     ?= bin/auditdrain
PREFIX  ?= /usr/local

.PHONY: build test test-short bench bench-kernel run vet clean

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/auditdrain

vet:
	$(GO) vet ./...

# The full suite: unit tests, race tests, and the tests that drive the real
# kernel (they skip with a reason when not root). This is what .ci/run runs.
# -p 1: one package's tests at a time, so the tests that measure the
# pipeline against the real kernel (50,000 events/s) do not share the CPU
# with another package's.
test: vet
	$(GO) test -p 1 -count=1 -timeout 15m ./...
	$(GO) test -p 1 -count=1 -race -timeout 10m ./internal/ring/ ./writer/ ./internal/config/ ./reader/ ./internal/daemon/ ./ratelimit/

# Hot-path micro-benchmarks (allocations per record, throughput).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/ring/ ./writer/ ./reader/ ./internal/daemon/

# The drain-rate sweep against the real kernel, side by side with auditd.
bench-kernel: build
	sudo ./$(BIN) bench --readers auditdrain,floor,auditd-raw,auditd --idle 20s --plot bench.svg

# Run the daemon with its built-in defaults (logs under /var/log/auditdrain).
run: build
	sudo ./$(BIN) run

clean:
	rm -rf bin
