# smtpsend: a sendmail-compatible SMTP submission client.
#
#   make                 static build (GnuTLS, GNU SASL... from Debian's archives)
#   make SHARED=1        all-dynamic build, for distribution packages
#   make check           unit, scripted-server and end-to-end tests
#   make asan            build into build-asan/ with address+undefined sanitizers
#   make B=/tmp/b ...    build somewhere else (objects go to $(B))

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
DESTDIR	?=
B	?= build
CC	?= cc
PKG_CONFIG ?= pkg-config
VERSION	= 0.1.0

WARN	= -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
	  -Wmissing-prototypes -Wwrite-strings -Wundef -Wpointer-arith \
	  -Wcast-align -Wvla -Wimplicit-fallthrough
CFLAGS	?= -O2 -g
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags gnutls libgsasl libsecret-1)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DSMTPSEND_VERSION='"$(VERSION)"' \
	  $(WARN) $(PKG_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)

# Static where Debian ships an archive (libunistring's is in libunistring-dev);
# p11-kit has none.
ifeq ($(SHARED),1)
LIBS	= $(shell $(PKG_CONFIG) --libs gnutls libgsasl nettle) -ldl
else
LIBS	= -Wl,-Bstatic -lgsasl -lidn -lntlm -lgssglue -lgnutls -lhogweed \
	  -lnettle -lgmp -ltasn1 -lidn2 -lunistring -Wl,-Bdynamic \
	  -lp11-kit -ldl -lpthread
endif


OBJS	= $(patsubst %.c,$(B)/%.o,$(filter-out sendmail.c,$(wildcard *.c)))
LIB	= $(B)/libsmtpsend.a
HDRS	= $(wildcard *.h)

UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)

all: $(B)/smtpsend
	@if [ "$(B)" = build ]; then ln -sf build/smtpsend smtpsend; fi

$(B)/%.o: %.c $(HDRS) | $(B)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B):
	mkdir -p $(B)/tests

$(LIB): $(OBJS)
	rm -f $@
	$(AR) rcs $@ $(OBJS)

$(B)/smtpsend: $(B)/sendmail.o $(LIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(B)/sendmail.o $(LIB) $(LIBS)

# Unit tests link the module library (not sendmail.o) with cmocka.
$(B)/tests/%: tests/unit/%.c $(LIB) $(HDRS) | $(B)
	$(CC) $(ALL_CFLAGS) -I. $(LDFLAGS) -o $@ $< $(LIB) -lcmocka \
	    $(shell $(PKG_CONFIG) --libs gnutls libgsasl nettle) -ldl

unit: $(UNIT_BINS)
	@tests/run-unit $(UNIT_BINS)

# All layers (unit, scripted server, real servers); one total at the end.
check: all
	tests/run-layers $(B)

asan:
	$(MAKE) B=build-asan SHARED=1 CC=clang \
	    EXTRA_CFLAGS='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' \
	    LDFLAGS='-fsanitize=address,undefined'

lint:
	@! grep -nE '\b(gets|strcpy|strcat|sprintf|vsprintf|strtok|atoi)[[:space:]]*\(' \
	    *.c tests/unit/*.c || { echo 'banned function (see STYLE.md)'; exit 1; }
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	    --inline-suppr -D_GNU_SOURCE --std=c11 *.c
	tests/check-man

# Style report (not a gate: the code is hand-formatted in style(9)).
format-check:
	clang-format --dry-run *.c *.h 2>&1 | grep -c warning: || true

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5
	install -m 755 $(B)/smtpsend $(DESTDIR)$(BINDIR)/smtpsend
	install -m 644 doc/smtpsend.1 $(DESTDIR)$(MANDIR)/man1/smtpsend.1
	install -m 644 doc/smtprc.5 $(DESTDIR)$(MANDIR)/man5/smtprc.5
	$(MAKE) install-units

# The queue's timers (issue 7): a user timer + service, and one for root's
# queue; ExecStart names the installed binary.
UNITDIR	?= $(PREFIX)/lib/systemd
install-units:
	install -d $(DESTDIR)$(UNITDIR)/user $(DESTDIR)$(UNITDIR)/system
	for d in user system; do for u in service timer; do \
	    sed 's|@BINDIR@|$(BINDIR)|g' systemd/$$d/smtpsend-queue.$$u \
	        > $(DESTDIR)$(UNITDIR)/$$d/smtpsend-queue.$$u && \
	    chmod 644 $(DESTDIR)$(UNITDIR)/$$d/smtpsend-queue.$$u || exit 1; \
	done; done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/smtpsend $(DESTDIR)$(MANDIR)/man1/smtpsend.1 \
	    $(DESTDIR)$(MANDIR)/man5/smtprc.5
	rm -f $(DESTDIR)$(UNITDIR)/user/smtpsend-queue.service \
	    $(DESTDIR)$(UNITDIR)/user/smtpsend-queue.timer \
	    $(DESTDIR)$(UNITDIR)/system/smtpsend-queue.service \
	    $(DESTDIR)$(UNITDIR)/system/smtpsend-queue.timer

demo: all
	tests/demo

clean:
	rm -rf build build-asan build-shared build-fuzz smtpsend


# libFuzzer harnesses (tests/fuzz/README): clang, SHARED-style libraries.
# FUZZ_TIME seconds per harness in fuzz-run; FUZZ_FLAGS adds libFuzzer
# options (e.g. FUZZ_FLAGS=-jobs=2).
FUZZ_B		= build-fuzz
FUZZ_CC		= clang
FUZZ_TIME	?= 20
FUZZ_FLAGS	?=
FUZZ_NAMES	= smtp address aliases config message bs
FUZZ_BINS	= $(FUZZ_NAMES:%=$(FUZZ_B)/fuzz_%)
FUZZ_SAN	= -fsanitize=fuzzer,address,undefined \
		  -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# Every module, so that a new file needs no change here.
FUZZ_SRCS	= $(filter-out sendmail.c,$(wildcard *.c))

$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(HDRS) $(wildcard *.c)
	@mkdir -p $(FUZZ_B)
	$(FUZZ_CC) $(ALL_CFLAGS) $(FUZZ_SAN) \
	    -I. -o $@ $< $(FUZZ_SRCS) \
	    $(shell $(PKG_CONFIG) --libs gnutls libgsasl nettle) -ldl -lpthread

fuzz: $(FUZZ_BINS)

# New corpus entries go to $(FUZZ_B)/corpus/<name>; crashes to $(FUZZ_B)/.
fuzz-run: fuzz
	@for n in $(FUZZ_NAMES); do \
	    mkdir -p $(FUZZ_B)/corpus/$$n; \
	    echo "fuzz_$$n: $(FUZZ_TIME) s"; \
	    $(FUZZ_B)/fuzz_$$n -max_total_time=$(FUZZ_TIME) -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_B)/$$n- $(FUZZ_FLAGS) \
		$(FUZZ_B)/corpus/$$n tests/fuzz/corpus/$$n \
		>$(FUZZ_B)/fuzz_$$n.log 2>&1 || \
		{ tail -40 $(FUZZ_B)/fuzz_$$n.log; exit 1; }; \
	    grep -h 'stat::number_of_executed_units' $(FUZZ_B)/fuzz_$$n.log; \
	done

.PHONY: install-units all unit check asan lint format-check install uninstall clean demo
.PHONY: fuzz fuzz-run
