# bench-net: net/ against lwIP (from `apt-get source lwip`, never committed).
# Included by net/net.mk. See tests/bench/bench_net.c and bench_net.sh.

LWIP_SRC := $(DEPS)/lwip-src/src
BENCH_NET_DIR := $(O)/bench/net
LWIP_BENCH_FILES := core/init.c core/def.c core/dns.c core/inet_chksum.c core/ip.c core/mem.c core/memp.c \
	core/netif.c core/pbuf.c core/tcp.c core/tcp_in.c core/tcp_out.c core/timeouts.c core/udp.c \
	core/ipv4/dhcp.c core/ipv4/etharp.c core/ipv4/icmp.c core/ipv4/ip4.c core/ipv4/ip4_addr.c \
	core/ipv4/ip4_frag.c netif/ethernet.c
LWIP_BENCH_HDRS := $(SRC)/tests/bench/lwipopts.h $(SRC)/tests/bench/bench_config.h $(SRC)/tests/bench/arch/cc.h
LWIP_HOST_OBJS := $(patsubst %.c,$(BENCH_NET_DIR)/lwip-host/%.o,$(LWIP_BENCH_FILES))
LWIP_TARGET_OBJS := $(patsubst %.c,$(BENCH_NET_DIR)/lwip-target/%.o,$(LWIP_BENCH_FILES))
LWIP_INCLUDES := -I$(SRC)/tests/bench -I$(LWIP_SRC)/include
# Both stacks: -O2 on the host, no sanitizers, the same compiler.
BENCH_HOST_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -O2 -g

$(BENCH_NET_DIR)/lwip-host/%.o: $(LWIP_SRC)/%.c $(LWIP_BENCH_HDRS) | $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(BENCH_HOST_CFLAGS) $(DEPFLAGS) -w $(LWIP_INCLUDES) -c $< -o $@

$(BENCH_NET_DIR)/lwip-target/%.o: $(LWIP_SRC)/%.c $(LWIP_BENCH_HDRS) | $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(TARGET_CC) $(TARGET_CFLAGS_3RDPARTY) $(LWIP_INCLUDES) -c $< -o $@

$(BENCH_NET_DIR)/lwip_node.o: $(SRC)/tests/bench/lwip_node.c $(SRC)/tests/bench/bench_node.h $(LWIP_BENCH_HDRS) | $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(BENCH_HOST_CFLAGS) $(DEPFLAGS) -Wall -Wextra -Werror $(LWIP_INCLUDES) -c $< -o $@

# Two independent lwIP instances in one process: link lwIP + its node
# once, then give every symbol it defines the prefix lwa_ or lwb_.
# One grouped target (&:): made once under -jN.
$(BENCH_NET_DIR)/lwa.o $(BENCH_NET_DIR)/lwb.o &: $(LWIP_HOST_OBJS) $(BENCH_NET_DIR)/lwip_node.o
	$(Q)ld -r -o $(BENCH_NET_DIR)/lwip-all.o $^
	$(Q)nm --defined-only -g $(BENCH_NET_DIR)/lwip-all.o | awk '{ print $$3 " lwa_" $$3 }' > $(BENCH_NET_DIR)/lwa.map
	$(Q)nm --defined-only -g $(BENCH_NET_DIR)/lwip-all.o | awk '{ print $$3 " lwb_" $$3 }' > $(BENCH_NET_DIR)/lwb.map
	$(Q)objcopy --redefine-syms=$(BENCH_NET_DIR)/lwa.map $(BENCH_NET_DIR)/lwip-all.o $(BENCH_NET_DIR)/lwa.o
	$(Q)objcopy --redefine-syms=$(BENCH_NET_DIR)/lwb.map $(BENCH_NET_DIR)/lwip-all.o $(BENCH_NET_DIR)/lwb.o

$(BENCH_NET_DIR)/bench_net: $(SRC)/tests/bench/bench_net.c $(NET_SRCS) $(CONFIG_H) \
		$(BENCH_NET_DIR)/lwa.o $(BENCH_NET_DIR)/lwb.o
	@echo "  HOSTCC  $@"
	$(Q)$(HOST_CC) $(BENCH_HOST_CFLAGS) -Wall -Wextra -Werror -DNET_NO_AUTOCONF -include $(SRC)/tests/bench/bench_config.h \
		-I$(SRC)/net -I$(SRC)/tests/bench $(SRC)/tests/bench/bench_net.c $(NET_SRCS) \
		$(BENCH_NET_DIR)/lwa.o $(BENCH_NET_DIR)/lwb.o -o $@
	$(Q)$(call multi_deps,$(HOST_CC) $(BENCH_HOST_CFLAGS) -DNET_NO_AUTOCONF -include $(SRC)/tests/bench/bench_config.h \
		-I$(SRC)/net -I$(SRC)/tests/bench,$(SRC)/tests/bench/bench_net.c $(NET_SRCS))

# net/'s RAM in the bench configuration, measured like lwIP's: as target .bss.
$(BENCH_NET_DIR)/ours-ram.o: $(SRC)/tests/bench/bench_ram.c $(CONFIG_H)
	$(Q)mkdir -p $(@D)
	$(Q)$(TARGET_CC) $(TARGET_CFLAGS) -DNET_NO_AUTOCONF -include $(SRC)/tests/bench/bench_config.h -I$(SRC)/net -c $< -o $@

BENCH_TARGETS += bench-net
.PHONY: bench-net
bench-net: $(BENCH_NET_DIR)/bench_net $(BENCH_NET_DIR)/ours-ram.o $(LWIP_TARGET_OBJS) $(NET_LIB)
	$(Q)sh $(SRC)/tests/bench/bench_net.sh $(BENCH_NET_DIR)/bench_net $(TARGET_SIZE) $(NET_LIB) \
		$(BENCH_NET_DIR)/ours-ram.o $(O)/bench/net.json $(LWIP_TARGET_OBJS)
