# Lobby — captive-portal firmware. `make help` lists the targets.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDVARS   = -X main.version=$(VERSION) -X main.commit=$(COMMIT)
LDFLAGS  = -s -w $(LDVARS)
# nethttpomithttp2: net/http without its bundled HTTP/2 (about 90 KB of xz on
# MIPS); the portal serves HTTP/1.1 only. Build lobby with the same tags
# everywhere (scripts/bench/*.sh, firmware/lab_test.go).
GOTAGS   = nethttpomithttp2
# Inlining is what a Go binary pays most flash for. The code that runs at a
# human pace or once (TLS handshakes and certificates, the portal's HTTP
# server, iptables launches, netlink plumbing) is compiled without it; the
# per-packet paths (the runtime, lobby's own packages, miekg/dns, the DHCP
# and packet libraries, net) keep it: about 160 KB of xz on every board
# (docs/openwrt.md, Footprint). A board profile's GCFLAGS replaces the list.
NOINLINE = crypto/... net/http/... encoding/asn1 encoding/pem vendor/... math/big \
	mime/... text/... compress/... github.com/vishvananda/...
GCFLAGS  = $(patsubst %,%=-l,$(NOINLINE))
BOARDS   = $(basename $(notdir $(wildcard board/*.conf)))
FUZZTIME ?= 30s
E2E     ?= .
export CGO_ENABLED = 0
export PATH := $(PATH):/usr/local/go/bin

.PHONY: help bench deps build cross cross-test size footprint test unit fuzz e2e lint demo lab-up lab-down package firmware openwrt-test image boot-test clean FORCE

help:
	@echo "make build   build bin/lobby for this machine"
	@echo "make cross   static binaries for every board: build/BOARD/lobby ($(BOARDS))"
	@echo "make size    stripped and xz -9 size per board, its budget and margin"
	@echo "make footprint  what each subsystem costs per OpenWrt board (symbol sizes)"
	@echo "make test    lint, unit tests (every fuzz corpus included), end-to-end tests (root)"
	@echo "make fuzz    explore every fuzz target for FUZZTIME ($(FUZZTIME)) each: run it before you stop"
	@echo "make demo    bring up the lab and walk a client through the hotspot (root)"
	@echo "make lint    gofmt and go vet"
	@echo "make bench   benchmarks against the peers, figures in docs/ (root)"
	@echo "make package OpenWrt .ipk per board: build/BOARD/lobby_VERSION_ARCH.ipk"
	@echo "make firmware BOARD=… IB=…  sysupgrade image through OpenWrt's Image Builder"
	@echo "make image [BOARD=appliance-…]  appliance image: kernel + initramfs (+ disk): build/image/BOARD"
	@echo "make boot-test [BOARD=…]  boot the appliance images under qemu, a client through them (root)"

build: bin/lobby

bin/lobby: FORCE
	$(GO) build -tags '$(GOTAGS)' $(GCFLAGS:%=-gcflags=%) -trimpath -ldflags '$(LDFLAGS)' -o $@ ./firmware

# One static binary per board profile; the profile's GO* variables pick the
# target, its GCFLAGS (comma-separated) replace the default ones. The board
# name is stamped too, so `lobby version` tells them apart.
cross: $(BOARDS:%=build/%/lobby)

# $(call board-build,LDFLAGS): the recipe of both rules below.
define board-build
@GCFLAGS='$(GCFLAGS)' && set -a && . board/$*.conf && set +a && \
set -- && for f in $$(echo "$$GCFLAGS" | tr , ' '); do set -- "$$@" "-gcflags=$$f"; done && \
GOOS=linux $(GO) build -tags '$(GOTAGS)'$${TAGS:+,$$TAGS} "$$@" -trimpath -ldflags '$(1) -X main.board=$*' -o $@ ./firmware && \
echo "built $@ ($$GOARCH$${GOMIPS:+ $$GOMIPS}$${GOARM:+ GOARM=$$GOARM})"
endef

build/%/lobby: FORCE
	$(call board-build,$(LDFLAGS))

# The same code with its symbol table, for scripts/footprint.sh (make
# picks this rule for build/footprint/BOARD/lobby: its stem is shorter).
build/footprint/%/lobby: FORCE
	$(call board-build,$(LDVARS))

# Per board: stripped and xz -9 size, the board's budget (flash: xz -9;
# appliance: RAM, the unpacked initramfs of make image) and the margin.
size: cross
	@scripts/size.sh

# What each subsystem costs per OpenWrt board, from symbol sizes
# (docs/openwrt.md, Footprint).
footprint:
	@scripts/footprint.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./...

# The unit tests run every fuzz target's corpus, its seeds and the inputs
# kept in testdata/fuzz, as ordinary tests: the same commit is always green
# or always red. Exploring for new inputs is make fuzz, never make test.
unit:
	$(GO) test -count=1 ./...

# Run before you stop. A finding is fixed, and its input (which go test
# wrote to the package's testdata/fuzz) kept and committed with the fix.
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

test: deps lint unit cross-test e2e openwrt-test boot-test

# OpenWrt (docs/openwrt.md): an .ipk per board from the cross builds, and a
# sysupgrade image through the board's Image Builder:
#   make firmware BOARD=ath79 IB=/path/to/openwrt-imagebuilder-…
# OpenWrt boards are the profiles with an OPENWRT_ARCH.
OPENWRT_BOARDS = $(basename $(notdir $(shell grep -l '^OPENWRT_ARCH=' board/*.conf)))

package: $(OPENWRT_BOARDS:%=build/%/lobby)
	@for b in $(OPENWRT_BOARDS); do scripts/package.sh $$b || exit 1; done

firmware:
	@grep -qs '^OPENWRT_TARGET=' "board/$(BOARD).conf" || { echo "make firmware: set BOARD to one of: $(OPENWRT_BOARDS), and IB to its Image Builder" >&2; exit 2; }
	@$(MAKE) --no-print-directory build/$(BOARD)/lobby
	IB="$(IB)" scripts/firmware.sh $(BOARD)

# The OpenWrt package's tests, and the .ipk of every board as make package
# built it from the real cross builds.
openwrt-test: package
	LOBBY_BUILT=1 $(GO) test -count=1 ./openwrt/

# The appliance image (docs/appliance.md): Debian's kernel and an initramfs
# whose whole userland is lobby as PID 1; for x86-64 also a bootable disk.
#   make image BOARD=appliance-x86_64   (appliance-armhf, appliance-mipsel)
# Without BOARD, every appliance profile; each must fit its RAM_BUDGET (the
# initramfs lives in RAM). boot-test boots each under qemu as
# the router of a lab and walks a client through it (root, minutes).
APPLIANCE_BOARDS = $(basename $(notdir $(wildcard board/appliance-*.conf)))

image:
	@for b in $(or $(BOARD),$(APPLIANCE_BOARDS)); do scripts/image.sh $$b && scripts/size.sh ram $$b || exit 1; done

boot-test: deps image
	scripts/boot-test.sh $(BOARD)

demo: deps
	scripts/demo.sh

# The Debian packages the lab and the tests drive (installed only if missing).
deps:
	@scripts/deps.sh

# Side-by-side benchmarks against the peers (root; about 35 minutes):
# docs/BENCHMARKS.md and its plots in docs/bench/
bench: deps
	scripts/bench/run.sh

lab-up:
	scripts/lab.sh up
lab-down:
	scripts/lab.sh down

clean:
	rm -rf bin build
