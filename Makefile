# Entry points. `sudo make run` = the main job on the default topology; `sudo make test` = every test.
# Root is needed for debootstrap (offline images) and for docker on most machines.
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
BIN := bin/meshconform
E2E_TIMEOUT ?= 80m

.PHONY: build run test unit e2e images deps clean
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo unknown)

build:
	$(GO) build -ldflags "-X main.buildVersion=$(VERSION)" -o $(BIN) ./cmd/meshconform

run: build deps
	$(BIN) run

unit:
	$(GO) vet ./...
	$(GO) test ./...

# The offline image kit needs debootstrap; on Debian/Ubuntu it is installed when missing.
deps:
	@command -v debootstrap >/dev/null || command -v /usr/sbin/debootstrap >/dev/null || \
		{ echo "installing debootstrap"; apt-get install -y -qq debootstrap >/dev/null; }

# bin-helm (helm built from the module proxy) is not part of any image: the helm installer and its tests use it.
images: build deps
	$(BIN) images build
	$(BIN) images build bin-helm

# e2e specs need docker and build the offline images they use first (seconds when up to date). -p 1: the
# packages create clusters with the same names and share 2 cores.
e2e: images
	$(GO) test -tags e2e -p 1 -timeout $(E2E_TIMEOUT) -count=1 -v ./e2e/... -args -ginkgo.v

# Images first, so the unit tests that render Istio's charts with helm find the kit's helm instead of skipping.
test: images unit e2e

clean:
	rm -rf bin
