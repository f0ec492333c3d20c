# The status page between each guest and the control domain
# (docs/status-page.md): the flotilla.lease= parser on the host, and the
# board test (hypervisor-cfg/test/orangepi-pc-status.toml): readiness with a
# time, addresses (DHCP, static, a previous instance's lease confirmed or
# refused), a guest that never says it is ready, one that scribbles on its
# page.

$(O)/host/tests/test_lease: $(SRC)/tests/unit/test_lease.c $(RUNTIME_DIR)/lib/lease.c $(RUNTIME_DIR)/lib/lease.h
	@mkdir -p $(@D)
	@echo "  HOSTCC  $(patsubst $(O)/%,%,$@)"
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $(HOST_SANITIZE) -I$(RUNTIME_DIR)/lib -o $@ $< $(RUNTIME_DIR)/lib/lease.c

TEST_SUITES += lease
.PHONY: test-lease
test-lease: $(O)/host/tests/test_lease
	@$(RUN_SUITE) lease $<

ifeq ($(BOARD),orangepi-pc)
STATUS_TEST_IMAGE := $(O)/test-images/status/sdcard.img
$(eval $(call board_image,$(O)/test-images/status,$(SRC)/hypervisor-cfg/test/orangepi-pc-status.toml,$(STATUS_TEST_IMAGE)))

TEST_SUITES += status-page
QEMU_SUITES += status-page
.PHONY: test-status-page
test-status-page: $(STATUS_TEST_IMAGE)
	$(Q)O=$(O) $(RUN_SUITE_SERIAL) status-page $(PYTHON) $(INTEGRATION)/test_status_page.py $(STATUS_TEST_IMAGE)
endif
