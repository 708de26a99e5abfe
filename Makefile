# Every target installs what it needs: a fresh machine needs only Go and Python 3.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO        ?= go
PYTHON    ?= python3
VENV      := .venv
TOOLS     := $(CURDIR)/.tools/bin
RIE       := $(TOOLS)/aws-lambda-rie
STATICCHECK := $(TOOLS)/staticcheck
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
STATICCHECK_VERSION := v0.6.1
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

GOFLAGS_LAMBDA := -tags lambda.norpc,grpcnotrace -trimpath -ldflags "-s -w -X main.version=$(VERSION)"
FUNCTIONS := create-storage manage-storage sweep files
# Fuzz targets as package:FuzzName; `make test` runs each briefly, `make fuzz` longer.
FUZZ_TARGETS := ./internal/storage:FuzzDecodeRequest ./internal/eventsource:FuzzDispatch
FUZZTIME  ?= 2m
TEST_FUZZTIME ?= 10s

export MOTO_SERVER := $(CURDIR)/$(VENV)/bin/moto_server
export AWS_LAMBDA_RIE := $(RIE)

.PHONY: help venv labelstudio tools chromium build run invoke sam-local sam-local-packages test unit contract lint cfn-lint fuzz fuzz-short load clean \
	build-CreateStorageFunction build-ManageStorageFunction build-SweepFunction
.PHONY: help venv tools chromium build run invoke sam-local sam-local-packages test unit contract lint cfn-lint fuzz fuzz-short load clean \
	build-CreateStorageFunction build-ManageStorageFunction build-SweepFunction build-FilesFunction build-SyncWorkerFunction build-ExportWriterFunction

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/bin/pip:
	$(PYTHON) -m venv $(VENV)

# The local commands need moto only; the test tools come on top of it.
$(VENV)/.moto: requirements-run.txt | $(VENV)/bin/pip
	@echo "Installing moto (the local AWS emulator) into $(VENV); the first time takes a minute or two."
	$(VENV)/bin/pip install --disable-pip-version-check --progress-bar on -r requirements-run.txt
	touch $@

$(VENV)/.installed: requirements-dev.txt $(VENV)/.moto
	@echo "Installing the test tools (cfn-lint, label-studio-sdk) into $(VENV)."
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Label Studio OSS (make run, make test) in its own virtualenv, installed
# with uv (pinned): it resolved and installed label-studio's ~150 packages
# several times faster than pip here (README, Label Studio mode).
LS_VENV := .venv-ls
UV_VERSION := 0.13.9

$(LS_VENV)/.installed: requirements-labelstudio.txt
	@echo "Installing Label Studio (requirements-labelstudio.txt) into $(LS_VENV) with uv $(UV_VERSION): about 2 minutes the first time."
	test -x $(LS_VENV)/bin/python || $(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/pip install --disable-pip-version-check --quiet uv==$(UV_VERSION)
	$(LS_VENV)/bin/uv pip install --python $(LS_VENV)/bin/python -r requirements-labelstudio.txt
	touch $@

labelstudio: $(LS_VENV)/.installed ## Label Studio OSS (pinned) in .venv-ls, for make run and make test

venv: $(VENV)/.installed ## the pinned Python tools (moto, cfn-lint, label-studio-sdk) in .venv

$(RIE):
	GOBIN=$(TOOLS) $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

$(STATICCHECK):
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# Debian's Chromium for the browser test (internal/dev/browser, driven by
# chromedp): no browser download is possible here, the distribution's is.
chromium:
	@command -v chromium >/dev/null || { \
		test "$$(id -u)" = 0 || { echo "the browser test needs Debian's chromium: apt-get install chromium (as root)"; exit 1; }; \
		echo "Installing Debian's chromium (the browser test)."; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }

tools: venv $(RIE) $(STATICCHECK) chromium ## everything the tests need

build: ## linux/arm64 bootstrap per function, in build/<function>/
	@for f in $(FUNCTIONS); do \
		GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(GOFLAGS_LAMBDA) -o build/$$f/bootstrap ./functions/$$f || exit 1; \
		echo "build/$$f/bootstrap"; \
	done

# Called by `sam build` (BuildMethod: makefile) with ARTIFACTS_DIR set.
build-CreateStorageFunction:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(GOFLAGS_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/create-storage

build-ManageStorageFunction:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(GOFLAGS_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/manage-storage

build-SweepFunction:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(GOFLAGS_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/sweep

build-FilesFunction:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(GOFLAGS_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/files

build-SyncWorkerFunction:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(GOFLAGS_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/sync-worker

build-ExportWriterFunction:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(GOFLAGS_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/export-writer

# The local commands are built, then run (not `go run`, which exits 1 when
# Ctrl+C reaches it, whatever the program does): Ctrl+C ends `make run`
# with status 0 once the server has shut down cleanly.
LOCALBIN := build/local

# make run starts Label Studio OSS from .venv-ls unless LABEL_STUDIO=off
# (the standalone service) or LABEL_STUDIO_URL names one.
RUN_DEPS := $(VENV)/.moto
ifeq ($(LABEL_STUDIO)$(LABEL_STUDIO_URL),)
RUN_DEPS += $(LS_VENV)/.installed
endif

run: $(RUN_DEPS) ## Label Studio and the service behind one address, 127.0.0.1:PORT (default 8080); LABEL_STUDIO=off: the service alone
	@echo "Building $(LOCALBIN)/localapi (a minute or two the first time: Go compiles the AWS and Databricks SDKs)."
	@$(GO) build -o $(LOCALBIN)/localapi ./internal/dev/cmd/localapi
	$(LOCALBIN)/localapi

invoke: $(VENV)/.moto $(RIE) ## run events/<file>.json through the function's bootstrap under the Lambda RIE: make invoke EVENT=events/http-create-pat.json [REPEAT=2]
	@test -n "$(EVENT)" || { echo "usage: make invoke EVENT=events/<file>.json [REPEAT=n]"; exit 2; }
	@echo "Building $(LOCALBIN)/invoke."
	@$(GO) build -o $(LOCALBIN)/invoke ./internal/dev/cmd/invoke
	$(LOCALBIN)/invoke -event $(EVENT) -version $(VERSION) -repeat $(or $(REPEAT),1)

# make sam-local: the real SAM CLI end to end (opt-in, not part of make test;
# root, a few minutes). The SAM CLI has its own virtualenv: its pins
# (requirements-sam.txt) conflict with the test tools'.
SAM_VENV := .venv-sam

$(SAM_VENV)/.installed: requirements-sam.txt
	@echo "Installing the AWS SAM CLI into $(SAM_VENV); the first time takes a minute or two."
	test -x $(SAM_VENV)/bin/pip || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --disable-pip-version-check --progress-bar on -r requirements-sam.txt
	touch $@

# Debian's Docker engine, and qemu-user-static for running arm64 containers
# on another architecture.
sam-local-packages:
	@test "$$(id -u)" = 0 || { echo "make sam-local needs root (Docker engine, binfmt_misc, apt-get)"; exit 1; }
	@missing=""; 	command -v dockerd >/dev/null && command -v docker >/dev/null || missing="$$missing docker.io"; 	command -v update-binfmts >/dev/null && ls /usr/libexec/qemu-binfmt/ 2>/dev/null | grep -q . || missing="$$missing qemu-user-static binfmt-support"; 	if [ -n "$$missing" ]; then 		echo "Installing Debian packages:$$missing"; 		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; 	fi

sam-local: $(VENV)/.moto $(SAM_VENV)/.installed sam-local-packages ## sam build, every events/ file through sam local invoke and three calls through sam local start-api, against moto (opt-in; root; HOLD=1 keeps it up)
	@echo "Building $(LOCALBIN)/samlocal."
	@$(GO) build -o $(LOCALBIN)/samlocal ./internal/dev/cmd/samlocal
	$(LOCALBIN)/samlocal $(if $(HOLD),-hold)

lint: $(STATICCHECK) ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags integration ./...
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags integration ./...

cfn-lint: venv ## lint template.yaml
	$(VENV)/bin/cfn-lint template.yaml

unit: tools $(LS_VENV)/.installed ## the Go test suite: unit tests with -race (Go alone), then moto, RIE, Label Studio and label-studio-sdk tests (tag integration)
	$(GO) test -race -count=1 ./...
	@# One Label Studio for the whole integration run (withls starts and stops it).
	@$(GO) build -o $(LOCALBIN)/withls ./internal/dev/cmd/withls
	$(LOCALBIN)/withls -- $(GO) test -tags integration -count=1 -timeout 30m -skip '^(TestRandomisedFaults|TestSyncFaultRun)$$' ./...
	@# The sync's fault run against the real parts on its own, verbose, so its fault counts are printed
	@# (its in-memory namesake in internal/core ran with -race above). SYNC_FAULT_SEED=n replays seed n.
	$(LOCALBIN)/withls -- $(GO) test -tags integration -count=1 -timeout 10m -run '^TestSyncFaultRun$$' -v ./internal/dev/syncfaults
	@# The randomised fault run on its own, verbose, so its counts are printed.
	set -o pipefail; $(GO) test -tags integration -count=1 -timeout 20m -run '^TestRandomisedFaults$$' -v ./internal/app \
		| grep -E '^(randomised faults|=== RUN|--- |PASS|FAIL|ok|\s+random_test)'

contract: venv ## schemathesis against the local API and openapi/openapi.yaml: fails on a 5xx, an answer off the document, a secret in an answer
	CONTRACT_TEST=1 $(GO) test -tags integration -count=1 -timeout 10m -run '^TestContractWithSchemathesis$$' -v ./internal/dev/e2e

fuzz: ## run every fuzz target for FUZZTIME (default 2m)
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} ($${t%%:*}) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) $${t%%:*} || exit 1; \
	done

fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(TEST_FUZZTIME)

load: $(VENV)/.moto ## 5,000 creates at concurrency 32 against the local API; prints errors, unique ids, secrets, records
	$(GO) run ./internal/dev/cmd/load -n $${N:-5000} -c $${C:-32}

test: tools lint cfn-lint unit fuzz-short contract ## the whole suite
	@echo "make test: all checks passed"

clean: ## remove build outputs and installed tools
	rm -rf build .tools $(VENV) $(SAM_VENV) .aws-sam
-include bench.mk
