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

GOFLAGS_LAMBDA := -tags lambda.norpc -trimpath -ldflags "-s -w -X main.version=$(VERSION)"
FUNCTIONS := create-storage
FUZZTIME  ?= 10s

export MOTO_SERVER := $(CURDIR)/$(VENV)/bin/moto_server
export AWS_LAMBDA_RIE := $(RIE)

.PHONY: help venv tools build run invoke test unit lint cfn-lint compat fuzz bench load clean \
	build-CreateStorageFunction

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed ## the pinned Python tools (moto, cfn-lint, label-studio-sdk) in .venv

$(RIE):
	GOBIN=$(TOOLS) $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

$(STATICCHECK):
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

tools: venv $(RIE) $(STATICCHECK) ## everything the tests need

build: ## linux/arm64 bootstrap per function, in build/<function>/
	@for f in $(FUNCTIONS); do \
		GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(GOFLAGS_LAMBDA) -o build/$$f/bootstrap ./functions/$$f || exit 1; \
		echo "build/$$f/bootstrap"; \
	done

# Called by `sam build` (BuildMethod: makefile) with ARTIFACTS_DIR set.
build-CreateStorageFunction:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(GOFLAGS_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/create-storage

run: venv ## the service on a local AWS emulator, on 127.0.0.1:$${PORT:-8080}
	$(GO) run ./cmd/localapi

invoke: venv $(RIE) ## run events/<file>.json through the real bootstrap under the Lambda RIE: make invoke EVENT=events/http-create-pat.json
	@test -n "$(EVENT)" || { echo "usage: make invoke EVENT=events/<file>.json"; exit 2; }
	$(GO) run ./cmd/invoke -event $(EVENT)

lint: $(STATICCHECK) ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

cfn-lint: venv ## lint template.yaml
	$(VENV)/bin/cfn-lint template.yaml

unit: tools ## the Go test suite (unit, moto integration, RIE, label-studio-sdk compatibility)
	$(GO) test -count=1 -timeout 20m ./...

test: tools lint cfn-lint unit ## the whole suite
	@echo "make test: all checks passed"

clean: ## remove build outputs and installed tools
	rm -rf build .tools $(VENV) .aws-sam
-include bench.mk
