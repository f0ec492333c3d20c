# Tests of the www guest (guests/www) and of the runtime's network helper
# (guests/runtime/lib/netif.c, exercised by the netiftest guest).
#
# www-unit: the HTTP parser and the network helper (lib/netif.c) on the host.
# www-unix, syn-flood, www-browser: the www guest on the runtime's unix
# target, each in a network namespace it creates (root; they SKIP with the
# reason otherwise). Each script also takes --url http://ADDRESS/ to test a
# running server instead (e.g. www on the board).
# netif-xen: the netiftest guest as a Xen boot-time domain on the emulated board.
WWW_UNIX := $(O)/host/guests/www
WWW_TESTS := $(SRC)/tests/integration
WWW_HTTP_TEST := $(O)/host/www/test_www_http
NETIF_TEST := $(O)/host/www/netiftest-asan

# The HTTP parser under ASan and UBSan.
$(WWW_HTTP_TEST): $(SRC)/tests/unit/test_www_http.c $(SRC)/guests/www/http.c $(SRC)/guests/www/http.h
	@mkdir -p $(@D)
	@echo "  HOSTCC  $@"
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $(HOST_SANITIZE) -I$(SRC)/guests/www $< $(SRC)/guests/www/http.c -lcmocka -o $@

# The network helper: the netiftest guest for the unix target, under ASan and UBSan.
$(NETIF_TEST): $(SRC)/guests/netiftest/main.c $(RUNTIME_UNIX_SRCS) $(RUNTIME_NET_UNIX_SRCS) $(RUNTIME_HEADERS) $(wildcard $(SRC)/net/*.h) $(CONFIG_H)
	@mkdir -p $(@D)
	@echo "  HOSTCC  $@"
	$(Q)$(HOST_CC) $(RUNTIME_UNIX_CFLAGS) $(RUNTIME_NET_UNIX_CFLAGS) $(HOST_SANITIZE) -o $@ $< $(RUNTIME_UNIX_SRCS) $(RUNTIME_NET_UNIX_SRCS)

TEST_SUITES += www-unit www-unix syn-flood www-browser
# Network namespaces and timed checks: run with the board suites, one at a time.
QEMU_SUITES += www-unix syn-flood www-browser
.PHONY: test-www-unit test-www-unix test-syn-flood test-www-browser
test-www-unit: $(WWW_HTTP_TEST) $(NETIF_TEST)
	@$(RUN_SUITE) www-unit sh -c 'CMOCKA_MESSAGE_OUTPUT=TAP $(WWW_HTTP_TEST) && $(NETIF_TEST)'

test-www-unix: $(WWW_UNIX)
	$(Q)$(RUN_SUITE_SERIAL) www-unix env O=$(O) $(PYTHON) $(WWW_TESTS)/test_www.py --out $(O) $(WWW_UNIX)

test-syn-flood: $(WWW_UNIX)
	$(Q)$(RUN_SUITE_SERIAL) syn-flood env O=$(O) $(PYTHON) $(WWW_TESTS)/test_www_synflood.py --out $(O) $(WWW_UNIX)

test-www-browser: $(WWW_UNIX)
	$(Q)$(RUN_SUITE_SERIAL) www-browser env O=$(O) $(PYTHON) $(WWW_TESTS)/test_www_browser.py --out $(O) $(WWW_UNIX)


ifeq ($(BOARD),orangepi-pc)
NETIF_XEN_IMAGE := $(O)/test-images/netif/sdcard.img
$(eval $(call board_image,$(O)/test-images/netif,$(SRC)/hypervisor-cfg/test/orangepi-pc-netif.toml,$(NETIF_XEN_IMAGE)))
TEST_SUITES += netif-xen
QEMU_SUITES += netif-xen
.PHONY: test-netif-xen
test-netif-xen: $(NETIF_XEN_IMAGE)
	$(Q)O=$(O) $(RUN_SUITE_SERIAL) netif-xen $(PYTHON) $(WWW_TESTS)/test_www_netif_xen.py $(NETIF_XEN_IMAGE)
endif

# The user job on the board: the default image on a LAN (namespace, TAP,
# dnsmasq); leases, ping, the game and a 4 MiB file from www, then the www
# suites above against the board itself (HTTP, SYN flood, a browser).
ifeq ($(BOARD),orangepi-pc)
TEST_SUITES += board-www
QEMU_SUITES += board-www
test-board-www: $(SDCARD)
	$(Q)O=$(O) $(RUN_SUITE_SERIAL) board-www $(PYTHON) $(INTEGRATION)/test_board_www.py $(SDCARD)
endif

# Bench: the default image on a LAN once; HTTP (wrk, ab), TCP both ways, ping
# and CPU shares, www against the control domain's own stack, image sizes.
# Merged into build/bench/net-board.json (www_* and ctl_* keys).
ifeq ($(BOARD),orangepi-pc)
BENCH_TARGETS += bench-board-www
.PHONY: bench-board-www
bench-board-www: $(SDCARD) $(O)/guests/www.img $(CONTROL_IMAGE)
	@O=$(O) $(PYTHON) $(INTEGRATION)/bench_board_www.py $(SDCARD) --bench $(O)/bench/net-board.json \
		--www-img $(O)/guests/www.img --control-img $(CONTROL_IMAGE)
endif
