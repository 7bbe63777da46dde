# weft - build, test, install.
#
#   make            build/libweft.a, build/libweft.so, build/weft, build/toml-decode
#   make check      build and run every test (ends with "N passed, N failed")
#   make asan       the whole suite under AddressSanitizer + UBSan (build/asan/);
#                   PYTHONMALLOC=malloc, so that LeakSanitizer sees the pointers
#                   the embedded CPython keeps (its own arenas are not scanned,
#                   and every object of the never-finalized interpreter would
#                   be reported as leaked)
#   make tsan       the whole suite under ThreadSanitizer (build/tsan/)
#   make faults     the fault-injection suite (tests/faults/, scripts/faults): failed
#                   store writes, kill -9, broker restarts, malformed messages
#   make fuzz       libFuzzer target for the TOML parser (clang), FUZZ_SECONDS=60 to run it
#   make demo       install missing dependencies, build, run the example pipeline
#   make bench      benchmarks (bench/)
#   make install    PREFIX=/usr/local DESTDIR=
#
# Dependencies are found with pkg-config; scripts/install-deps installs the
# Debian packages that are missing.

CC      ?= cc
BUILD   ?= build
PREFIX  ?= /usr/local
SAN     ?=
OPT     ?= -O2
PKGS    := jansson sqlite3 librabbitmq python3-embed

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# Python task functions embed the Python of python3-embed: its prefix is the
# home of its standard library (src/util/defaults.h).
PY_HOME    := $(shell pkg-config --variable=prefix python3-embed 2>/dev/null)
PKG_CFLAGS += $(if $(PY_HOME),-DWEFT__PYTHON_HOME='"$(PY_HOME)"')
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter
CFLAGS  ?= $(OPT) -g
ALL_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(WARN) -fPIC \
              -fvisibility=hidden -Iinclude -Isrc $(PKG_CFLAGS) $(SAN) $(CFLAGS)
# Task modules (tests/apps, examples) are built as users build theirs: default
# visibility, so dlsym() finds their functions, and no sanitizer: libweft,
# which they call, is instrumented, and a module built for TSan cannot be
# dlopen()ed (static TLS).  The example modules live in the source tree,
# shared by every build variant, so they must be the same in all of them.
MOD_CFLAGS := $(filter-out -fvisibility=hidden $(SAN),$(ALL_CFLAGS))
LDLIBS  := $(PKG_LIBS) -lpthread -ldl -lm

LIB_DIRS := util toml config job store exec standalone cluster core
LIB_SRC  := $(sort $(foreach d,$(LIB_DIRS),$(wildcard src/$(d)/*.c)))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
APP_SRC  := $(sort $(wildcard tests/apps/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TESTS    := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
APPS     := $(APP_SRC:tests/apps/%.c=$(BUILD)/tests/apps/%.so)
DECODER  := $(if $(wildcard tests/toml/decoder.c),$(BUILD)/toml-decode)
TOOLS    := $(patsubst tests/toml/%.c,$(BUILD)/tests/toml-%,$(filter-out tests/toml/decoder.c,$(wildcard tests/toml/*.c)))

.PHONY: all check faults asan tsan fuzz demo bench install uninstall clean deps tests examples
.DEFAULT_GOAL := all
.SECONDEXPANSION:
.SECONDARY:

all: $(BUILD)/libweft.a $(BUILD)/libweft.so $(BUILD)/weft $(DECODER) examples

$(BUILD)/obj/%.o: %.c include/weft.h $(wildcard src/*/*.h) $(wildcard tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libweft.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libweft.so: $(LIB_OBJ)
	$(CC) -shared $(SAN) -o $@ $^ $(LDLIBS)

# The command links the static library so it runs from the build tree.
# -rdynamic lets task modules loaded with dlopen() call back into libweft.
$(BUILD)/weft: $(CLI_OBJ) $(BUILD)/libweft.a
	$(CC) $(SAN) -rdynamic -o $@ $(CLI_OBJ) -Wl,--whole-archive $(BUILD)/libweft.a -Wl,--no-whole-archive $(LDLIBS)

$(BUILD)/toml-decode: $(BUILD)/obj/tests/toml/decoder.o $(BUILD)/libweft.a
	$(CC) $(SAN) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/toml-%: $(BUILD)/obj/tests/toml/%.o $(BUILD)/libweft.a
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/test_%: $(BUILD)/obj/tests/test_%.o $(BUILD)/obj/tests/harness.o $(BUILD)/libweft.a
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -rdynamic -o $@ $(filter %.o,$^) -Wl,--whole-archive $(BUILD)/libweft.a -Wl,--no-whole-archive $(LDLIBS)

# Task modules used by the tests: shared objects loaded at run time.
$(BUILD)/tests/apps/%.so: tests/apps/%.c include/weft.h
	@mkdir -p $(dir $@)
	$(CC) $(MOD_CFLAGS) -shared -o $@ $<

# Example applications: each examples/NAME/*.c becomes examples/NAME/NAME.so
# beside its config.toml, where the config's function = "NAME.fn:function"
# finds it.
EXAMPLE_DIRS := $(patsubst %/,%,$(sort $(dir $(wildcard examples/*/*.c))))
EXAMPLE_SOS  := $(foreach d,$(EXAMPLE_DIRS),$(d)/$(notdir $(d)).so)
examples: $(EXAMPLE_SOS)
examples/%.so: $$(wildcard $$(dir $$@)*.c) include/weft.h
	$(CC) $(MOD_CFLAGS) -shared -o $@ $(filter %.c,$^)
tests: all $(TESTS) $(APPS) $(TOOLS)

deps:
	@scripts/install-deps

check: deps
	@$(MAKE) --no-print-directory tests
	@scripts/run-tests $(BUILD)

asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" tests
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	    PYTHONMALLOC=malloc \
	    TEST_TIMEOUT_SCALE=3 scripts/run-tests build/asan

tsan: deps
	@$(MAKE) --no-print-directory BUILD=build/tsan OPT=-O1 \
	    SAN="-fsanitize=thread -fno-omit-frame-pointer" tests
	@TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" TEST_TIMEOUT_SCALE=5 \
	    scripts/run-tests build/tsan

# The fault-injection suite: a driver linked with libweft (it arms the
# store's fault hook, weft__store_fault_arm()) and the task module it runs.
faults: deps
	@$(MAKE) --no-print-directory all $(BUILD)/faults/faults $(BUILD)/faults/faultfns.so
	@scripts/faults $(BUILD)

$(BUILD)/faults/faults: $(BUILD)/obj/tests/faults/faults.o $(BUILD)/libweft.a
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -rdynamic -o $@ $< -Wl,--whole-archive $(BUILD)/libweft.a -Wl,--no-whole-archive $(LDLIBS)

$(BUILD)/faults/faultfns.so: tests/faults/faultfns.c include/weft.h
	@mkdir -p $(dir $@)
	$(CC) $(MOD_CFLAGS) -shared -o $@ $<

FUZZ_SECONDS ?= 0
fuzz:
	@mkdir -p $(BUILD)/fuzz
	clang -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O1 -Iinclude -Isrc \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o $(BUILD)/fuzz/fuzz_toml fuzz/fuzz_toml.c src/toml/toml.c src/toml/toml_value.c src/util/error.c src/util/util.c
	@if [ "$(FUZZ_SECONDS)" -gt 0 ]; then \
	    mkdir -p $(BUILD)/fuzz/corpus && \
	    $(BUILD)/fuzz/fuzz_toml -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	        -print_final_stats=1 $(BUILD)/fuzz/corpus ../shared/toml-test/valid ../shared/toml-test/invalid \
	        $(wildcard fuzz/corpus); \
	fi

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo $(BUILD)

bench: deps
	@$(MAKE) --no-print-directory all
	@scripts/bench $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 644 include/weft.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/libweft.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libweft.so $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/weft $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@PKGS@|$(PKGS)|g' weft.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/weft.pc
	install -m 644 docs/weft.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 docs/weft-config.5 $(DESTDIR)$(PREFIX)/share/man/man5/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/include/weft.h $(DESTDIR)$(PREFIX)/lib/libweft.a \
	    $(DESTDIR)$(PREFIX)/lib/libweft.so $(DESTDIR)$(PREFIX)/bin/weft \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig/weft.pc $(DESTDIR)$(PREFIX)/share/man/man1/weft.1 \
	    $(DESTDIR)$(PREFIX)/share/man/man5/weft-config.5

clean:
	rm -rf build $(EXAMPLE_SOS)
