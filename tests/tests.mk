# Integration tests: the real boot chain on QEMU, and image layouts.
# (Host unit tests are defined next to their modules: ota/ota.mk, net/net.mk.)

INTEGRATION := $(SRC)/tests/integration
CUBIE_O := $(O)/cubieboard2

TEST_SUITES += image-layout boot
# Suites that boot QEMU: `make test` runs them after the others, one at a
# time (RUN_SUITE_SERIAL), so their timeouts never race a busy host.
QEMU_SUITES += boot

test-image-layout: $(SDCARD)
	$(Q)$(RUN_SUITE) image-layout $(PYTHON) $(INTEGRATION)/test_image_layout.py \
		$(SDCARD) $(BOARD) $(UBOOT_SPL) $(BOARD_DTB) --store-mb $(CONFIG_OTA_STORE_SIZE_MB)

ifeq ($(BOARD_EMULATED),y)
test-boot: $(SDCARD)
	$(Q)O=$(O) $(RUN_SUITE_SERIAL) boot $(PYTHON) $(INTEGRATION)/test_boot.py $(SDCARD)
else
test-boot:
	$(Q)$(RUN_SUITE) boot echo "ok 1 - boot # SKIP $(BOARD) is not emulated by QEMU"
endif

# The other board must build a complete image too (sharing the deps cache).
ifeq ($(BOARD),orangepi-pc)
TEST_SUITES += image-cubieboard2
test-image-cubieboard2:
	$(Q)$(MAKE) --no-print-directory O=$(CUBIE_O) DEPS=$(DEPS) cubieboard2_defconfig >/dev/null
	$(Q)$(MAKE) --no-print-directory O=$(CUBIE_O) DEPS=$(DEPS) $(CUBIE_O)/sdcard.img >/dev/null
	$(Q)$(RUN_SUITE) image-cubieboard2 $(PYTHON) $(INTEGRATION)/test_image_layout.py \
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
QEMU_SUITES += runtime-xen
test-runtime-xen: $(RUNTIME_TEST_IMAGE) $(O)/guests/hello.img
	$(Q)O=$(O) $(RUN_SUITE_SERIAL) runtime-xen $(PYTHON) $(INTEGRATION)/test_runtime_xen.py $(RUNTIME_TEST_IMAGE) \
		--hello-image $(O)/guests/hello.img
endif

test-runtime-unix: $(O)/host/guests/hello $(O)/host/tests/test_runtime_wire
	$(Q)O=$(O) $(RUN_SUITE) runtime-unix sh -c '$(PYTHON) $(INTEGRATION)/test_runtime_unix.py $(O)/host/guests/hello && \
		$(O)/host/tests/test_runtime_wire'

$(O)/host/tests/test_runtime_wire: $(SRC)/tests/unit/test_runtime_wire.c $(RUNTIME_UNIX_SRCS)
	$(Q)mkdir -p $(@D)
	@echo "  HOSTCC  $(patsubst $(O)/%,%,$@)"
	$(Q)$(HOST_CC) $(RUNTIME_UNIX_CFLAGS) $(HOST_SANITIZE) -o $@ $< $(RUNTIME_UNIX_SRCS)
	$(Q)$(call multi_deps,$(HOST_CC) $(RUNTIME_UNIX_CFLAGS),$< $(RUNTIME_UNIX_SRCS))

# ---------------------------------------------------------------- control domain
ifeq ($(BOARD),orangepi-pc)
CONTROL_TEST_IMAGE := $(O)/test-images/control/sdcard.img
$(eval $(call board_image,$(O)/test-images/control,$(SRC)/hypervisor-cfg/test/orangepi-pc-control.toml,$(CONTROL_TEST_IMAGE)))
BENCH_IMAGE := $(O)/test-images/bench/sdcard.img
$(eval $(call board_image,$(O)/test-images/bench,$(SRC)/hypervisor-cfg/test/orangepi-pc-bench.toml,$(BENCH_IMAGE)))

TEST_SUITES += control
QEMU_SUITES += control
test-control: $(CONTROL_TEST_IMAGE) $(BENCH_IMAGE)
	$(Q)O=$(O) $(RUN_SUITE_SERIAL) control $(PYTHON) $(INTEGRATION)/test_control.py $(CONTROL_TEST_IMAGE) \
		--cycles-image $(BENCH_IMAGE)

BENCH_TARGETS += bench-control
bench-control: $(BENCH_IMAGE) $(SDCARD)
	$(Q)O=$(O) $(PYTHON) $(INTEGRATION)/bench_control.py $(BENCH_IMAGE) $(SDCARD)
endif

TEST_SUITES += plan
test-plan:
	$(Q)$(RUN_SUITE) plan $(PYTHON) $(SRC)/tests/unit/test_plan.py

TEST_SUITES += boot-bundle
$(O)/host/tests/test_boot_bundle: $(SRC)/tests/unit/test_boot_bundle.c $(SRC)/guests/control/boot_bundle.c
	$(Q)mkdir -p $(@D)
	@echo "  HOSTCC  $(patsubst $(O)/%,%,$@)"
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $(HOST_SANITIZE) -I$(SRC)/guests/control -o $@ $< $(SRC)/guests/control/boot_bundle.c
	$(Q)$(call multi_deps,$(HOST_CC) $(HOST_CFLAGS) -I$(SRC)/guests/control,$< $(SRC)/guests/control/boot_bundle.c)
test-boot-bundle: $(O)/host/tests/test_boot_bundle
	$(Q)$(RUN_SUITE) boot-bundle $<

# ---------------------------------------------------------------- the summary
# `make test` itself: a suite that does not build or leaves no results fails
# the run, named; skips are counted apart (tests/cli/test_summary.sh).
TEST_SUITES += summary
test-summary: $(CONFIG_MK)
	$(Q)$(RUN_SUITE) summary sh $(SRC)/tests/cli/test_summary.sh $(SRC) $(O) $(DL_DIR)

# ---------------------------------------------------------------- style
# Our C follows the root .clang-format; third-party code is never
# in the tree, so every C file here is checked.
TEST_SUITES += format
test-format:
	$(Q)$(RUN_SUITE) format sh $(SRC)/tools/check-format.sh $(SRC)

# ---------------------------------------------------------------- flash and provisioning
TEST_SUITES += devcfg flash
$(O)/host/tests/test_devcfg: $(SRC)/tests/unit/test_devcfg.c $(SRC)/guests/control/devcfg.c $(SRC)/guests/control/devcfg.h $(OTA_SAN_OBJS)
	@mkdir -p $(@D)
	@echo "  HOSTCC  $(patsubst $(O)/%,%,$@)"
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $(HOST_SANITIZE) -I$(SRC)/guests/control -I$(SRC)/ota -I$(O)/include \
		-o $@ $(SRC)/tests/unit/test_devcfg.c $(SRC)/guests/control/devcfg.c $(OTA_SAN_OBJS) -lcmocka -lmbedcrypto
test-devcfg: $(O)/host/tests/test_devcfg
	@$(RUN_SUITE) devcfg env CMOCKA_MESSAGE_OUTPUT=TAP $<

test-flash: $(O)/host/flotilla $(SDCARD)
	@$(RUN_SUITE) flash sh $(SRC)/tests/cli/test_flash.sh $(O)/host/flotilla $(SDCARD) $(O)/host/tests/flash

ifeq ($(BOARD),orangepi-pc)
TEST_SUITES += provision
QEMU_SUITES += provision
test-provision: $(O)/host/flotilla $(SDCARD)
	$(Q)O=$(O) $(RUN_SUITE_SERIAL) provision $(PYTHON) $(INTEGRATION)/test_provision.py $(O)/host/flotilla $(SDCARD) \
		$(PLAN) --guests-dir $(O)/guests
endif

# ---------------------------------------------------------------- device API (portable core)
TEST_SUITES += http
$(O)/host/tests/test_http: $(SRC)/tests/unit/test_http.c $(SRC)/guests/control/http.c $(SRC)/guests/control/http.h
	@mkdir -p $(@D)
	@echo "  HOSTCC  $(patsubst $(O)/%,%,$@)"
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $(HOST_SANITIZE) -I$(SRC)/guests/control -o $@ $< $(SRC)/guests/control/http.c -lcmocka
test-http: $(O)/host/tests/test_http
	@$(RUN_SUITE) http env CMOCKA_MESSAGE_OUTPUT=TAP $<
TEST_SUITES += http-fuzz
HTTP_FZ := $(O)/host/fuzz/http
HTTP_FUZZ_SECONDS_TEST ?= 5
$(HTTP_FZ)/fuzz_http: $(SRC)/tests/fuzz/fuzz_http.c $(SRC)/guests/control/http.c $(SRC)/guests/control/http.h
	@mkdir -p $(@D)
	@echo "  CLANG   $(patsubst $(O)/%,%,$@)"
	$(Q)clang -std=c11 -D_DEFAULT_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-I$(SRC)/guests/control -o $@ $< $(SRC)/guests/control/http.c
$(HTTP_FZ)/seeds/.stamp:
	@rm -rf $(@D) && mkdir -p $(@D)
	@printf '\003GET /v1/guests/www?x=1 HTTP/1.1\r\nHost: b\r\nAuthorization: Flotilla k\r\n\r\n' > $(@D)/get
	@printf '\005PUT /v1/guests/www HTTP/1.1\r\nHost: b\r\nContent-Length: 5\r\n\r\nhelloGET /v1/stream HTTP/1.1\r\nHost: b\r\n\r\n' > $(@D)/put
	@printf '\002GET /v1/follow HTTP/1.1\r\nHost: b\r\n\r\nGET /v1/stream HTTP/1.1\r\nHost: b\r\n\r\n' > $(@D)/follow
	@printf '\001POST /v1/guests/a/rollback HTTP/1.0\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n!' > $(@D)/post
	@touch $@
test-http-fuzz: $(HTTP_FZ)/fuzz_http $(HTTP_FZ)/seeds/.stamp
	@$(RUN_SUITE) http-fuzz sh -c 'mkdir -p $(HTTP_FZ)/corpus $(HTTP_FZ)/artifacts && \
		$(HTTP_FZ)/fuzz_http -max_total_time=$(HTTP_FUZZ_SECONDS_TEST) -max_len=9000 -timeout=10 \
		-artifact_prefix=$(HTTP_FZ)/artifacts/ $(HTTP_FZ)/corpus $(HTTP_FZ)/seeds >$(HTTP_FZ)/fuzz.log 2>&1 \
		&& echo "ok 1 - fuzz the device API HTTP machine: $$(grep -o "cov: [0-9]*" $(HTTP_FZ)/fuzz.log | tail -n 1), no crash" \
		|| { tail -n 30 $(HTTP_FZ)/fuzz.log; echo "not ok 1 - fuzz the device API HTTP machine (see $(HTTP_FZ)/fuzz.log)"; }'

# ---------------------------------------------------------------- slot store on the card
# Guests boot from the card (guests/control/store.c): seeding, boot from the
# card, trial/revert, anti-rollback, tampering, event log; power cuts.
ifeq ($(BOARD),orangepi-pc)
STORE_TEST_IMAGE := $(O)/test-images/store/sdcard.img
$(eval $(call board_image,$(O)/test-images/store,$(SRC)/hypervisor-cfg/test/orangepi-pc-store.toml,$(STORE_TEST_IMAGE)))
STORE_NEXT_IMAGE := $(O)/test-images/store-next/sdcard.img
$(eval $(call board_image,$(O)/test-images/store-next,$(SRC)/hypervisor-cfg/test/orangepi-pc-store-next.toml,$(STORE_NEXT_IMAGE)))
STORE_POWERCUT_IMAGE := $(O)/test-images/store-powercut/sdcard.img
$(eval $(call board_image,$(O)/test-images/store-powercut,$(SRC)/hypervisor-cfg/test/orangepi-pc-store-powercut.toml,$(STORE_POWERCUT_IMAGE)))
# Test updates name images the plan's guests do not (crash, ticker).
STORE_TEST_GUESTS := $(O)/guests/crash.img $(O)/guests/ticker.img $(O)/guests/hello.img
$(O)/test-images/store/guests.bnd $(O)/test-images/store-next/guests.bnd \
	$(O)/test-images/store-powercut/guests.bnd: $(STORE_TEST_GUESTS)

TEST_SUITES += store-boot store-powercut
QEMU_SUITES += store-boot store-powercut
test-store-boot: $(STORE_TEST_IMAGE) $(STORE_NEXT_IMAGE)
	$(Q)O=$(O) $(RUN_SUITE_SERIAL) store-boot $(PYTHON) $(INTEGRATION)/test_store_boot.py $(STORE_TEST_IMAGE) \
		--next-bundle $(O)/test-images/store-next/guests.bnd
test-store-powercut: $(STORE_POWERCUT_IMAGE)
	$(Q)O=$(O) $(RUN_SUITE_SERIAL) store-powercut $(PYTHON) $(INTEGRATION)/test_store_powercut.py $(STORE_POWERCUT_IMAGE)

BENCH_TARGETS += bench-store
bench-store: $(STORE_TEST_IMAGE)
	@O=$(O) $(PYTHON) $(INTEGRATION)/test_store_boot.py $(STORE_TEST_IMAGE) --bench $(O)/bench/storage.json
endif

# ---------------------------------------------------------------- make run
# `make run` prints a URL on the host that opens 2048 served by www.
ifeq ($(BOARD),orangepi-pc)
TEST_SUITES += make-run
QEMU_SUITES += make-run
test-make-run: $(SDCARD)
	$(Q)O=$(O) $(RUN_SUITE_SERIAL) make-run $(PYTHON) $(INTEGRATION)/test_make_run.py $(SDCARD)
endif

# The Linux dom0 + xl peer, measured beside Flotilla (make bench-peer).
include $(SRC)/tests/bench/peer.mk
