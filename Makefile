# bellsync: `make demo` runs a real sync between the bundled emulators;
# `make test` is what CI runs.
GO          ?= go
BIN         := bin/bellsync

.PHONY: build test vet staticcheck unit demo demo-full bench fmt clean

build:
	$(GO) build -o $(BIN) ./cmd/bellsync

vet:
	$(GO) vet ./...

# staticcheck is installed into GOPATH/bin on first use, at a pinned version.
staticcheck:
	@command -v staticcheck >/dev/null 2>&1 || test -x "$$($(GO) env GOPATH)/bin/staticcheck" || \
		$(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" staticcheck ./...

unit:
	$(GO) test -race -count=1 -timeout 30m ./...

test: vet staticcheck unit
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed on:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

demo: build
	./examples/demo/run.sh

# The full mission: two-way contacts, tasks and notes, welcome tasks, and an
# edit made through the Paperbell emulator's API carried over to GHL.
demo-full: build
	./examples/full/run.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin examples/demo/.bellsync
