# The control domain's SD/MMC driver on the emulated board: self-test over
# the whole store partition, checked on the board and in the image file.

ifeq ($(BOARD),orangepi-pc)
MMC_TEST_IMAGE := $(O)/test-images/mmc/sdcard.img
$(eval $(call board_image,$(O)/test-images/mmc,$(SRC)/hypervisor-cfg/test/orangepi-pc-mmc.toml,$(MMC_TEST_IMAGE)))

TEST_SUITES += mmc
test-mmc: $(MMC_TEST_IMAGE)
	@O=$(O) $(RUN_SUITE) mmc $(PYTHON) $(INTEGRATION)/test_mmc.py $(MMC_TEST_IMAGE)

BENCH_TARGETS += bench-mmc
bench-mmc: $(MMC_TEST_IMAGE)
	@O=$(O) $(PYTHON) $(INTEGRATION)/test_mmc.py $(MMC_TEST_IMAGE) --bench
endif

TEST_SUITES += mbr
$(O)/host/tests/test_mbr: $(SRC)/tests/unit/test_mbr.c $(SRC)/guests/control/mbr.c $(SRC)/guests/control/mbr.h
	@mkdir -p $(@D)
	@echo "  HOSTCC  $(patsubst $(O)/%,%,$@)"
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $(HOST_SANITIZE) -I$(SRC)/guests/control -o $@ $< $(SRC)/guests/control/mbr.c
test-mbr: $(O)/host/tests/test_mbr
	@$(RUN_SUITE) mbr $<

.PHONY: test-mmc test-mbr bench-mmc
