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

# ---------------------------------------------------------------- runtime
# The runtime's guests as Xen boot-time domains (hypervisor-cfg/test/).
ifeq ($(BOARD),orangepi-pc)
RUNTIME_TEST_IMAGE := $(O)/test-images/runtime/sdcard.img
$(eval $(call board_image,$(O)/test-images/runtime,$(SRC)/hypervisor-cfg/test/orangepi-pc-runtime.toml,$(RUNTIME_TEST_IMAGE)))

TEST_SUITES += runtime-xen runtime-unix
test-runtime-xen: $(RUNTIME_TEST_IMAGE) $(O)/guests/hello.img
	@O=$(O) $(RUN_SUITE) runtime-xen $(PYTHON) $(INTEGRATION)/test_runtime_xen.py $(RUNTIME_TEST_IMAGE) \
		--hello-image $(O)/guests/hello.img
endif

test-runtime-unix: $(O)/host/guests/hello $(O)/host/tests/test_runtime_wire
	@O=$(O) $(RUN_SUITE) runtime-unix sh -c '$(PYTHON) $(INTEGRATION)/test_runtime_unix.py $(O)/host/guests/hello && \
		$(O)/host/tests/test_runtime_wire'

$(O)/host/tests/test_runtime_wire: $(SRC)/tests/unit/test_runtime_wire.c $(RUNTIME_UNIX_SRCS) $(RUNTIME_HEADERS)
	@mkdir -p $(@D)
	@echo "  HOSTCC  $(patsubst $(O)/%,%,$@)"
	$(Q)$(HOST_CC) $(RUNTIME_UNIX_CFLAGS) $(HOST_SANITIZE) -o $@ $< $(RUNTIME_UNIX_SRCS)

# ---------------------------------------------------------------- control domain
ifeq ($(BOARD),orangepi-pc)
CONTROL_TEST_IMAGE := $(O)/test-images/control/sdcard.img
$(eval $(call board_image,$(O)/test-images/control,$(SRC)/hypervisor-cfg/test/orangepi-pc-control.toml,$(CONTROL_TEST_IMAGE)))
BENCH_IMAGE := $(O)/test-images/bench/sdcard.img
$(eval $(call board_image,$(O)/test-images/bench,$(SRC)/hypervisor-cfg/test/orangepi-pc-bench.toml,$(BENCH_IMAGE)))

TEST_SUITES += control
test-control: $(CONTROL_TEST_IMAGE) $(BENCH_IMAGE)
	@O=$(O) $(RUN_SUITE) control $(PYTHON) $(INTEGRATION)/test_control.py $(CONTROL_TEST_IMAGE) \
		--cycles-image $(BENCH_IMAGE)

BENCH_TARGETS += bench-control
bench-control: $(BENCH_IMAGE) $(SDCARD)
	@O=$(O) $(PYTHON) $(INTEGRATION)/bench_control.py $(BENCH_IMAGE) $(SDCARD)
endif

TEST_SUITES += plan
test-plan:
	@$(RUN_SUITE) plan $(PYTHON) $(SRC)/tests/unit/test_plan.py

TEST_SUITES += boot-bundle
$(O)/host/tests/test_boot_bundle: $(SRC)/tests/unit/test_boot_bundle.c $(SRC)/guests/control/boot_bundle.c $(SRC)/guests/control/boot_bundle.h
	@mkdir -p $(@D)
	@echo "  HOSTCC  $(patsubst $(O)/%,%,$@)"
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $(HOST_SANITIZE) -I$(SRC)/guests/control -o $@ $< $(SRC)/guests/control/boot_bundle.c
test-boot-bundle: $(O)/host/tests/test_boot_bundle
	@$(RUN_SUITE) boot-bundle $<

# ---------------------------------------------------------------- style
# Our C follows the root .clang-format (STYLE.md); third-party code is never
# in the tree, so every C file here is checked.
TEST_SUITES += format
test-format:
	@$(RUN_SUITE) format sh $(SRC)/tools/check-format.sh $(SRC)
include $(SRC)/tests/bench/peer.mk
