# net/ — Flotilla's TCP/IP stack (portable C). Built for the target as a
# library, and for the host (with sanitizers) for unit, interop and fuzz tests.

NET_SRCS := $(addprefix $(SRC)/net/,net.c wire.c eth.c arp.c ipv4.c icmp.c udp.c tcp.c tcp_input.c tcp_output.c tcp_cookie.c dhcp.c dns.c)
# Header dependencies come from the compiler (DEPFLAGS, multi_deps); only
# the generated configuration header is named.
NET_HDRS := $(CONFIG_H)
NET_LIB := $(O)/target/net/libnet.a
NET_TARGET_OBJS := $(patsubst $(SRC)/net/%.c,$(O)/target/net/%.o,$(NET_SRCS))

ALL_TARGETS += net-size

$(O)/target/net/%.o: $(SRC)/net/%.c $(NET_HDRS)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(TARGET_CC) $(TARGET_CFLAGS) -I$(SRC)/net -c $< -o $@

$(NET_LIB): $(NET_TARGET_OBJS)
	$(Q)rm -f $@ && $(CROSS_COMPILE)ar rcs $@ $^
	@echo "  AR      $@"

# The control domain's build of the same sources: CONFIG_NET_TCP_CONNS plus
# NET_CONTROL_EXTRA_CONNS TCP connections, so that the device API's
# connections (API_CONNECTIONS, guests/control/api.h; a followed log holds
# one for as long as its client listens) never leave the health probes of
# the guests (the swap's gate, the monitor's periodic probe) without one.
NET_CONTROL_EXTRA_CONNS ?= 8
NET_CONTROL_TCP_CONNS = $(shell expr $(or $(CONFIG_NET_TCP_CONNS),8) + $(NET_CONTROL_EXTRA_CONNS))
NET_CONTROL_LIB := $(O)/target/control-net/libnet.a
NET_CONTROL_OBJS := $(patsubst $(SRC)/net/%.c,$(O)/target/control-net/%.o,$(NET_SRCS))

$(O)/target/control-net/%.o: $(SRC)/net/%.c $(NET_HDRS) $(SRC)/net/net.mk
	$(Q)mkdir -p $(dir $@)
	$(Q)$(TARGET_CC) $(TARGET_CFLAGS) -DNET_TCP_CONNS_OVERRIDE=$(NET_CONTROL_TCP_CONNS) -I$(SRC)/net -c $< -o $@

$(NET_CONTROL_LIB): $(NET_CONTROL_OBJS)
	$(Q)rm -f $@ && $(CROSS_COMPILE)ar rcs $@ $^
	@echo "  AR      $@ ($(NET_CONTROL_TCP_CONNS) TCP connections)"

.PHONY: net-size
net-size: $(NET_LIB)
	$(Q)$(TARGET_SIZE) -t $(NET_LIB) | tail -n 1 | awk '{ printf "net: libnet.a text %d data %d bss %d (Cortex-A7 Thumb-2 -Os)\n", $$1, $$2, $$3 }'

# ---------------------------------------------------------------- host builds
NET_HOST_CFLAGS := $(HOST_CFLAGS) $(HOST_SANITIZE) -I$(O)/include -I$(SRC)/net
NET_HOST_DIR := $(O)/host/net
NET_TEST_SUPPORT := $(SRC)/tests/unit/test_net_wire.c
NET_UNIT_TESTS := $(notdir $(basename $(filter-out %/test_net_wire.c,$(wildcard $(SRC)/tests/unit/test_net_*.c))))

$(NET_HOST_DIR)/%: $(SRC)/tests/unit/%.c $(NET_TEST_SUPPORT) $(NET_SRCS) $(NET_HDRS)
	$(Q)mkdir -p $(dir $@)
	@echo "  HOSTCC  $@"
	$(Q)$(HOST_CC) $(NET_HOST_CFLAGS) -I$(SRC)/tests/unit $< $(NET_TEST_SUPPORT) $(NET_SRCS) -lcmocka -o $@
	$(Q)$(call multi_deps,$(HOST_CC) $(NET_HOST_CFLAGS) -I$(SRC)/tests/unit,$< $(NET_TEST_SUPPORT) $(NET_SRCS))

# The TCP suite again with buffers above 64 KiB, so that RFC 7323 window
# scaling carries every transfer (the Kconfig defaults do not need it).
NET_WSCALE_FLAGS := -DNET_NO_AUTOCONF -DCONFIG_NET_TCP_RCV_BUF=262144 -DCONFIG_NET_TCP_SND_BUF=131072
$(NET_HOST_DIR)/test_net_tcp_wscale: $(SRC)/tests/unit/test_net_tcp.c $(NET_TEST_SUPPORT) $(NET_SRCS) $(NET_HDRS)
	$(Q)mkdir -p $(dir $@)
	@echo "  HOSTCC  $@"
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $(HOST_SANITIZE) $(NET_WSCALE_FLAGS) -I$(SRC)/net -I$(SRC)/tests/unit $< $(NET_TEST_SUPPORT) $(NET_SRCS) -lcmocka -o $@
	$(Q)$(call multi_deps,$(HOST_CC) $(HOST_CFLAGS) $(NET_WSCALE_FLAGS) -I$(SRC)/net -I$(SRC)/tests/unit,$< $(NET_TEST_SUPPORT) $(NET_SRCS))

TEST_SUITES += net-unit
.PHONY: test-net-unit
test-net-unit: $(addprefix $(NET_HOST_DIR)/,$(NET_UNIT_TESTS) test_net_tcp_wscale)
	$(Q)$(RUN_SUITE) net-unit sh -c 'rc=0; for t in $^; do CMOCKA_MESSAGE_OUTPUT=TAP $$t || rc=1; done; exit $$rc'

include $(wildcard $(SRC)/tests/net/net-tests.mk)
include $(wildcard $(SRC)/tests/bench/bench-net.mk)
