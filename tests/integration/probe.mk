# The control domain's health probe (guests/control/probe.c): host unit
# tests against a second net/ stack on an in-memory wire, and the board
# test (the probes of a plan's guests run by the control domain, through its
# switch, against www instances).

PROBE_HOST_TEST := $(O)/host/tests/test_probe
PROBE_HOST_SRCS := $(SRC)/tests/unit/test_probe.c $(CONTROL_DIR)/probe.c $(NET_TEST_SUPPORT) $(NET_SRCS)

$(PROBE_HOST_TEST): $(PROBE_HOST_SRCS) $(CONTROL_DIR)/probe.h $(NET_HDRS)
	@mkdir -p $(@D)
	@echo "  HOSTCC  $(patsubst $(O)/%,%,$@)"
	$(Q)$(HOST_CC) $(NET_HOST_CFLAGS) -I$(CONTROL_DIR) -I$(SRC)/tests/unit -o $@ $(PROBE_HOST_SRCS) -lcmocka
	$(Q)$(call multi_deps,$(HOST_CC) $(NET_HOST_CFLAGS) -I$(CONTROL_DIR) -I$(SRC)/tests/unit,$(PROBE_HOST_SRCS))

TEST_SUITES += probe
.PHONY: test-probe
test-probe: $(PROBE_HOST_TEST)
	@$(RUN_SUITE) probe env CMOCKA_MESSAGE_OUTPUT=TAP $<

# On the board: the control domain probes three www instances and an
# address nobody holds, each as its plan entry says (probe_test= boot argument).
ifeq ($(BOARD),orangepi-pc)
PROBE_BOARD_IMAGE := $(O)/test-images/probe/sdcard.img
$(eval $(call board_image,$(O)/test-images/probe,$(SRC)/hypervisor-cfg/test/orangepi-pc-probe.toml,$(PROBE_BOARD_IMAGE)))
TEST_SUITES += board-probe
QEMU_SUITES += board-probe
.PHONY: test-board-probe
test-board-probe: $(PROBE_BOARD_IMAGE)
	$(Q)O=$(O) $(RUN_SUITE_SERIAL) board-probe $(PYTHON) $(INTEGRATION)/test_probe_board.py $(PROBE_BOARD_IMAGE)
endif
