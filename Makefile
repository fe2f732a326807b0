# dsrd: one non-recursive Makefile. pkg-config for every library; objects in
# build/ (release) and build/asan/ (AddressSanitizer + UBSan, for tests).
#
#   make            build/dsrd and build/dsrctl
#   make run        private PostgreSQL under ./var/, dsrd in the foreground
#   make check      unit tests (cmocka) and end-to-end tests, under ASan/UBSan,
#                   and a subset of the latter under valgrind (e2e-valgrind)
#   make bench      the benchmarks of docs/performance.md (not part of check)
#   make install    PREFIX (/usr/local) and DESTDIR honoured

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
DATADIR	?= $(PREFIX)/share/dsrd
MANDIR	?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR	?= /lib/systemd/system
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d

CC	?= cc
PKG_CONFIG ?= pkg-config
PKGS	 = libevent libevent_pthreads libpq libcurl libcjson inih libsystemd libcrypto
VERSION	:= $(shell cat VERSION 2>/dev/null || echo 0.0.0)

# Recursive (=) on purpose: pkg-config runs when a recipe needs it, after
# scripts/deps has installed what was missing.
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS   = $(shell $(PKG_CONFIG) --libs $(PKGS)) -lpthread
WARN	 = -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
	   -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral
# -iquote, not -I: daemon/sched.h must not shadow <sched.h> (pthread.h).
BASEFLAGS = -std=c17 -D_GNU_SOURCE -DDSR_VERSION='"$(VERSION)"' \
	   -DDSR_TEMPLATES_DIR='"$(DATADIR)/templates"' \
	   -iquote daemon -iquote $(B)/gen $(WARN) -g -MMD -MP
REL_CFLAGS = $(BASEFLAGS) -O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2
SAN	 = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	   -fno-omit-frame-pointer
ASAN_CFLAGS = $(BASEFLAGS) -O1 $(SAN)

B	 = build
A	 = build/asan

# Every daemon module but main.c goes into a library the tests link.
CORE	 = util log proto calendar validate config lifecycle notify deadline db store control cmd \
	   cmd-request cmd-entity cmd-admin cmd-lifecycle sched \
	   audit store-admin cmd-audit \
	   store-outbox mailer outbox curlm webhook mail \
	   store-staff cmd-staff ropa store-task cmd-task store-ropa cmd-ropa
CORE_OBJ = $(CORE:%=$(B)/obj/%.o) $(B)/obj/migrations.o
CORE_AOBJ = $(CORE:%=$(A)/obj/%.o) $(A)/obj/migrations.o
CLIENT	 = util proto ropa
CTL	 = dsrctl ctl-argv ctl-conn ctl-print ctl-show ctl-ropa
UNIT	 = calendar validate proto config util db cmd deadline lifecycle audit curlm webhook mail ropa \
	   fuzz_regress

SQL	 = $(sort $(wildcard sql/*.sql))

.PHONY: all run check unit e2e install clean deps-build deps-run deps-check fuzz
.PHONY: bench deps-bench
all: $(B)/dsrd $(B)/dsrctl

$(B)/.deps-build: scripts/deps
	@scripts/deps build
	@mkdir -p $(@D) && touch $@
deps-build: $(B)/.deps-build
deps-run:
	@scripts/deps run
deps-check:
	@scripts/deps check
deps-bench:
	@scripts/deps bench

$(B)/gen/migrations.c: $(SQL) scripts/embed-sql | $(B)/.deps-build
	@mkdir -p $(@D)
	scripts/embed-sql $(SQL) > $@.tmp && mv $@.tmp $@

$(B)/obj/%.o: daemon/%.c | $(B)/.deps-build
	@mkdir -p $(@D)
	$(CC) $(REL_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<
$(B)/obj/migrations.o: $(B)/gen/migrations.c
	@mkdir -p $(@D)
	$(CC) $(REL_CFLAGS) -c -o $@ $<
$(CTL:%=$(B)/obj/%.o): $(B)/obj/%.o: clients/%.c | $(B)/.deps-build
	@mkdir -p $(@D)
	$(CC) $(REL_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(A)/obj/%.o: daemon/%.c | $(B)/.deps-build
	@mkdir -p $(@D)
	$(CC) $(ASAN_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<
$(A)/obj/migrations.o: $(B)/gen/migrations.c
	@mkdir -p $(@D)
	$(CC) $(ASAN_CFLAGS) -c -o $@ $<
$(CTL:%=$(A)/obj/%.o): $(A)/obj/%.o: clients/%.c | $(B)/.deps-build
	@mkdir -p $(@D)
	$(CC) $(ASAN_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<
$(A)/obj/test_%.o: tests/unit/test_%.c | $(B)/.deps-build
	@mkdir -p $(@D)
	$(CC) $(ASAN_CFLAGS) $(PKG_CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) -c -o $@ $<

$(B)/libdsrd.a: $(CORE_OBJ)
	rm -f $@ && ar rcs $@ $^
$(A)/libdsrd.a: $(CORE_AOBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/dsrd: $(B)/obj/main.o $(B)/libdsrd.a
	$(CC) -o $@ $^ $(PKG_LIBS) -lm
$(B)/dsrctl: $(CTL:%=$(B)/obj/%.o) $(CLIENT:%=$(B)/obj/%.o)
	$(CC) -o $@ $^ $(shell $(PKG_CONFIG) --libs libcjson)
$(A)/dsrd: $(A)/obj/main.o $(A)/libdsrd.a
	$(CC) $(SAN) -o $@ $^ $(PKG_LIBS) -lm
$(A)/dsrctl: $(CTL:%=$(A)/obj/%.o) $(CLIENT:%=$(A)/obj/%.o)
	$(CC) $(SAN) -o $@ $^ $(shell $(PKG_CONFIG) --libs libcjson)
# Each unit test links only the modules it tests (T_name), so that a module
# can be tested before the rest of the daemon builds.
T_calendar = calendar util log
T_validate = validate util
T_proto	 = proto util
T_util	 = util
T_config = config validate calendar util log
T_db	 = db util log
T_deadline = deadline calendar config validate util log
T_lifecycle = lifecycle util
T_audit	 = audit util
T_cmd	 = $(CORE) migrations
T_curlm	 = curlm util log
T_webhook = webhook util log
T_mail	 = mail util log validate
T_ropa	 = ropa util log validate
T_fuzz_regress = $(CORE) migrations
.SECONDEXPANSION:
$(A)/test_%: $(A)/obj/test_%.o $$(addprefix $(A)/obj/,$$(addsuffix .o,$$(T_$$*)))
	$(CC) $(SAN) -o $@ $^ $(shell $(PKG_CONFIG) --libs cmocka) $(PKG_LIBS) -lm

# Fuzzers (make fuzz; not part of check): libFuzzer needs clang. Objects are
# built again with coverage for the fuzzer, into build/fuzz/obj.
F	 = build/fuzz
FUZZ_CC	 = clang
FUZZ_SECONDS ?= 60
FUZZ	 = fuzz_frame_dispatch fuzz_validate fuzz_config fuzz_ropa
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	   -fno-omit-frame-pointer
FUZZ_CFLAGS = $(BASEFLAGS) -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link
F_frame_dispatch = $(CORE) migrations
F_validate = validate calendar util log
F_config = config validate calendar util log
F_ropa	 = ropa util log validate
.PRECIOUS: $(F)/obj/%.o
$(F)/obj/%.o: daemon/%.c | $(B)/.deps-build
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<
$(F)/obj/migrations.o: $(B)/gen/migrations.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<
$(F)/obj/fuzz_%.o: tests/fuzz/fuzz_%.c | $(B)/.deps-build
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<
$(F)/fuzz_%: $(F)/obj/fuzz_%.o $$(addprefix $(F)/obj/,$$(addsuffix .o,$$(F_$$*)))
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) -lm
# New inputs go to build/fuzz/corpus, crashes to build/fuzz/; the seeds in
# tests/fuzz/corpus stay as they are.
fuzz: deps-check $(FUZZ:%=$(F)/%)
	@rc=0; for t in $(FUZZ); do echo "== $$t ($(FUZZ_SECONDS) s)"; \
	    mkdir -p $(F)/corpus/$$t; \
	    $(F)/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(F)/$$t- $(F)/corpus/$$t \
	    tests/fuzz/corpus/$$t || rc=1; \
	done; exit $$rc
-include $(wildcard $(F)/obj/*.d)

# Unit tests that need PostgreSQL (test_db) get a throwaway cluster from
# tests/unit/with-pg.
unit: deps-check $(UNIT:%=$(A)/test_%)
	@set -e; for t in $(UNIT:%=$(A)/test_%); do echo "== $$t"; \
	    tests/unit/with-pg $$t; done

e2e: deps-check $(A)/dsrd $(A)/dsrctl
	DSRD_BIN=$(CURDIR)/$(A)/dsrd DSRCTL_BIN=$(CURDIR)/$(A)/dsrctl \
	    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/e2e

# The release dsrd under valgrind's memcheck (ASan and valgrind don't mix),
# on the e2e tests that walk most of the daemon (2.5 minutes on 2 cores):
# error and reconnect paths, every transition, mail and webhooks, roles,
# limits, crashes. A daemon with a definite leak or an invalid access exits
# 99 (its test fails), and its log in build/valgrind is printed. Left out:
# tests that measure latency or memory, or that only a faked clock reaches.
VG_E2E	 = protocol bad_input file list transitions delivery lifecycle \
	   outage roles staff crash limits tasks ropa
VG_SKIP	 = test_delivery.py::test_slow_receiver_times_out_without_stalling \
	   test_delivery.py::test_slow_mail_server_never_stalls_the_loop \
	   test_delivery.py::test_slow_mail_server_holds_up_one_session_only \
	   test_limits.py::test_pipelining_client_that_never_reads \
	   test_limits.py::test_idle_clock_starts_after_the_answer
.PHONY: e2e-valgrind
e2e-valgrind: deps-check $(B)/dsrd $(B)/dsrctl
	@rm -rf $(B)/valgrind; rc=0; \
	DSRD_BIN=$(CURDIR)/tests/e2e/valgrind-dsrd \
	    DSRD_VALGRIND_BIN=$(CURDIR)/$(B)/dsrd \
	    DSRD_VALGRIND_LOGDIR=$(CURDIR)/$(B)/valgrind \
	    DSRCTL_BIN=$(CURDIR)/$(B)/dsrctl \
	    /usr/bin/python3 -m pytest -q -p no:cacheprovider \
	    $(VG_E2E:%=tests/e2e/test_%.py) \
	    $(VG_SKIP:%=--deselect tests/e2e/%) || rc=$$?; \
	logs=$$(ls $(B)/valgrind/dsrd.*.log 2>/dev/null); \
	if [ -z "$$logs" ]; then echo "e2e-valgrind: no valgrind log" >&2; \
	    exit 1; fi; \
	bad=$$(grep -lE 'definitely lost: [1-9]|Invalid (read|write|free)' \
	    $$logs); \
	for f in $$bad; do echo "== $$f" >&2; cat "$$f" >&2; rc=1; done; \
	echo "e2e-valgrind: $$(echo $$logs | wc -w) dsrd runs," \
	    "$$(echo $$bad | wc -w) with memory errors"; \
	exit $$rc

# The unit, sysusers and tmpfiles snippets, offline: systemd-analyze
# verify and security (exposure <= 2.0), and the watchdog of the built dsrd.
.PHONY: check-systemd
check-systemd: deps-check $(B)/dsrd
	tests/unit/check-systemd $(B)/dsrd

# The man pages (mandoc -Tlint -W style, groff warnings) and the bash
# completion of dsrctl (its offers, and its tables against dsrctl --help).
.PHONY: man-lint
man-lint: deps-check $(B)/dsrctl
	tests/unit/check-man man/dsrd.8 man/dsrctl.1 man/dsrd.conf.5
	DSRCTL=$(B)/dsrctl tests/unit/check-completion

check: deps-check
	$(MAKE) unit
	$(MAKE) man-lint
	$(MAKE) check-systemd
	$(MAKE) e2e
	$(MAKE) e2e-valgrind

run: deps-run all
	scripts/run-dev

# The load generator and the driver of docs/performance.md; BENCH_ARGS=--quick
# tries the harness in a minute.
$(B)/dsrload: bench/dsrload.c
	@mkdir -p $(@D)
	$(CC) -std=c17 -D_GNU_SOURCE $(WARN) -O2 -g -o $@ bench/dsrload.c
bench: deps-bench all $(B)/dsrload
	/usr/bin/python3 bench/run $(BENCH_ARGS)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(DATADIR)/sql $(DESTDIR)$(SYSCONFDIR)/dsrd \
	    $(DESTDIR)$(UNITDIR)
	install -m 755 $(B)/dsrctl $(DESTDIR)$(BINDIR)/dsrctl
	install -m 755 $(B)/dsrd $(DESTDIR)$(SBINDIR)/dsrd
	install -m 644 $(SQL) $(DESTDIR)$(DATADIR)/sql/
	install -m 644 config/dsrd.conf.example $(DESTDIR)$(DATADIR)/dsrd.conf.example
	test -e $(DESTDIR)$(SYSCONFDIR)/dsrd/dsrd.conf || \
	    install -m 640 config/dsrd.conf.example $(DESTDIR)$(SYSCONFDIR)/dsrd/dsrd.conf
	for d in config/templates/*/; do \
	    l=$$(basename $$d); install -d $(DESTDIR)$(DATADIR)/templates/$$l; \
	    for f in $$d*; do [ -f "$$f" ] && install -m 644 $$f $(DESTDIR)$(DATADIR)/templates/$$l/; done; \
	done; true
	sed -e 's|/usr/local/sbin/dsrd|$(SBINDIR)/dsrd|' \
	    -e 's|/etc/dsrd/|$(SYSCONFDIR)/dsrd/|' systemd/dsrd.service \
	    > $(DESTDIR)$(UNITDIR)/dsrd.service
	chmod 644 $(DESTDIR)$(UNITDIR)/dsrd.service
	install -d $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	install -m 644 systemd/dsrd.sysusers $(DESTDIR)$(SYSUSERSDIR)/dsrd.conf
	sed -e 's|/etc/dsrd|$(SYSCONFDIR)/dsrd|' systemd/dsrd.tmpfiles \
	    > $(DESTDIR)$(TMPFILESDIR)/dsrd.conf
	chmod 644 $(DESTDIR)$(TMPFILESDIR)/dsrd.conf
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMPDIR)
	for p in man/dsrctl.1 man/dsrd.conf.5 man/dsrd.8; do \
	    d=$(DESTDIR)$(MANDIR)/man$${p##*.}/$${p#man/}; \
	    sed -e 's|/usr/local/share/dsrd|$(DATADIR)|g' \
		-e 's|/lib/systemd/system/|$(UNITDIR)/|g' $$p > $$d && \
	    chmod 644 $$d || exit 1; \
	done
	install -m 644 contrib/bash-completion/dsrctl $(DESTDIR)$(BASHCOMPDIR)/dsrctl

clean:
	rm -rf $(B)

-include $(wildcard $(B)/obj/*.d $(A)/obj/*.d)
