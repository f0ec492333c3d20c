# The stop-then-start swap on the board (issue 12): a plan whose only guest,
# ticker, is too large for Xen to hold a second instance of it
# (hypervisor-cfg/test/orangepi-pc-push-big.toml), and ticker versions to
# push to it (tests/integration/test_push_big.py):
#   $(O)/push-big/ticker-v2.bnd           2.0.0  ready once started, names its version
#   $(O)/push-big/ticker-never-ready.bnd  2.0.1  never calls flotilla_ready()
# guests/ticker/main.c built again with TICKER_VERSION / TICKER_NEVER_READY,
# signed as guest "ticker" for this board with the build's signing key,
# counter 1 (the factory image's), the plan's memory for ticker, 1 vCPU, no
# vNIC. (Own variables: this file is read before push.mk.)
ifeq ($(BOARD),orangepi-pc)
PUSH_BIG_OUT := $(O)/push-big
PUSH_BIG_PLAN := $(SRC)/hypervisor-cfg/test/orangepi-pc-push-big.toml
PUSH_BIG_IMAGE := $(O)/test-images/push-big/sdcard.img
PUSH_BIG_OPERATOR_KEY ?= $(O)/keys/operator.key
# ticker's memory in the plan: what the bundles ask for.
PUSH_BIG_TICKER_MB := $(shell $(PYTHON) -c 'import sys, tomllib; \
	print(next(g["memory_mb"] for g in tomllib.load(open(sys.argv[1], "rb"))["guest"] if g["name"] == "ticker"))' \
	$(PUSH_BIG_PLAN))

PUSH_BIG_VARIANTS := v2 never-ready
PUSH_BIG_VERSION_v2 := 2.0.0
PUSH_BIG_VERSION_never-ready := 2.0.1
PUSH_BIG_DEFINES_v2 := -DTICKER_VERSION='"2.0.0"'
PUSH_BIG_DEFINES_never-ready := -DTICKER_VERSION='"2.0.1"' -DTICKER_NEVER_READY

$(O)/target/push-big/ticker-%/main.o: $(SRC)/guests/ticker/main.c $(SRC)/tests/integration/push-big.mk $(CONFIG_H) $(LIBFDT_INC)/.stamp | $(XEN_PUBLIC)/xen
	$(Q)mkdir -p $(@D)
	@echo "  CC      guests/ticker/main.c (push-big variant $*)"
	$(Q)$(TARGET_CC) $(TARGET_CFLAGS) $(RUNTIME_INCLUDES) $(PUSH_BIG_DEFINES_$*) -c $< -o $@

$(PUSH_BIG_OUT)/ticker-%.img: $(O)/target/push-big/ticker-%/main.o $(RUNTIME_START) $(RUNTIME_LIB) $(LIBFDT_OUT)/libfdt.a $(RUNTIME_LDSCRIPT)
	$(call link_xen_image,$(O)/target/push-big/ticker-$*/ticker.elf,$@,$<)

$(PUSH_BIG_OUT)/ticker-%.bnd: $(PUSH_BIG_OUT)/ticker-%.img $(FLOTILLA_CLI) $(SIGNING_KEY) $(PUSH_BIG_PLAN)
	@echo "  SIGN    $(patsubst $(O)/%,%,$@) (ticker $(PUSH_BIG_VERSION_$*), $(PUSH_BIG_TICKER_MB) MiB)"
	$(Q)$(FLOTILLA_CLI) sign --key $(SIGNING_KEY) --name ticker --version $(PUSH_BIG_VERSION_$*) --counter 1 \
		--board $(BOARD) --memory $(PUSH_BIG_TICKER_MB) --vcpus 1 $< -o $@ >/dev/null

PUSH_BIG_BUNDLES := $(PUSH_BIG_VARIANTS:%=$(PUSH_BIG_OUT)/ticker-%.bnd)
.SECONDARY: $(PUSH_BIG_VARIANTS:%=$(PUSH_BIG_OUT)/ticker-%.img) \
	$(PUSH_BIG_VARIANTS:%=$(O)/target/push-big/ticker-%/main.o)

$(eval $(call board_image,$(O)/test-images/push-big,$(PUSH_BIG_PLAN),$(PUSH_BIG_IMAGE)))

# The board on QEMU user networking (the control domain's API forwarded to
# a host port; ticker has no network): pushes that must go stop-then-start.
TEST_SUITES += push-big
QEMU_SUITES += push-big
.PHONY: test-push-big
test-push-big: $(PUSH_BIG_IMAGE) $(PUSH_BIG_BUNDLES)
	$(Q)O=$(O) $(RUN_SUITE_SERIAL) push-big $(PYTHON) $(SRC)/tests/integration/test_push_big.py $(PUSH_BIG_IMAGE) \
		--plan $(PUSH_BIG_PLAN) --flotilla $(FLOTILLA_CLI) --operator-key $(PUSH_BIG_OPERATOR_KEY) \
		--bundles $(PUSH_BIG_OUT)

# The same run's figures (the gaps, the time to the verdict) merged into
# $(O)/bench/ota.json as ota_stop_start_*.
BENCH_TARGETS += bench-push-big
.PHONY: bench-push-big
bench-push-big: $(PUSH_BIG_IMAGE) $(PUSH_BIG_BUNDLES)
	$(Q)O=$(O) $(PYTHON) $(SRC)/tests/integration/test_push_big.py $(PUSH_BIG_IMAGE) \
		--plan $(PUSH_BIG_PLAN) --flotilla $(FLOTILLA_CLI) --operator-key $(PUSH_BIG_OPERATOR_KEY) \
		--bundles $(PUSH_BIG_OUT) --bench $(O)/bench/ota.json
endif
