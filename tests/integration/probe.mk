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
