# Integration tests: the real boot chain on QEMU, and image layouts.
# (Host unit tests are defined next to their modules: ota/ota.mk, net/net.mk.)

INTEGRATION := $(SRC)/tests/integration
CUBIE_O := $(O)/cubieboard2

TEST_SUITES += image-layout boot

test-image-layout: $(SDCARD)
	@$(RUN_SUITE) image-layout $(PYTHON) $(INTEGRATION)/test_image_layout.py \
		$(SDCARD) $(BOARD) $(UBOOT_SPL) $(BOARD_DTB) --store-mb $(CONFIG_OTA_STORE_SIZE_MB)

ifeq ($(BOARD_EMULATED),y)
test-boot: $(SDCARD)
	@O=$(O) $(RUN_SUITE) boot $(PYTHON) $(INTEGRATION)/test_boot.py $(SDCARD)
else
test-boot:
	@$(RUN_SUITE) boot echo "ok 1 - boot # SKIP $(BOARD) is not emulated by QEMU"
endif

# The other board must build a complete image too (sharing the deps cache).
ifeq ($(BOARD),orangepi-pc)
TEST_SUITES += image-cubieboard2
test-image-cubieboard2:
	@$(MAKE) --no-print-directory O=$(CUBIE_O) DEPS=$(DEPS) cubieboard2_defconfig >/dev/null
	@$(MAKE) --no-print-directory O=$(CUBIE_O) DEPS=$(DEPS) $(CUBIE_O)/sdcard.img >/dev/null
	@$(RUN_SUITE) image-cubieboard2 $(PYTHON) $(INTEGRATION)/test_image_layout.py \
		$(CUBIE_O)/sdcard.img cubieboard2 $(DEPS)/root/usr/lib/u-boot/Cubieboard2/u-boot-sunxi-with-spl.bin \
		sun7i-a20-cubieboard2.dtb
endif

.PHONY: $(addprefix test-,$(TEST_SUITES))
