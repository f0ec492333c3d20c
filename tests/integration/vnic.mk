# Virtual NICs and the control domain's switch: host unit tests of the ring
# protocol and the switch, the switch's fuzz target, and the board test
# (two guests talking through the switch while others misbehave).

VNIC_HOST := $(O)/host/tests
VNIC_FUZZ := $(O)/host/fuzz/fuzz_switch
VNIC_FUZZ_CORPUS := $(O)/fuzz/switch-corpus

$(VNIC_HOST)/test_vnic_ring: $(SRC)/tests/unit/test_vnic_ring.c $(RUNTIME_DIR)/lib/vnic_ring.c $(RUNTIME_DIR)/lib/vnic_ring.h
	@mkdir -p $(@D)
	@echo "  HOSTCC  $(patsubst $(O)/%,%,$@)"
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $(HOST_SANITIZE) -I$(RUNTIME_DIR)/lib -o $@ $< $(RUNTIME_DIR)/lib/vnic_ring.c -lpthread

$(VNIC_HOST)/test_switch: $(SRC)/tests/unit/test_switch.c $(CONTROL_DIR)/vswitch.c $(CONTROL_DIR)/vswitch.h $(CONFIG_H)
	@mkdir -p $(@D)
	@echo "  HOSTCC  $(patsubst $(O)/%,%,$@)"
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $(HOST_SANITIZE) -I$(O)/include -I$(CONTROL_DIR) -o $@ $< $(CONTROL_DIR)/vswitch.c

$(VNIC_FUZZ): $(SRC)/tests/fuzz/fuzz_switch.c $(CONTROL_DIR)/vswitch.c $(CONTROL_DIR)/vswitch.h $(CONFIG_H)
	@mkdir -p $(@D)
	@echo "  FUZZ    $(patsubst $(O)/%,%,$@)"
	$(Q)clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I$(O)/include \
		-I$(CONTROL_DIR) $< $(CONTROL_DIR)/vswitch.c -o $@

TEST_SUITES += vnic-ring switch switch-fuzz
.PHONY: test-vnic-ring test-switch test-switch-fuzz fuzz-switch
test-vnic-ring: $(VNIC_HOST)/test_vnic_ring
	@$(RUN_SUITE) vnic-ring $<
test-switch: $(VNIC_HOST)/test_switch
	@$(RUN_SUITE) switch $<

# A short bounded run in `make test`; `make fuzz` runs longer.
SWITCH_FUZZ_TEST_SECONDS ?= 10
SWITCH_FUZZ_SECONDS ?= 600
test-switch-fuzz: $(VNIC_FUZZ)
	$(Q)/usr/bin/python3 $(SRC)/tests/fuzz/fuzz_switch_seeds.py $(VNIC_FUZZ_CORPUS)
	@$(RUN_SUITE) switch-fuzz sh $(SRC)/tests/fuzz/run_fuzz_switch.sh $(VNIC_FUZZ) $(VNIC_FUZZ_CORPUS) $(SWITCH_FUZZ_TEST_SECONDS)
FUZZ_TARGETS += fuzz-switch
fuzz-switch: $(VNIC_FUZZ)
	$(Q)/usr/bin/python3 $(SRC)/tests/fuzz/fuzz_switch_seeds.py $(VNIC_FUZZ_CORPUS)
	$(Q)sh $(SRC)/tests/fuzz/run_fuzz_switch.sh $(VNIC_FUZZ) $(VNIC_FUZZ_CORPUS) $(SWITCH_FUZZ_SECONDS)

# The board test: two guests talk through the switch while one floods and
# one never drains its receive ring (hypervisor-cfg/test/orangepi-pc-vnic.toml).
ifeq ($(BOARD),orangepi-pc)
VNIC_TEST_IMAGE := $(O)/test-images/vnic/sdcard.img
$(eval $(call board_image,$(O)/test-images/vnic,$(SRC)/hypervisor-cfg/test/orangepi-pc-vnic.toml,$(VNIC_TEST_IMAGE)))

TEST_SUITES += vnic
QEMU_SUITES += vnic
.PHONY: test-vnic
test-vnic: $(VNIC_TEST_IMAGE)
	$(Q)O=$(O) $(RUN_SUITE_SERIAL) vnic $(PYTHON) $(INTEGRATION)/test_vnic.py $(VNIC_TEST_IMAGE)
endif

# Host figure of the per-frame cost (ring -> switch -> ring), -O2, no sanitizers.
$(O)/host/bench/bench_switch: $(SRC)/tests/bench/bench_switch.c $(CONTROL_DIR)/vswitch.c $(RUNTIME_DIR)/lib/vnic_ring.c $(CONFIG_H)
	@mkdir -p $(@D)
	@echo "  HOSTCC  $(patsubst $(O)/%,%,$@)"
	$(Q)$(HOST_CC) -std=c11 -D_DEFAULT_SOURCE -O2 -g -Wall -Wextra -Werror -I$(O)/include -I$(CONTROL_DIR) \
		-I$(RUNTIME_DIR)/lib -o $@ $< $(CONTROL_DIR)/vswitch.c $(RUNTIME_DIR)/lib/vnic_ring.c
BENCH_TARGETS += bench-switch
.PHONY: bench-switch
bench-switch: $(O)/host/bench/bench_switch
	@$<
