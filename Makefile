# kiln — GNU Makefile.
#
#   make                      build ./kiln
#   make check                run every test (unit, conformance, integration)
#   make unit | conformance | integration   one part of it
#   make DEVELOPER=1          add -Werror
#   make SANITIZE=address,undefined   build for the sanitizers
#   make fuzz                 libFuzzer targets (clang) in out/fuzz/
#   make bench                benchmarks (bench/)
#   make format               clang-format the tree

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := jansson libarchive libcurl libcrypto libzstd zlib libseccomp libcap
# ISA-L is optional: without it gzip goes through zlib (archive/compress.c).
HAVE_ISAL := $(shell $(PKG_CONFIG) --exists libisal 2>/dev/null && echo 1)
ifeq ($(HAVE_ISAL),1)
PKGS += libisal
ISAL_CFLAGS := -DHAVE_ISAL
endif

CFLAGS ?= -O2 -g
WARNINGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wvla -Wwrite-strings -fno-common -Wno-unused-parameter
ifeq ($(DEVELOPER),1)
WARNINGS += -Werror
endif

O := out
ifdef SANITIZE
O := out/san
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS := -std=gnu11 $(WARNINGS) -Isrc $(PKG_CFLAGS) $(ISAL_CFLAGS) $(SAN_FLAGS) \
	-D_GNU_SOURCE -MMD -MP $(CFLAGS)
ALL_LDFLAGS := $(SAN_FLAGS) $(LDFLAGS)
LIBS := $(PKG_LIBS) -lpthread

LIB_SRCS := $(sort $(filter-out src/main.c,$(wildcard src/*/*.c)))
LIB_OBJS := $(LIB_SRCS:%.c=$(O)/%.o)
LIB := $(O)/libkiln.a

UNIT_SRCS := $(sort $(wildcard tests/unit/t-*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/%)
HELPER_SRCS := $(filter-out tests/helpers/faultinject.c,$(sort $(wildcard tests/helpers/*.c)))
HELPER_BINS := $(HELPER_SRCS:tests/helpers/%.c=$(O)/tests/%)
CONF_SRCS := $(sort $(wildcard tests/conformance/c-*.c))
CONF_BINS := $(CONF_SRCS:tests/conformance/%.c=$(O)/tests/%)
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz-*.c))

all: kiln

kiln: $(O)/src/main.o $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(LIB): $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/tests/%: $(O)/tests/unit/%.o $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(O)/tests/c-%: $(O)/tests/conformance/c-%.o $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# LD_PRELOAD shim failing write/fsync/rename on demand (store fault tests).
$(O)/tests/faultinject.so: tests/helpers/faultinject.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -Wall -Wextra -O2 -g -fPIC -shared -o $@ $< -ldl

# Helper programs the shell tests and benchmarks drive (not TAP tests).
$(HELPER_BINS): $(O)/tests/%: $(O)/tests/helpers/%.o $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

test-bins: kiln $(UNIT_BINS) $(CONF_BINS) $(HELPER_BINS) $(O)/tests/faultinject.so

# Every test reports TAP; tests/run-tests.sh counts and prints the summary.
check: test-bins
	@O=$(O) sh tests/run-tests.sh all

unit: $(UNIT_BINS)
	@O=$(O) sh tests/run-tests.sh unit

conformance: kiln $(CONF_BINS)
	@O=$(O) sh tests/run-tests.sh conformance

integration: kiln $(O)/tests/faultinject.so $(HELPER_BINS)
	@O=$(O) sh tests/run-tests.sh integration

# libFuzzer targets: always clang, always with ASan+UBSan.
FUZZ_FLAGS := -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer
fuzz:
	$(MAKE) CC=clang O=out/fuzz-lib SAN_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" out/fuzz-lib/libkiln.a
	@mkdir -p out/fuzz
	@for f in $(FUZZ_SRCS); do \
		n=$$(basename $$f .c); \
		echo "  FUZZ $$n"; \
		clang -std=gnu11 -D_GNU_SOURCE -Isrc -g -O1 $(FUZZ_FLAGS) \
			-o out/fuzz/$$n $$f out/fuzz-lib/libkiln.a $(LIBS) || exit 1; \
	done

bench: kiln
	sh bench/run.sh

format:
	clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h')

clean:
	rm -rf out kiln

.PHONY: all check unit conformance integration fuzz bench format clean test-bins
.SECONDARY:

-include $(shell find $(O) -name '*.d' 2>/dev/null)
