# repli — two commands do all the set-up on a fresh Debian machine with Go:
#   make run    the demo (simulated two-site lab, no libvirt needed)
#   make test   vet + every test, including the real-libvirt and tmux ones
SHELL := /bin/bash
GO    ?= go
BIN   := bin/repli
PKGS  := ./...
# What the binary says with repli --version: set at build time, never committed.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: all build run demo test vet unit bench bench-go fmt clean deps-test

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/repli

# The demo's own exit status (1 failed drill, 3 stopped and resumable) is not
# a build error: repli has already said what happened.
run demo: build
	@./$(BIN) demo || [ $$? -le 3 ]

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet $(PKGS)

# Packages the integration tests need; installed only when missing.
deps-test:
	@missing=""; \
	command -v tmux >/dev/null || missing="$$missing tmux"; \
	command -v ssh-keygen >/dev/null || missing="$$missing openssh-client"; \
	command -v sqlite3 >/dev/null || missing="$$missing sqlite3"; \
	[ -f /usr/share/bash-completion/bash_completion ] || missing="$$missing bash-completion"; \
	command -v man >/dev/null || missing="$$missing man-db"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# Most tests wait (on daemons, guests, terminals), not compute: run more of
# them at once than there are cores (go test's default -parallel).
TEST_PARALLEL ?= 8

test: vet deps-test build
	REPLI_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -parallel $(TEST_PARALLEL) $(PKGS)

unit:
	$(GO) test -short $(PKGS)

# Speed goals are measured here, never asserted in tests: one table, every
# figure beside its anchor from the same run (docs/benchmarks.md says what
# limits each). BENCH_BIG=1: a 1,000,000-event trail; BENCH_N: repetitions;
# BENCH_ONLY=libvirt,store,trail,sim,startup,tui; BENCH_ONLY=vm (opt-in, real
# TCG guests, minutes); BENCH_VIRSH=0 skips the virsh loop.
bench: build deps-libvirt
	$(GO) run ./internal/benchtool -repli $(BIN)

# The packages' Go micro-benchmarks (ns/op of one function).
bench-go:
	$(GO) test -run '^$$' -bench . -benchtime 1s $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin dist
include $(wildcard mk/*.mk)
