# Outrigger: build, test, lint, bench and demo over every module in go.work.
SHELL   := /usr/bin/env bash
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REV     := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w \
  -X github.com/prometheus/common/version.Version=$(VERSION) \
  -X github.com/prometheus/common/version.Revision=$(REV) \
  -X github.com/prometheus/common/version.Branch=main
# Every directory holding a main package: exporters/*/cmd/*, shipper/cmd/*.
CMDS    := $(wildcard exporters/*/cmd/* shipper/cmd/*)
FUZZTIME ?= 3s
TESTFLAGS ?=

# The packages whose test data meets a clock (receivers' age windows, "today",
# budget resets): run a second time with every test clock a year ahead.
# The shipper's tests against a real Loki take their times from Loki's own,
# real clock, which no shift moves: they are not run twice.
CLOCKSHIFT ?= 8760h
CLOCK_PKGS ?= exporters/litellm-cost:./... shipper:./...
CLOCK_SKIP ?= ^(TestKill9MidBatch|TestKill9TwoOutputs|TestLokiDownForMinutes|TestDockerContainers|TestCopytruncateAndGracefulStop|TestKubernetesRotationKill9)$$

.PHONY: all build test prereqs unit clockshift fuzz lint bench demo images clean

all: build

build:
	@mkdir -p bin
	@for c in $(CMDS); do \
	  mod=$${c%/cmd/*}; name=$$(basename $$c); \
	  echo "build: bin/$$name"; \
	  (cd $$mod && CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(CURDIR)/bin/$$name ./cmd/$$name) || exit 1; \
	done

## test: everything CI proves: prerequisites, lint, every module's tests with -race, the date-sensitive
## packages again with the clock a year ahead, short fuzz runs.
test: prereqs lint unit clockshift fuzz

prereqs:
	@scripts/prereqs.sh
	@scripts/loki.sh >/dev/null

unit: build
	@TESTFLAGS='$(TESTFLAGS)' scripts/unit.sh

clockshift: build
	@CLOCKSHIFT='$(CLOCKSHIFT)' CLOCK_SKIP='$(CLOCK_SKIP)' scripts/clockshift.sh $(CLOCK_PKGS)

fuzz:
	@FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

lint:
	@scripts/lint.sh

bench: build
	@bench/run.sh

demo: build prereqs
	@scripts/demo.sh

## images: every daemon's container image (needs a Docker engine), tagged outrigger/<daemon>:$(VERSION).
images:
	@for f in deploy/docker/*.Dockerfile; do \
	  name=$$(basename $$f .Dockerfile); \
	  echo "image: outrigger/$$name:$(VERSION)"; \
	  docker build -f $$f --build-arg VERSION=$(VERSION) -t outrigger/$$name:$(VERSION) -t outrigger/$$name:latest . || exit 1; \
	done

clean:
	rm -rf bin
