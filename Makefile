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
#   make fuzz       libFuzzer targets for the TOML parser and the web router (clang),
#                   FUZZ_SECONDS=60 to run each for 60 s
#   make demo       install missing dependencies, build, run the example pipeline
#   make bench      benchmarks (bench/)
#   make install    PREFIX=/usr/local DESTDIR=
#                   SYSTEMD=1 also installs the systemd units of contrib/systemd/
#                   (weft-worker@.service, weft-fleet.service and .timer) in
#                   $(PREFIX)/lib/systemd/system, and weft-fleet in $(PREFIX)/lib/weft
#
# Dependencies are found with pkg-config; scripts/install-deps installs the
# Debian packages that are missing.

CC      ?= cc
BUILD   ?= build
PREFIX  ?= /usr/local
SYSTEMD ?=
SAN     ?=
OPT     ?= -O2
PKGS    := jansson sqlite3 librabbitmq openssl libmicrohttpd libgvc python3-embed libpq

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

LIB_DIRS := util toml config job store exec standalone cluster core web
LIB_SRC  := $(sort $(foreach d,$(LIB_DIRS),$(wildcard src/$(d)/*.c)))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
APP_SRC  := $(sort $(wildcard tests/apps/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/src/web/embed.o
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

# The page's files, embedded by the assembler (.incbin, paths from the top).
$(BUILD)/obj/src/web/embed.o: src/web/embed.S $(wildcard src/web/assets/*)
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@

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
tests: all $(TESTS) $(APPS) $(TOOLS) $(BUILD)/faults/faults $(BUILD)/faults/faultfns.so

deps:
	@scripts/install-deps

check: deps
	@$(MAKE) --no-print-directory tests
	@scripts/run-tests $(BUILD)

asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" tests
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	    LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	    PYTHONMALLOC=malloc \
	    TEST_TIMEOUT_SCALE=3 scripts/run-tests build/asan

# die_after_fork=0: TSan marks every descendant of a process forked while
# it had other threads, and kills it when it starts a thread.  weft forks
# only from its single-threaded fork server, but test_pool starts a pool
# from a thread on purpose (the fork server then comes from a two-thread
# process), and each worker starts its output reader thread.
tsan: deps
	@$(MAKE) --no-print-directory BUILD=build/tsan OPT=-O1 \
	    SAN="-fsanitize=thread -fno-omit-frame-pointer" tests
	@TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 die_after_fork=0 suppressions=$(CURDIR)/tests/tsan.supp" TEST_TIMEOUT_SCALE=5 \
	    scripts/run-tests build/tsan

# The fault-injection suite (built by `make tests` too, so that a change
# that breaks it fails the build of every suite): a driver linked with libweft (it arms the
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
FUZZ_CC := clang -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O1 -Iinclude -Isrc \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
# Two targets: the TOML parser and the web view's router and query parser.
# FUZZ_SECONDS=N runs each for N seconds.
fuzz:
	@mkdir -p $(BUILD)/fuzz
	$(FUZZ_CC) -o $(BUILD)/fuzz/fuzz_toml fuzz/fuzz_toml.c src/toml/toml.c src/toml/toml_value.c src/util/error.c src/util/util.c
	$(FUZZ_CC) -o $(BUILD)/fuzz/fuzz_router fuzz/fuzz_router.c src/web/router.c src/job/status.c src/util/error.c src/util/util.c
	@if [ "$(FUZZ_SECONDS)" -gt 0 ]; then \
	    mkdir -p $(BUILD)/fuzz/corpus $(BUILD)/fuzz/corpus_router && \
	    $(BUILD)/fuzz/fuzz_toml -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	        -print_final_stats=1 $(BUILD)/fuzz/corpus ../shared/toml-test/valid ../shared/toml-test/invalid \
	        $(wildcard fuzz/corpus) && \
	    $(BUILD)/fuzz/fuzz_router -max_total_time=$(FUZZ_SECONDS) -max_len=1024 \
	        -print_final_stats=1 $(BUILD)/fuzz/corpus_router fuzz/corpus_router; \
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
ifneq ($(SYSTEMD),)
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/lib/weft
	install -m 755 contrib/systemd/weft-fleet $(DESTDIR)$(PREFIX)/lib/weft/
	install -m 644 contrib/systemd/weft-fleet.timer $(DESTDIR)$(PREFIX)/lib/systemd/system/
	for u in weft-worker@.service weft-fleet.service; do \
	    sed -e 's|/usr/local/bin/weft|$(PREFIX)/bin/weft|' \
	        -e 's|/usr/local/lib/weft/|$(PREFIX)/lib/weft/|' contrib/systemd/$$u \
	        > $(DESTDIR)$(PREFIX)/lib/systemd/system/$$u && \
	    chmod 644 $(DESTDIR)$(PREFIX)/lib/systemd/system/$$u || exit 1; \
	done
endif

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/include/weft.h $(DESTDIR)$(PREFIX)/lib/libweft.a \
	    $(DESTDIR)$(PREFIX)/lib/libweft.so $(DESTDIR)$(PREFIX)/bin/weft \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig/weft.pc $(DESTDIR)$(PREFIX)/share/man/man1/weft.1 \
	    $(DESTDIR)$(PREFIX)/share/man/man5/weft-config.5

clean:
	rm -rf build $(EXAMPLE_SOS)

# The weft Python package (docs/PYTHON.md): build/python/weft/ holds the
# package's .py files and _weft.so, the extension module over libweft,
# for /usr/bin/python3 (the Python of python3-embed; a pyenv python3 on
# PATH may be another build).  The module carries libweft's objects and
# does not link libpython: Debian's python3 has the interpreter built in,
# and a second libpython in the process would be a second interpreter.
# `make install` puts it in $(PREFIX)/lib/python3.X/dist-packages, which
# Debian's python3 searches for both /usr and /usr/local.
PY_EXT_SRC := $(sort $(wildcard python/*.c))
PY_EXT_OBJ := $(PY_EXT_SRC:%.c=$(BUILD)/obj/%.o)
PY_FILES   := $(sort $(wildcard python/weft/*.py))
PY_LIBS    := $(shell pkg-config --libs $(filter-out python3-embed,$(PKGS)) 2>/dev/null) -lpthread -ldl -lm
PY_SITE    ?= lib/python$(shell pkg-config --modversion python3-embed 2>/dev/null)/dist-packages
.PHONY: python install-python uninstall-python
all: python
python: $(BUILD)/python/weft/_weft.so $(PY_FILES:python/%=$(BUILD)/python/%)
$(PY_EXT_OBJ): ALL_CFLAGS += -I.
$(PY_EXT_OBJ): python/ext.h
$(BUILD)/python/weft/_weft.so: $(PY_EXT_OBJ) $(BUILD)/libweft.a
	@mkdir -p $(dir $@)
	$(CC) -shared $(SAN) -o $@ $(PY_EXT_OBJ) -Wl,--whole-archive $(BUILD)/libweft.a -Wl,--no-whole-archive $(PY_LIBS)
$(BUILD)/python/weft/%.py: python/weft/%.py
	@mkdir -p $(dir $@)
	cp $< $@
install: install-python
install-python: python
	install -d $(DESTDIR)$(PREFIX)/$(PY_SITE)/weft
	install -m 644 $(PY_FILES) $(DESTDIR)$(PREFIX)/$(PY_SITE)/weft/
	install -m 755 $(BUILD)/python/weft/_weft.so $(DESTDIR)$(PREFIX)/$(PY_SITE)/weft/
uninstall: uninstall-python
uninstall-python:
	rm -rf $(DESTDIR)$(PREFIX)/$(PY_SITE)/weft
