# etcdpilot. `make demo` is the main job on a fresh machine, `make test` runs
# every test against real etcd binaries (CI runs exactly `make test`).

GO       ?= go
BIN      := bin/etcdpilot
PKGS     := ./...
# Test packages each start several real clusters; two packages at a time
# keeps a 2-core machine busy without starving etcd of CPU.
TESTFLAGS ?= -p 2 -timeout 40m

.PHONY: build demo test unit etcd-binaries test-deps versitygw kubernetes lint bench clean image

build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/etcdpilot

demo: build
	$(BIN) demo

# The container image, without Docker: a static binary on an empty base
# (scripts/image, go-containerregistry), as an OCI layout and an OCI tar
# in bin/image.
VERSION  ?= $(shell sed -n 's/^var Version = "\(.*\)"/\1/p' cmd/etcdpilot/main.go)
image:
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=auto -o bin/etcdpilot-static ./cmd/etcdpilot
	SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || echo 0) $(GO) run ./scripts/image -bin bin/etcdpilot-static -version $(VERSION) \
		-revision "$$(git rev-parse HEAD 2>/dev/null)" -out bin/image

etcd-binaries: build
	./scripts/etcd-binaries.sh

test-deps:
	./scripts/test-deps.sh

versitygw:
	./scripts/versitygw.sh

kubernetes:
	./scripts/kubernetes.sh

test: test-deps etcd-binaries versitygw kubernetes
	$(GO) vet $(PKGS)
	$(GO) test $(TESTFLAGS) $(PKGS)

# Pure-logic tests only: every test that needs real etcd members skips
# itself under -short.
unit:
	$(GO) test -short $(PKGS)

lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: the files above need formatting"; exit 1; }
	$(GO) mod tidy -diff
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

clean:
	rm -rf bin
