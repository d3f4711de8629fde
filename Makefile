# Entry points. `sudo make run` = the main job on the default topology; `sudo make test` = every test.
# Root is needed for debootstrap (offline images) and for docker on most machines.
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
GOFMT ?= $(dir $(GO))gofmt
BIN := bin/meshconform
E2E_TIMEOUT ?= 80m
# staticcheck, built from the Go module proxy into bin/ at this version (its go.sum pins its dependencies).
STATICCHECK_VERSION := v0.8.2
STATICCHECK := bin/staticcheck

.PHONY: build run test unit verify staticcheck e2e images deps fuzz clean engine-docker29
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo unknown)

build:
	$(GO) build -ldflags "-X main.buildVersion=$(VERSION)" -o $(BIN) ./cmd/meshconform

run: build
	$(call kit_tools,--run)
	$(BIN) run

unit:
	$(GO) vet ./...
	$(GO) test ./...

# gofmt (lists the files it would change), go vet (also of the e2e specs, behind their build tag) and staticcheck
# (configured in staticcheck.conf). sudo's PATH may lack Go's directory; staticcheck runs `go list`, so it gets it.
verify: staticcheck
	@echo "verify: gofmt"
	@unformatted=$$($(GOFMT) -l $$(find . -name '*.go' -not -path './bin/*' -not -path './_out/*' -not -path './.git/*')); \
		if [ -n "$$unformatted" ]; then echo "gofmt -l: these files are not formatted (run gofmt -w on them):"; \
		echo "$$unformatted"; exit 1; fi
	@echo "verify: go vet"
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/...
	@echo "verify: staticcheck $(STATICCHECK_VERSION)"
	PATH=$(dir $(GO)):$$PATH $(STATICCHECK) ./...
	PATH=$(dir $(GO)):$$PATH $(STATICCHECK) -tags e2e ./e2e/...

# Builds bin/staticcheck unless it is already there at STATICCHECK_VERSION (`staticcheck -version` prints
# "staticcheck 2026.2.2 (0.8.2)"). Needs only the Go module proxy.
staticcheck:
	@$(STATICCHECK) -version 2>/dev/null | grep -qF '($(STATICCHECK_VERSION:v%=%))' || { \
		echo "building staticcheck $(STATICCHECK_VERSION) into bin/"; \
		GOBIN=$(CURDIR)/bin $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); }

# Host tools the image kit still needs (debootstrap, for the offline node image's root filesystem) are installed with
# apt only when the kit says so: `meshconform images tools [--run]` prints the missing Debian packages of what would be
# built here (nothing when the kit is up to date, or for `run` when a registry answers and no offline node image is
# needed). apt-get update first: a fresh machine may have no package lists.
define kit_tools
	@pkgs="$$($(BIN) images tools $(1))" || exit 1; \
	if [ -n "$$pkgs" ]; then echo "installing $$pkgs (the image kit needs it)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkgs >/dev/null; fi
endef

# What `meshconform images build` needs (every artifact).
deps: build
	$(call kit_tools,)

# bin-helm (helm built from the module proxy) is not part of any image: the helm installer and its tests use it.
images: build deps
	$(BIN) images build
	$(BIN) images build bin-helm

# e2e specs need docker and build the offline images they use first (seconds when up to date). -p 1: the
# packages create clusters with the same names and share 2 cores.
e2e: images
	$(GO) test -tags e2e -p 1 -timeout $(E2E_TIMEOUT) -count=1 -v ./e2e/... -args -ginkgo.v

# Each fuzz target for a number of runs (go test runs one -fuzz target at a time); FUZZTIME=<N>x or a duration
# overrides them all. A crasher is written to the package's testdata/fuzz/<Target>/ and fails the run: commit it with
# the fix, and every `go test` replays it from then on. Counts, not durations: with a duration Go 1.26's coordinator
# can report "context deadline exceeded" at the deadline with no failing input (go.dev/issue/75804, fixed in 1.27); a
# count has no deadline to race. Each count is about 25 s on 2 cores (FuzzLoad writes a file per run).
FUZZTIME ?=
FUZZ_TARGETS := ./framework/topology:FuzzParse:300000x ./framework/topology:FuzzLoad:75000x ./framework/env:FuzzParse:1000000x

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; fn=$${rest%%:*}; n=$${rest#*:}; n=$${FUZZTIME:-$$n}; \
		echo "fuzz: $$fn in $$pkg for $$n"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $$n $$pkg; done

# verify first, so formatting, vet and staticcheck findings fail fast; images before the unit tests, so the ones that
# render Istio's charts with helm find the kit's helm instead of skipping.
test: verify images unit e2e

# A Docker 29 engine from pinned Go modules, for runs on the engine users run (machine setup, not part of the harness):
# builds into the content-stamped cache (seconds when up to date). Then `sudo hack/engine/docker29.sh start`, see
# README "Engines".
engine-docker29:
	GO=$(GO) hack/engine/docker29.sh build

clean:
	rm -rf bin
