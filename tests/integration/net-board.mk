# The board on a LAN: the control domain's EMAC driver and its own net/
# stack, on the emulated board attached to a TAP in a network namespace the
# test creates, with dnsmasq as the DHCP server (tests/integration/netns.py).
# Needs root; the suite skips with "needs root" otherwise.

ifeq ($(BOARD),orangepi-pc)
NET_BOARD_IMAGE := $(O)/test-images/net/sdcard.img
$(eval $(call board_image,$(O)/test-images/net,$(SRC)/hypervisor-cfg/test/orangepi-pc-net.toml,$(NET_BOARD_IMAGE)))

TEST_SUITES += net-board
QEMU_SUITES += net-board
.PHONY: test-net-board bench-net-board
test-net-board: $(NET_BOARD_IMAGE)
	$(Q)O=$(O) $(RUN_SUITE_SERIAL) net-board $(PYTHON) $(INTEGRATION)/test_net_board.py $(NET_BOARD_IMAGE)

# Ping RTT and TCP throughput host -> control domain: build/bench/net-board.json (ctl_*).
BENCH_TARGETS += bench-net-board
bench-net-board: $(NET_BOARD_IMAGE)
	@O=$(O) $(PYTHON) $(INTEGRATION)/test_net_board.py $(NET_BOARD_IMAGE) \
		--bench $(O)/bench/net-board.json --control-img $(CONTROL_IMAGE)
endif

# The EMAC's descriptor-ring bookkeeping on the host, against a model of the
# DMA engine (QEMU's behaviour).
TEST_SUITES += emac-ring
$(O)/host/tests/test_emac_ring: $(SRC)/tests/unit/test_emac_ring.c $(SRC)/guests/control/emac_ring.c $(SRC)/guests/control/emac_ring.h
	@mkdir -p $(@D)
	@echo "  HOSTCC  $(patsubst $(O)/%,%,$@)"
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $(HOST_SANITIZE) -I$(SRC)/guests/control -o $@ $< $(SRC)/guests/control/emac_ring.c
.PHONY: test-emac-ring
test-emac-ring: $(O)/host/tests/test_emac_ring
	@$(RUN_SUITE) emac-ring $<
