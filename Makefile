# Lobby — captive-portal firmware. `make help` lists the targets.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  = -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BOARDS   = $(basename $(notdir $(wildcard board/*.conf)))
FUZZTIME ?= 5s
E2E     ?= .
export CGO_ENABLED = 0
export PATH := $(PATH):/usr/local/go/bin

.PHONY: help bench deps build cross cross-test size test unit fuzz e2e lint demo lab-up lab-down clean FORCE

help:
	@echo "make build   build bin/lobby for this machine"
	@echo "make cross   static binaries for every board: build/BOARD/lobby ($(BOARDS))"
	@echo "make size    stripped and xz -9 size per board"
	@echo "make test    lint, unit tests, short fuzz runs, end-to-end tests (root)"
	@echo "make demo    bring up the lab and walk a client through the hotspot (root)"
	@echo "make lint    gofmt and go vet"
	@echo "make bench   benchmarks against the peers, figures in docs/ (root)"

build: bin/lobby

bin/lobby: FORCE
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./firmware

# One static binary per board profile; the profile's GO* variables pick the
# target. The board name is stamped too, so `lobby version` tells them apart.
cross: $(BOARDS:%=build/%/lobby)

build/%/lobby: FORCE
	@set -a && . board/$*.conf && set +a && \
	GOOS=linux $(GO) build -trimpath -ldflags '$(LDFLAGS) -X main.board=$*' -o $@ ./firmware && \
	echo "built $@ ($$GOARCH$${GOMIPS:+ $$GOMIPS}$${GOARM:+ GOARM=$$GOARM})"

size: cross
	@printf '%-18s %10s %10s\n' board stripped 'xz -9'
	@for b in $(BOARDS); do \
		f=build/$$b/lobby; \
		printf '%-18s %10d %10d\n' $$b $$(stat -c %s $$f) $$(xz -9 -c $$f | wc -c); \
	done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./...

unit:
	$(GO) test -count=1 ./...

fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

# End-to-end tests need root: they build lobby and run it in the lab's
# network namespaces with real clients. Without root they skip.
e2e: deps
	$(GO) test -tags e2e -count=1 -v -timeout 15m -run "$(E2E)" ./firmware

# The cross builds are static ELFs that run (under qemu-user), and the unit
# tests pass on big-endian MIPS.
cross-test: cross
	scripts/cross-check.sh

test: deps lint unit fuzz cross-test e2e

demo: deps
	scripts/demo.sh

# The Debian packages the lab and the tests drive (installed only if missing).
deps:
	@scripts/deps.sh

# Side-by-side benchmarks against the peers (root; minutes): docs/bench-*.md
bench: deps
	scripts/bench/run.sh

lab-up:
	scripts/lab.sh up
lab-down:
	scripts/lab.sh down

clean:
	rm -rf bin build
