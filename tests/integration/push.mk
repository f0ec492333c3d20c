# Tests of pushing updates over the air (issue 12): the www versions the
# tests push, the bad bundles they must be refused, and the suites.
#
# $(O)/push/www-VARIANT.img / .bnd: guests/www/main.c built again with a
# version (WWW_VERSION) and a fault (WWW_FAULT, see main.c), signed as guest
# "www" for this board with the build's signing key, counter 1 (the factory
# image's), the plan's memory (16 MiB), 1 vCPU and the vNIC "lan":
#   v2           2.0.0  serves, names its version (X-Www-Version, /version)
#   crash-start  2.0.1  crashes before it listens
#   never-ready  2.0.2  serves but never calls flotilla_ready()
#   probe-500    2.0.3  ready, but /healthz answers 500
#   crash-later  2.0.4  ready and serving, crashes 5 s after every start
#   pad1m        2.1.0  v2 padded to a 1 MiB image (bench: push throughput)
#   pad1mb       2.1.1  the same, another version (power cuts alternate the two)
#   pad16m       2.2.0  v2 padded to a 16 MiB image (bench; needs slots of
#                       16 MiB or more: CONFIG_OTA_SLOT_SIZE_KB; pushed only
#                       by bench-push-16mib, on a build with such slots)
# $(O)/push/bad/: the bad bundles (tests/integration/push_fixtures.py) and
# index.json (class -> file, guest to push it to, expected error).
#
# push-fixtures: every fixture is what it claims, checked with `flotilla
# verify`/`inspect` on the host, and the www variants behave on the unix
# target (tests/integration/test_push_variants.py).
# push: the board on a LAN pushed all of the above (tests/integration/test_push.py).
PUSH_OUT := $(O)/push
PUSH_TESTS := $(SRC)/tests/integration
PUSH_SIGNING_PUB := $(patsubst %.key,%.pub,$(SIGNING_KEY))
# The operator key the board trusts (built in by the push pieces); override
# with make PUSH_OPERATOR_KEY=... if it lives elsewhere.
PUSH_OPERATOR_KEY ?= $(O)/keys/operator.key

PUSH_VARIANTS := v2 crash-start never-ready probe-500 crash-later pad1m pad1mb pad16m
PUSH_VERSION_v2 := 2.0.0
PUSH_VERSION_crash-start := 2.0.1
PUSH_VERSION_never-ready := 2.0.2
PUSH_VERSION_probe-500 := 2.0.3
PUSH_VERSION_crash-later := 2.0.4
PUSH_VERSION_pad1m := 2.1.0
PUSH_VERSION_pad1mb := 2.1.1
PUSH_VERSION_pad16m := 2.2.0
PUSH_FAULT_crash-start := WWW_FAULT_CRASH_START
PUSH_FAULT_never-ready := WWW_FAULT_NEVER_READY
PUSH_FAULT_probe-500 := WWW_FAULT_HEALTHZ_500
PUSH_FAULT_crash-later := WWW_FAULT_CRASH_LATER
# Image sizes of the padded variants (bytes).
PUSH_PAD_pad1m := 1048576
PUSH_PAD_pad1mb := 1048576
PUSH_PAD_pad16m := 16777216

push_defines = -DWWW_VERSION='"$(PUSH_VERSION_$(1))"' $(if $(PUSH_FAULT_$(1)),-DWWW_FAULT=$(PUSH_FAULT_$(1)))
PUSH_WWW_SHARED := $(O)/target/guests/www/http.o $(O)/target/guests/www/site.o $(RUNTIME_NET_OBJ) $(RUNTIME_NET_LIB)

$(O)/target/push/www-%/main.o: $(SRC)/guests/www/main.c $(SRC)/tests/integration/push.mk $(CONFIG_H) $(LIBFDT_INC)/.stamp | $(XEN_PUBLIC)/xen
	$(Q)mkdir -p $(@D)
	@echo "  CC      guests/www/main.c (push variant $*)"
	$(Q)$(TARGET_CC) $(TARGET_CFLAGS) $(RUNTIME_INCLUDES) -I$(SRC)/net $(call push_defines,$*) -c $< -o $@

$(PUSH_OUT)/www-%.raw: $(O)/target/push/www-%/main.o $(PUSH_WWW_SHARED) $(RUNTIME_START) $(RUNTIME_LIB) $(LIBFDT_OUT)/libfdt.a $(RUNTIME_LDSCRIPT)
	$(call link_xen_image,$(O)/target/push/www-$*/www.elf,$@,$< $(PUSH_WWW_SHARED))

# The padded variants: the image, then deterministic bytes up to the size
# (the zImage header's end stays where the code ends: Xen and the builder
# load the whole file, nothing reads the padding).
$(PUSH_OUT)/www-%.img: $(PUSH_OUT)/www-%.raw $(PUSH_TESTS)/push_fixtures.py
	$(Q)$(if $(PUSH_PAD_$*),$(PYTHON) $(PUSH_TESTS)/push_fixtures.py pad $< $(PUSH_PAD_$*) $@,cp $< $@)

$(PUSH_OUT)/www-%.bnd: $(PUSH_OUT)/www-%.img $(FLOTILLA_CLI) $(SIGNING_KEY)
	@echo "  SIGN    $(patsubst $(O)/%,%,$@) (www $(PUSH_VERSION_$*))"
	$(Q)$(FLOTILLA_CLI) sign --key $(SIGNING_KEY) --name www --version $(PUSH_VERSION_$*) --counter 1 \
		--board $(BOARD) --memory 16 --vcpus 1 --nic lan $< -o $@ >/dev/null

# The same variants for the runtime's unix target: their behaviour is
# checked on the host before any board runs them.
$(O)/host/push/www-%: $(www_UNIX_SRCS) $(SRC)/tests/integration/push.mk $(CONFIG_H) $(WWW_SITE_DATA)
	$(Q)mkdir -p $(@D)
	@echo "  HOSTCC  $(patsubst $(O)/%,%,$@)"
	$(Q)$(HOST_CC) $(RUNTIME_UNIX_CFLAGS) $(RUNTIME_NET_UNIX_CFLAGS) $(call push_defines,$*) -o $@ $(www_UNIX_SRCS)
	$(Q)$(call multi_deps,$(HOST_CC) $(RUNTIME_UNIX_CFLAGS) $(RUNTIME_NET_UNIX_CFLAGS),$(www_UNIX_SRCS))

PUSH_UNIX := $(addprefix $(O)/host/push/www-,v2 crash-start never-ready probe-500 crash-later)
PUSH_BUNDLES := $(PUSH_VARIANTS:%=$(PUSH_OUT)/www-%.bnd)
PUSH_FIXTURES := $(PUSH_OUT)/bad/index.json
.SECONDARY: $(PUSH_VARIANTS:%=$(PUSH_OUT)/www-%.raw) $(PUSH_VARIANTS:%=$(PUSH_OUT)/www-%.img) \
	$(PUSH_VARIANTS:%=$(O)/target/push/www-%/main.o)

$(PUSH_FIXTURES): $(PUSH_TESTS)/push_fixtures.py $(PUSH_OUT)/www-v2.bnd $(PUSH_OUT)/www-v2.img \
		$(O)/guests/www.img $(O)/guests/hello.img $(FLOTILLA_CLI) $(SIGNING_KEY) $(CONFIG_MK)
	@echo "  GEN     $(patsubst $(O)/%,%,$@)"
	$(Q)$(PYTHON) $(PUSH_TESTS)/push_fixtures.py bad --flotilla $(FLOTILLA_CLI) --key $(SIGNING_KEY) \
		--board $(BOARD) --slot-kb $(CONFIG_OTA_SLOT_SIZE_KB) --www-v2 $(PUSH_OUT)/www-v2.img \
		--www-raw $(O)/guests/www.img --hello $(O)/guests/hello.img --out $(@D)

.PHONY: push-bundles
push-bundles: $(PUSH_BUNDLES) $(PUSH_FIXTURES)

TEST_SUITES += push-fixtures
QEMU_SUITES += push-fixtures
.PHONY: test-push-fixtures
test-push-fixtures: $(PUSH_BUNDLES) $(PUSH_FIXTURES) $(PUSH_UNIX)
	$(Q)$(RUN_SUITE_SERIAL) push-fixtures env O=$(O) $(PYTHON) $(PUSH_TESTS)/test_push_variants.py \
		--flotilla $(FLOTILLA_CLI) --pub $(PUSH_SIGNING_PUB) --board $(BOARD) --out $(O) \
		--bundles $(PUSH_OUT) --unix $(O)/host/push --slot-kb $(CONFIG_OTA_SLOT_SIZE_KB)

# The board suite: a plan whose www declares its probe and a short
# ready_timeout_s (hypervisor-cfg/test/orangepi-pc-push.toml). Until
# plan.py knows those keys the image is not made and the suite says why.
ifeq ($(BOARD),orangepi-pc)
PUSH_PLAN := $(SRC)/hypervisor-cfg/test/orangepi-pc-push.toml
PUSH_IMAGE := $(O)/test-images/push/sdcard.img
PUSH_PLAN_OK := $(shell $(PLAN_TOOL) check $(PUSH_PLAN) $(PLAN_ARGS) >/dev/null 2>&1 && echo ok)
ifeq ($(PUSH_PLAN_OK),ok)
$(eval $(call board_image,$(O)/test-images/push,$(PUSH_PLAN),$(PUSH_IMAGE)))
PUSH_IMAGE_DEP := $(PUSH_IMAGE)
endif
TEST_SUITES += push
QEMU_SUITES += push
.PHONY: test-push
test-push: $(PUSH_IMAGE_DEP) $(PUSH_BUNDLES) $(PUSH_FIXTURES)
	$(Q)$(if $(PUSH_PLAN_OK),,echo "push: $(PUSH_PLAN) does not check (plan.py lacks probe/ready_timeout_s?)" >&2; exit 1;) \
	O=$(O) $(RUN_SUITE_SERIAL) push $(PYTHON) $(PUSH_TESTS)/test_push.py $(PUSH_IMAGE) \
		--flotilla $(FLOTILLA_CLI) --operator-key $(PUSH_OPERATOR_KEY) --signing-key $(SIGNING_KEY) \
		--bundles $(PUSH_OUT)

# Bench: push throughput (1 MiB, 16 MiB), the install's RAM, swap timings,
# the switch-over gap under load, rollback time -> build/bench/ota.json (the
# same script, its figures merged; docs/benchmarks.md lists them).
#
# The 16 MiB push needs slots larger than 16 MiB, which the default card
# (4 MiB slots) does not have: a second build of the push image in its own
# directory, $(PUSH16_O), configured from this one with 17 MiB slots (or
# this build's, if larger), a store partition for CONFIG_OTA_MAX_GUESTS
# guests' two of them and a card large enough for the partitions (the next
# power of two). Only `make bench` builds it; the board run there pushes
# www-pad16m.bnd alone. (Recursive variables: the shell runs only then.)
PUSH16_O := $(O)/bench-ota16
PUSH16_SLOT_KB = $(shell echo $$(($(CONFIG_OTA_SLOT_SIZE_KB) > 17408 ? $(CONFIG_OTA_SLOT_SIZE_KB) : 17408)))
PUSH16_STORE_MB = $(shell echo $$(((2 * $(CONFIG_OTA_MAX_GUESTS) * ($(PUSH16_SLOT_KB) + 4) + 16 + \
	$(or $(CONFIG_OTA_EVENT_LOG_KB),0) + 1023) / 1024)))
PUSH16_SD_MB = $(shell n=1; while [ $$n -lt $$((1 + $(CONFIG_BOOT_PART_SIZE_MB) + $(PUSH16_STORE_MB))) ]; do \
	n=$$((n * 2)); done; echo $$n)
PUSH16_SET = CONFIG_OTA_SLOT_SIZE_KB=$(PUSH16_SLOT_KB) CONFIG_OTA_STORE_SIZE_MB=$(PUSH16_STORE_MB) \
	CONFIG_SDCARD_SIZE_MB=$(PUSH16_SD_MB)
BENCH_TARGETS += bench-push
.PHONY: bench-push bench-push-16mib bench-push-16mib-run
bench-push: $(PUSH_IMAGE_DEP) $(PUSH_BUNDLES) $(PUSH_FIXTURES)
	$(Q)$(if $(PUSH_PLAN_OK),,echo "bench-push: $(PUSH_PLAN) does not check" >&2; exit 1;) \
	O=$(O) $(PYTHON) $(PUSH_TESTS)/test_push.py $(PUSH_IMAGE) --bench $(O)/bench/ota.json --only bench \
		--flotilla $(FLOTILLA_CLI) --operator-key $(PUSH_OPERATOR_KEY) --signing-key $(SIGNING_KEY) \
		--bundles $(PUSH_OUT); rc=$$?; \
	$(MAKE) --no-print-directory -f $(SRC)/Makefile bench-push-16mib || rc=1; exit $$rc

# The derived configuration is rewritten only when it changes, so a second
# run rebuilds nothing; then the sub-make builds and runs the bench there.
bench-push-16mib: $(CONFIG)
	$(Q)mkdir -p $(PUSH16_O)
	$(Q)sed $(foreach v,$(PUSH16_SET),-e '/^# *$(word 1,$(subst =, ,$(v)))[= ]/d' \
		-e '/^$(word 1,$(subst =, ,$(v)))=/d') $(CONFIG) > $(PUSH16_O)/bench.config.tmp && \
	printf '%s\n' $(PUSH16_SET) >> $(PUSH16_O)/bench.config.tmp && \
	if cmp -s $(PUSH16_O)/bench.config.tmp $(PUSH16_O)/bench.config && [ -f $(PUSH16_O)/.config ]; then \
		rm -f $(PUSH16_O)/bench.config.tmp; \
	else mv -f $(PUSH16_O)/bench.config.tmp $(PUSH16_O)/bench.config && \
		cp $(PUSH16_O)/bench.config $(PUSH16_O)/.config; fi
	@echo "  BENCH   16 MiB push: $(patsubst $(O)/%,%,$(PUSH16_O)) ($(PUSH16_SET))"
	$(Q)$(MAKE) --no-print-directory -f $(SRC)/Makefile O=$(PUSH16_O) DL_DIR=$(DL_DIR) \
		PUSH16_BENCH=$(O)/bench/ota.json bench-push-16mib-run

# In the sub-make (O=$(PUSH16_O)): its own keys, image and bundles.
bench-push-16mib-run: $(PUSH_IMAGE_DEP) $(PUSH_OUT)/www-pad16m.bnd
	$(Q)$(if $(PUSH16_BENCH),,echo "bench-push-16mib-run: run make bench-push-16mib" >&2; exit 1;) \
	$(if $(PUSH_PLAN_OK),,echo "bench-push: $(PUSH_PLAN) does not check" >&2; exit 1;) \
	O=$(O) $(PYTHON) $(PUSH_TESTS)/test_push.py $(PUSH_IMAGE) --bench $(PUSH16_BENCH) --only bench16 \
		--flotilla $(FLOTILLA_CLI) --operator-key $(PUSH_OPERATOR_KEY) --signing-key $(SIGNING_KEY) \
		--bundles $(PUSH_OUT)
endif
