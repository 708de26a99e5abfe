# Benchmarks for the issue "Measure and minimise cold start, critical path,
# size and memory". The Makefile includes this file (-include bench.mk); it
# also works alone: make -f bench.mk bench.
#
#   make bench                                   # regenerates BENCHMARKS.md
#   make bench BENCH_FLAGS='-starts 40 -creates 500'
#
# The report is a program, not a test: it never fails on a slow number, only
# when something could not be measured (it then says what in BENCHMARKS.md
# and exits non-zero).

ifndef BENCH_MK_INCLUDED
BENCH_MK_INCLUDED := 1

# Alone (make -f bench.mk), take the tool targets and variables from the
# Makefile.
ifndef VENV
include $(dir $(lastword $(MAKEFILE_LIST)))Makefile
endif

BENCH_FLAGS ?=
# The report and the bootstraps it runs under the emulator are compiled with
# the same flags (those of the Lambda build), so that on a cold build cache
# the dependencies compile once for this machine.
BENCH_GOFLAGS := -trimpath -tags=lambda.norpc,grpcnotrace

.PHONY: bench

bench: venv $(RIE) $(LS_VENV)/.installed ## zip size, cold start, warm critical path, CPU and memory per create, beside a reference; sync throughput beside Label Studio's S3 sync; writes BENCHMARKS.md
	@start=$$(date +%s); \
	MOTO_SERVER=$(CURDIR)/$(VENV)/bin/moto_server AWS_LAMBDA_RIE=$(RIE) $(GO) run $(BENCH_GOFLAGS) ./bench/cmd/report $(BENCH_FLAGS); \
	status=$$?; echo "make bench: $$(( $$(date +%s) - start )) s"; exit $$status

endif
