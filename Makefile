# Mizzen: every target first makes sure the Debian packages it needs are installed.
SHELL := /bin/bash
SWIFT ?= swift
PACKAGES := libpcre2-dev libyaml-dev libssl-dev libnghttp2-dev openssl curl nghttp2-client python3 pkg-config prometheus iptables iproute2 python3-yaml podman runc debootstrap
CONFIG ?= Gateways/bookinfo
# Release builds as shipped (the Containerfile's): the Swift runtime linked statically (direct
# calls to retain/release, fewer resident pages) and exclusivity checks off in every module,
# the dependencies' too (Package.swift can only turn them off for Mizzen's own targets).
RELEASE := -c release --static-swift-stdlib -Xswiftc -enforce-exclusivity=unchecked
# The container image (README "Container image"): the name and tag `make image` and
# `make image-test` produce, which Gateways/kubernetes refers to; podman or docker, whichever is
# installed. Podman gets scripts/containers.conf (runc, cgroupfs) when runc is there.
VERSION ?= 0.1.0
IMAGE ?= localhost/mizzen:$(VERSION)
CONTAINER_ENGINE ?= $(shell command -v podman 2>/dev/null || command -v docker 2>/dev/null)

.PHONY: build run test bench deps pydeps clean image image-test

deps:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing </dev/null; \
	  else \
	    echo "missing Debian packages; run:"; echo "  sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

build: deps
	$(SWIFT) build --product mizzen

run: build
	@bin=$$($(SWIFT) build --show-bin-path)/mizzen; set -e; \
	echo "== mizzen validate $(CONFIG)"; $$bin validate $(CONFIG); echo; \
	echo "== mizzen demo (Bookinfo stand-ins + the gateway; Ctrl-C stops)"; \
	exec $$bin demo --config $(CONFIG)

# Python peers of the end-to-end tests (grpcio client/server, h2 for the rapid-reset flood).
pydeps:
	@python3 -c "import grpc, h2, kubernetes, jsonpatch" 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check -r Tests/MizzenSystemTests/Peers/requirements.txt </dev/null

# The suite takes 7-17 minutes. TEST_TIMEOUT (seconds) stops a run that hangs, printing what
# was still running, rather than leaving CI's own limit to cut it off with nothing said.
TEST_TIMEOUT ?= 3000

test: deps pydeps
	$(SWIFT) build --build-tests
	scripts/with-deadline.sh $(TEST_TIMEOUT) $(SWIFT) test --skip-build

# BENCH=proxies (default): the side-by-side benchmark of Bench/README.md (Mizzen against Envoy,
# nginx, HAProxy and direct-to-upstream; about 13 minutes, results in Bench/results/latest.md);
# BENCH=micro: the Swift routing and config-load benchmarks; BENCH=all: both. RUNS, DURATION,
# CASES, TARGETS, MIZZEN... pass through to Bench/run.py (python3 Bench/run.py --help).
bench: deps
	@set -e; what="$(BENCH)"; what=$${what:-proxies}; \
	case "$$what" in proxies|micro|all) ;; *) echo "BENCH must be proxies, micro or all"; exit 2;; esac; \
	if [ "$$what" != proxies ]; then \
	  echo "== $(SWIFT) build $(RELEASE) (ConfigLoadBenchmark, RoutingBenchmark)"; \
	  $(SWIFT) build $(RELEASE) --product ConfigLoadBenchmark; \
	  $(SWIFT) build $(RELEASE) --product RoutingBenchmark; \
	  bin=$$($(SWIFT) build $(RELEASE) --show-bin-path); \
	  $$bin/ConfigLoadBenchmark; \
	  $$bin/RoutingBenchmark; \
	fi; \
	if [ "$$what" != micro ]; then \
	  echo "== $(SWIFT) build $(RELEASE) --product mizzen"; \
	  $(SWIFT) build $(RELEASE) --product mizzen; \
	  echo "== Bench/setup.sh"; \
	  bash Bench/setup.sh; \
	  echo "== Bench/run.py"; \
	  MIZZEN="$${MIZZEN:-$$($(SWIFT) build $(RELEASE) --show-bin-path)/mizzen}" python3 Bench/run.py; \
	fi

# The multi-stage build (the official Swift image, then Debian bookworm slim): needs a registry.
image:
	@engine="$(CONTAINER_ENGINE)"; \
	if [ -z "$$engine" ]; then echo "make image needs podman or docker"; exit 1; fi; \
	case "$$engine" in *podman) command -v runc >/dev/null && export CONTAINERS_CONF="$(CURDIR)/scripts/containers.conf";; esac; \
	set -x; "$$engine" build -f Containerfile -t "$(IMAGE)" --build-arg VERSION="$(VERSION)" \
	  --build-arg REVISION="$$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
	  --build-arg SOURCE="$$(git remote get-url origin 2>/dev/null || echo NOASSERTION)" .

# The runtime stage from this machine's release build on a Debian base made with debootstrap
# (no registry), run in a pod's network namespace with the Bookinfo stand-ins and checked.
image-test: deps
	$(SWIFT) build $(RELEASE) --product mizzen
	bash scripts/image-test.sh --binary "$$($(SWIFT) build $(RELEASE) --show-bin-path)/mizzen" --image "$(IMAGE)" --version "$(VERSION)"

clean:
	rm -rf .build
