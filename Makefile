# swaplab — build, test, benchmark and demo. The CPU build always works; OpenMP, OpenBLAS and CUDA
# are detected and reported. `make test` and `make demo` first install missing Debian packages
# (scripts/deps.sh), so on a fresh Debian machine each is the only command needed.
#
#   make                      build ./swaplab
#   make test                 build and run every test (tests/run.sh)
#   make test SANITIZE=address,undefined   the same under sanitizers (build-san/)
#   make valgrind             the unit tests under valgrind
#   make bench                CPU benchmarks, side by side with PyTorch (bench/run.sh)
#   make bench-cuda           GPU benchmarks (needs a GPU)
#   make demo                 the synthetic-volunteer demo end to end (writes demo-out/)
#   make fuzz                 every libFuzzer harness tests/fuzz/fuzz_*.c for FUZZ_SECONDS (60) each
#   make fuzz-build           build them (clang with libFuzzer; build-fuzz/); `make test` runs each briefly
#   Variables: CC, OPT, SANITIZE, NO_CUDA=1, NO_BLAS=1, NO_DNNL=1, NO_OMP=1, NO_MPI=1, CUDA_ARCH=90, NVCC, CUDA_LIBDIR

.DEFAULT_GOAL := all
SHELL := /bin/bash

ifdef SANITIZE
BUILD ?= build-san
NO_CUDA := 1
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD ?= build
endif

CC ?= cc
OPT ?= -O2
PKG_CONFIG ?= pkg-config

# ---- feature detection (evaluated lazily: scripts/deps.sh may install things first) ---------------
have_pkg = $(shell $(PKG_CONFIG) --exists $(1) 2>/dev/null && echo 1)
HAVE_BLAS := $(if $(NO_BLAS),,$(call have_pkg,openblas))
# oneDNN (Debian's libdnnl-dev) for the engine's GEMMs and convolutions where present: faster than OpenBLAS's
# kernels and the engine's own convolutions on the machines measured (docs/PERFORMANCE.md). Not in NO_BLAS builds (the plain C engine),
# nor in SANITIZE builds (its JIT code is not instrumented); NO_DNNL=1 leaves it out.
HAVE_DNNL := $(if $(or $(NO_DNNL),$(NO_BLAS),$(SANITIZE)),,$(shell printf '\043include <dnnl.h>\nint main(void){return dnnl_sgemm(0,0,0,0,0,0,0,0,0,0,0,0,0);}\n' | \
             $(CC) -x c - -ldnnl -o /dev/null 2>/dev/null && echo 1))
HAVE_OMP := $(if $(NO_OMP),,$(shell echo 'int main(void){return 0;}' | $(CC) -fopenmp -x c - -o /dev/null 2>/dev/null && echo 1))
# MPI (data-parallel training, docs/SCALE.md): Open MPI through pkg-config's ompi-c, else what
# `mpicc --showme` says; NO_MPI=1 builds without it.
ifndef NO_MPI
MPI_CFLAGS := $(shell $(PKG_CONFIG) --cflags ompi-c 2>/dev/null || mpicc --showme:compile 2>/dev/null)
MPI_LIBS := $(shell $(PKG_CONFIG) --libs ompi-c 2>/dev/null || mpicc --showme:link 2>/dev/null)
HAVE_MPI := $(if $(MPI_LIBS),$(shell printf '\043include <mpi.h>\nint main(void){return MPI_Init(0,0);}\n' | \
              $(CC) -x c - -o /dev/null $(MPI_CFLAGS) $(MPI_LIBS) 2>/dev/null && echo 1))
endif
NVCC ?= $(shell command -v nvcc 2>/dev/null)
CUDA_ARCH ?= 90
# CUDA needs nvcc and the runtime and cuBLAS libraries to link against: a machine with only the
# compiler (seen in CI) builds the CPU binary. CUDA_LIBDIR= overrides the search.
ifeq ($(NO_CUDA)$(if $(NVCC),,none),)
CUDA_ROOT := $(patsubst %/bin/,%,$(dir $(realpath $(NVCC))))
cuda_has_libs = $(and $(wildcard $(1)/libcudart.so),$(wildcard $(1)/libcublas.so))
ifndef CUDA_LIBDIR
CUDA_LIBDIR := $(firstword $(foreach d,$(CUDA_ROOT)/lib64 $(CUDA_ROOT)/lib $(wildcard $(CUDA_ROOT)/targets/*/lib) \
                 /usr/local/cuda/lib64 /usr/lib/x86_64-linux-gnu /usr/lib64,$(if $(call cuda_has_libs,$(d)),$(d))))
endif
HAVE_CUDA := $(if $(and $(CUDA_LIBDIR),$(call cuda_has_libs,$(CUDA_LIBDIR))),$(shell echo 'int main(void){return 0;}' | \
               $(CC) -x c - -o /dev/null -L$(CUDA_LIBDIR) -lcublas -lcudart 2>/dev/null && echo 1))
CUDA_WHY := $(if $(HAVE_CUDA),, (nvcc found, but no libcudart.so and libcublas.so that link; set CUDA_LIBDIR=))
# The CUDA headers: next to nvcc, next to the libraries, or the usual place (CI has nvcc in
# /usr/local/bin with the toolkit in /usr/local/cuda). CUDA_INCDIR= overrides the search.
CUDA_INCDIR ?= $(patsubst %/,%,$(dir $(firstword $(realpath $(wildcard $(CUDA_ROOT)/include/cuda_runtime.h \
                 $(CUDA_LIBDIR)/../include/cuda_runtime.h /usr/local/cuda/include/cuda_runtime.h)))))
# NCCL (GPU all-reduce across ranks) when the CUDA libraries ship it, its header sits with the
# CUDA headers, and MPI is there to start the ranks
HAVE_NCCL := $(if $(and $(HAVE_CUDA),$(HAVE_MPI),$(CUDA_INCDIR),$(wildcard $(CUDA_LIBDIR)/libnccl.so),$(wildcard $(CUDA_INCDIR)/nccl.h)),1)
endif

PKGS := libpng jansson libsodium stb libavformat libavcodec libswscale libavutil libcbor libcrypto libjpeg
# -fno-math-errno: no code reads errno after a math call; with it sqrtf is one instruction, so loops
# that call it (Adam) vectorize.
CFLAGS_BASE := -std=c11 $(OPT) -g -fno-math-errno -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -D_GNU_SOURCE -MMD -MP -I. \
               $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null) $(SANFLAGS)
LDLIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lm -lpthread
ifeq ($(HAVE_BLAS),1)
CFLAGS_BASE += -DSL_HAVE_BLAS $(shell $(PKG_CONFIG) --cflags openblas)
LDLIBS += $(shell $(PKG_CONFIG) --libs openblas)
endif
ifeq ($(HAVE_DNNL),1)
CFLAGS_BASE += -DSL_HAVE_DNNL
LDLIBS += -ldnnl
endif
ifeq ($(HAVE_OMP),1)
CFLAGS_BASE += -fopenmp
LDFLAGS += -fopenmp
endif
ifeq ($(HAVE_MPI),1)
CFLAGS_BASE += -DSL_HAVE_MPI $(MPI_CFLAGS)
LDLIBS += $(MPI_LIBS)
endif
ifeq ($(HAVE_NCCL),1)
CFLAGS_BASE += -DSL_HAVE_NCCL -I$(CUDA_INCDIR)
LDLIBS += -lnccl
endif
ifeq ($(HAVE_CUDA),1)
CFLAGS_BASE += -DSL_HAVE_CUDA
NVCCFLAGS ?= -O2 -std=c++17 -I. -DSL_HAVE_CUDA \
             -gencode arch=compute_$(CUDA_ARCH),code=sm_$(CUDA_ARCH) \
             -gencode arch=compute_$(CUDA_ARCH),code=compute_$(CUDA_ARCH) \
             -Xcompiler -fPIC,-Wall -MMD -MP
LDLIBS += -L$(CUDA_LIBDIR) -Wl,-rpath,$(CUDA_LIBDIR) -lcublas -lcudart -lstdc++
endif
CFLAGS := $(CFLAGS_BASE) $(EXTRA_CFLAGS)
LDFLAGS += $(SANFLAGS)

# ---- sources: every .c under the module folders (subfolders too); a new file needs no Makefile edit --------------------------
MODULES := util cli nn data model train infer dataset detect report
SRCS := $(sort $(shell find $(MODULES) -name '*.c' 2>/dev/null))
OBJS := $(SRCS:%.c=$(BUILD)/%.o)
ifeq ($(HAVE_CUDA),1)
CU_SRCS := $(wildcard nn/cuda/*.cu)
OBJS += $(CU_SRCS:%.cu=$(BUILD)/%.cu.o)
endif
TEST_SRCS := $(wildcard tests/test_*.c)
TESTS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
BENCH_SRCS := $(wildcard bench/*.c)
BENCHES := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

yes_no = $(if $(1),✓,✗)
.PHONY: all build deps deps-test deps-bench banner test test-only valgrind bench bench-cuda demo clean fuzz fuzz-build

all: deps
	@$(MAKE) --no-print-directory build

build: banner $(BUILD)/swaplab $(if $(SANITIZE),,swaplab)

banner:
	@echo "swaplab build: CUDA $(call yes_no,$(HAVE_CUDA))$(if $(HAVE_CUDA), (sm_$(CUDA_ARCH)+PTX))$(CUDA_WHY) · OpenMP $(call yes_no,$(HAVE_OMP)) · OpenBLAS $(call yes_no,$(HAVE_BLAS)) · oneDNN (sgemm, conv) $(call yes_no,$(HAVE_DNNL)) · MPI $(call yes_no,$(HAVE_MPI))$(if $(HAVE_NCCL), (NCCL))$(if $(SANITIZE), · sanitize=$(SANITIZE))"

deps:
	@bash scripts/deps.sh build
deps-test:
	@bash scripts/deps.sh build test
deps-bench:
	@bash scripts/deps.sh build test bench

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/%.cu.o: %.cu
	@mkdir -p $(@D)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

$(BUILD)/swaplab: $(BUILD)/swaplab.o $(OBJS)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

swaplab: $(BUILD)/swaplab
	@cp $< $@

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(OBJS)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(OBJS)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

test: deps-test
	@$(MAKE) --no-print-directory test-only

test-only: banner $(BUILD)/swaplab $(TESTS)
	@BUILD=$(BUILD) bash tests/run.sh

valgrind: deps-test
	@$(MAKE) --no-print-directory NO_CUDA=1 NO_DNNL=1 BUILD=build-vg OPT=-O1 banner build-vg/swaplab $(TEST_SRCS:tests/%.c=build-vg/tests/%)
	@BUILD=build-vg VALGRIND=1 bash tests/run.sh

bench: deps-bench
	@$(MAKE) --no-print-directory banner $(BUILD)/swaplab $(BENCHES)
	@BUILD=$(BUILD) bash bench/run.sh

bench-cuda: deps-bench
	@$(MAKE) --no-print-directory banner $(BUILD)/swaplab $(BENCHES)
	@BUILD=$(BUILD) bash bench/run_cuda.sh

demo: deps
	@$(MAKE) --no-print-directory build
	./swaplab demo --out demo-out

# ---- fuzzing: every tests/fuzz/fuzz_NAME.c defining LLVMFuzzerTestOneInput is a harness, seeded from
# tests/fuzz/corpus/NAME/ (new inputs go to build-fuzz/corpus/NAME/, crashes to build-fuzz/artifacts/).
# The module objects (not cli/, report/ or the cmd_*.c files) are built once with clang
# -fsanitize=fuzzer-no-link,address,undefined into an archive, so a harness links only what it
# calls. No OpenMP, BLAS or CUDA in these builds.
FUZZ_CC ?= clang
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 -O1 -g -D_GNU_SOURCE -I. -Wno-unused-command-line-argument \
               $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null) -fsanitize=fuzzer-no-link $(FUZZ_SAN)
FUZZ_LDLIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lm -lpthread
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_OBJS := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(filter-out cli/% report/% %/cmd_%.c,$(SRCS)))

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/libswaplab.a: $(FUZZ_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_BUILD)/libswaplab.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_BUILD)/libswaplab.a $(FUZZ_LDLIBS) -o $@

fuzz-build:
	@if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' | \
	    $(FUZZ_CC) -x c -fsanitize=fuzzer - -o /dev/null 2>/dev/null; then \
	  echo "fuzz: $(FUZZ_CC) with libFuzzer (-fsanitize=fuzzer) is not available: nothing built"; exit 3; fi
	@$(MAKE) --no-print-directory $(FUZZERS)

fuzz: fuzz-build
	@set -e; for f in $(FUZZERS); do n=$$(basename $$f); n=$${n#fuzz_}; \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$n $(FUZZ_BUILD)/artifacts; \
	  echo "fuzz $$n: $(FUZZ_SECONDS) s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$n- $(FUZZ_BUILD)/corpus/$$n tests/fuzz/corpus/$$n 2>&1 | \
	    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)' || true; \
	  test -z "$$(ls $(FUZZ_BUILD)/artifacts/$$n-* 2>/dev/null)" || { echo "fuzz $$n: crash, see $(FUZZ_BUILD)/artifacts/"; exit 1; }; \
	done

clean:
	rm -rf build build-san build-vg build-fuzz swaplab

.SECONDARY:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
ifneq ($(filter fuzz fuzz-build $(FUZZ_BUILD)/%,$(MAKECMDGOALS)),)
-include $(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
endif
