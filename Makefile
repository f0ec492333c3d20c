# Flotilla top-level build. See README.md; `make help` lists the targets.
#
# Out-of-tree builds: make O=dir (default build/). Configuration: Kconfig via
# Debian's python3-kconfiglib; with no .config the orangepi-pc defaults apply.

FLOTILLA_VERSION := 0.1.0
export FLOTILLA_VERSION

O ?= build
override O := $(abspath $(O))
SRC := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
DEFAULT_BOARD := orangepi-pc

PYTHON := /usr/bin/python3
KCONFIG_ENV := KCONFIG_CONFIG=$(O)/.config srctree=$(SRC)
# Downloaded and unpacked dependencies, shared by every build directory
# (like Buildroot's DL_DIR): $(SRC)/dl by default (git-ignored), DL_DIR=dir
# to put it elsewhere. DEPS=dir is the older name and still works.
# tools/deps.sh locks it, so concurrent makes with different O= are safe.
ifdef DEPS
DL_DIR ?= $(DEPS)
endif
DL_DIR ?= $(SRC)/dl
override DL_DIR := $(abspath $(DL_DIR))
override DEPS := $(DL_DIR)
export DEPS DL_DIR
DEPS_STAMP := $(DEPS)/.complete
CONFIG := $(O)/.config
CONFIG_MK := $(O)/include/config.mk
CONFIG_H := $(O)/include/generated/autoconf.h

.DEFAULT_GOAL := all
# V=1 shows full commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif
# A recipe that fails or is interrupted never leaves its target behind:
# the next make redoes it. Recipes that write other files than $@ write
# them under a temporary name and rename them last.
.DELETE_ON_ERROR:
.SUFFIXES:

# Targets that must not need the dependencies or a configuration.
NOCONFIG_GOALS := deps clean distclean help %_defconfig
ifneq ($(filter-out $(NOCONFIG_GOALS),$(if $(MAKECMDGOALS),$(MAKECMDGOALS),all)),)
NEED_CONFIG := y
endif
ifneq ($(filter %_defconfig,$(MAKECMDGOALS)),)
NEED_CONFIG :=
endif

# ---------------------------------------------------------------- deps
.PHONY: deps
deps:
	$(Q)sh $(SRC)/tools/deps.sh $(DEPS)

$(DEPS_STAMP):
	$(Q)sh $(SRC)/tools/deps.sh $(DEPS)

# ---------------------------------------------------------------- config
KCONFIG_FILES := $(SRC)/Kconfig $(wildcard $(SRC)/net/Kconfig $(SRC)/ota/Kconfig)

%_defconfig: | $(DEPS_STAMP)
	$(Q)test -f $(SRC)/boards/$*/defconfig || { echo "error: no board '$*' (see boards/)" >&2; exit 1; }
	$(Q)mkdir -p $(O)
	$(Q)cd $(SRC) && $(KCONFIG_ENV) KCONFIG_CONFIG=$(CONFIG).tmp $(PYTHON) -m defconfig --kconfig Kconfig \
		boards/$*/defconfig >/dev/null && mv -f $(CONFIG).tmp $(CONFIG)
	@echo "configured $(O)/.config for $*"

$(CONFIG): | $(DEPS_STAMP)
	$(Q)mkdir -p $(O)
	$(Q)cd $(SRC) && $(KCONFIG_ENV) KCONFIG_CONFIG=$@.tmp $(PYTHON) -m defconfig --kconfig Kconfig \
		boards/$(DEFAULT_BOARD)/defconfig >/dev/null && mv -f $@.tmp $@
	@echo "no configuration: using boards/$(DEFAULT_BOARD)/defconfig"

$(CONFIG_MK): $(CONFIG) $(KCONFIG_FILES)
	$(Q)mkdir -p $(dir $(CONFIG_H))
	$(Q)cd $(SRC) && $(KCONFIG_ENV) $(PYTHON) -m olddefconfig Kconfig >/dev/null
	$(Q)cd $(SRC) && $(KCONFIG_ENV) $(PYTHON) -m genconfig Kconfig \
		--header-path $(CONFIG_H) --config-out $(CONFIG_MK).tmp
	$(Q)sed -e 's/^\(CONFIG_[A-Za-z0-9_]*\)="\(.*\)"$$/\1 := \2/' -e 's/^\(CONFIG_[A-Za-z0-9_]*\)=/\1 := /' \
		$(CONFIG_MK).tmp > $@ && rm -f $(CONFIG_MK).tmp

.PHONY: menuconfig savedefconfig
menuconfig: $(CONFIG)
	$(Q)cd $(SRC) && $(KCONFIG_ENV) MENUCONFIG_STYLE=aquatic $(PYTHON) -m menuconfig Kconfig

savedefconfig: $(CONFIG)
	$(Q)cd $(SRC) && $(KCONFIG_ENV) $(PYTHON) -m savedefconfig --kconfig Kconfig --out $(O)/defconfig
	@echo "wrote $(O)/defconfig (copy it to boards/<board>/defconfig)"

ifdef NEED_CONFIG
include $(CONFIG_MK)
BOARD := $(CONFIG_BOARD)
# Empty on the first pass, before make has generated config.mk and restarted.
ifneq ($(BOARD),)
include $(SRC)/boards/$(BOARD)/board.mk
endif
endif

# ---------------------------------------------------------------- toolchains
HOST_CC ?= gcc
# Header dependencies come from the compiler: -MMD writes foo.d next to
# every foo.o (-MP: a deleted header is not an error), and the .d files are
# included at the end of this Makefile. A rule that compiles several sources
# into one program in one step writes $@.d with $(call multi_deps,...)
# instead (-MMD there would leave one .d per source in the current directory).
# TARGET_CFLAGS carry DEPFLAGS; host rules that compile objects add them.
DEPFLAGS := -MMD -MP
multi_deps = $(1) -MM -MP -MT $@ $(2) > $@.d.tmp && mv -f $@.d.tmp $@.d
HOST_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -O1 -g
HOST_SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

CROSS_COMPILE ?= arm-none-eabi-
# CROSS is the older name, kept for fragments that still use it.
CROSS = $(CROSS_COMPILE)
TARGET_CC := $(CROSS_COMPILE)gcc
TARGET_OBJCOPY := $(CROSS_COMPILE)objcopy
TARGET_SIZE := $(CROSS_COMPILE)size
# Cortex-A7, Thumb-2, soft float (picolibc's thumb/v7-a/nofp multilib).
# -mno-unaligned-access: code runs with the MMU off until mmu_init().
TARGET_ARCH := -mthumb -march=armv7-a -mfloat-abi=soft -mno-unaligned-access
TARGET_CFLAGS_BASE := $(TARGET_ARCH) --specs=picolibc.specs -Os -g -fPIE \
	-ffunction-sections -fdata-sections -fno-common -I$(O)/include $(DEPFLAGS)
TARGET_CFLAGS := $(TARGET_CFLAGS_BASE) -std=c11 -Wall -Wextra -Werror
# Third-party code compiled for the target gets its own, quieter flags.
TARGET_CFLAGS_3RDPARTY := $(TARGET_CFLAGS_BASE) -w

# ---------------------------------------------------------------- tests
# Each suite writes TAP ("ok N - name" / "not ok N - name", skips as
# "ok N - name # SKIP reason") to $(O)/test-results/<suite>.tap through
# tools/run-suite.sh; `make test` counts them with tools/test-summary.sh,
# which also fails every registered suite that left no results. Fragments
# add suite names to TEST_SUITES and define test-<suite>; suites that boot
# QEMU also go into QEMU_SUITES and use RUN_SUITE_SERIAL.
TEST_RESULTS := $(O)/test-results
RUN_SUITE := sh $(SRC)/tools/run-suite.sh $(TEST_RESULTS)
RUN_SUITE_SERIAL := sh $(SRC)/tools/run-suite.sh --serial $(TEST_RESULTS)
TEST_SUITES :=
QEMU_SUITES :=
BENCH_TARGETS :=
FUZZ_TARGETS :=
ALL_TARGETS :=

# Signing: the fleet's key from Kconfig, or a development key made in the
# build directory (never committed) that the board then trusts alone.
ifdef NEED_CONFIG
ifeq ($(strip $(CONFIG_OTA_SIGNING_KEY)),)
DEV_KEY := $(O)/keys/dev
SIGNING_KEY := $(DEV_KEY).key
ifeq ($(strip $(CONFIG_OTA_TRUSTED_KEYS)),)
CONFIG_OTA_TRUSTED_KEYS := $(DEV_KEY).pub
endif
else
SIGNING_KEY := $(if $(filter /%,$(CONFIG_OTA_SIGNING_KEY)),$(CONFIG_OTA_SIGNING_KEY),$(SRC)/$(CONFIG_OTA_SIGNING_KEY))
endif
# Operators (who may act over the device API): the fleet's from Kconfig, or
# a development operator key made in the build directory.
ifeq ($(strip $(CONFIG_OTA_OPERATOR_KEYS)),)
DEV_OPERATOR_KEY := $(O)/keys/operator
CONFIG_OTA_OPERATOR_KEYS := $(DEV_OPERATOR_KEY).pub
endif
endif

# Fragments need the board's data: skip them on make's first pass, before
# config.mk exists (make then restarts with it).
ifdef NEED_CONFIG
ifneq ($(BOARD),)
include $(SRC)/guests/runtime/runtime.mk
include $(SRC)/guests/control/control.mk
include $(wildcard $(SRC)/guests/*/guest.mk)
include $(wildcard $(SRC)/ota/ota.mk)
include $(wildcard $(SRC)/net/net.mk)
include $(SRC)/tools/tools.mk
include $(wildcard $(SRC)/tools/flotilla/flotilla.mk)
include $(SRC)/tests/tests.mk
include $(wildcard $(SRC)/tests/integration/*.mk)
endif
endif

# ---------------------------------------------------------------- top level
.PHONY: all run test bench fuzz clean distclean help
all: $(ALL_TARGETS)

# Suites run in parallel (-j$(TEST_JOBS) unless make was given -j): first
# the host suites, then the QEMU suites, which wait for each other
# (RUN_SUITE_SERIAL). -k: one suite that fails to build stops no other; the
# summary names it.
TEST_JOBS ?= $(shell nproc)
test_jobs = $(if $(findstring jobserver,$(MAKEFLAGS)),,-j$(TEST_JOBS))
test: $(ALL_TARGETS)
	$(Q)rm -rf $(TEST_RESULTS) && mkdir -p $(TEST_RESULTS)
	$(Q)$(MAKE) --no-print-directory $(test_jobs) -k \
		$(addprefix test-,$(filter-out $(QEMU_SUITES),$(TEST_SUITES))) || true
	$(Q)$(MAKE) --no-print-directory $(test_jobs) -k \
		$(addprefix test-,$(filter $(QEMU_SUITES),$(TEST_SUITES))) || true
	$(Q)sh $(SRC)/tools/test-summary.sh $(TEST_RESULTS) $(TEST_SUITES)

bench: $(BENCH_TARGETS)

fuzz: $(FUZZ_TARGETS)

clean:
	rm -rf $(O)/host $(O)/target $(O)/guests $(O)/image $(O)/test-results $(O)/sdcard.img $(O)/control.img

distclean:
	rm -rf $(O)

help:
	@echo "Flotilla $(FLOTILLA_VERSION)"
	@echo "  make                    build $(O)/sdcard.img (and $(O)/host/flotilla)"
	@echo "  make <board>_defconfig  configure for a board: $(notdir $(wildcard $(SRC)/boards/*))"
	@echo "  make menuconfig         edit the configuration; make savedefconfig to save it"
	@echo "  make run                boot the image in QEMU (orangepi-pc)"
	@echo "  make test               host unit tests + QEMU integration tests"
	@echo "  make bench              benchmarks (figures printed and written to $(O)/bench/)"
	@echo "  make fuzz               longer fuzzing runs"
	@echo "  make deps               install/fetch dependencies (run by the others as needed)"
	@echo "  make versions           what the image is built from ($(O)/versions.txt)"
	@echo "  O=dir                   out-of-tree build directory (default build/)"
	@echo "  DL_DIR=dir              shared download directory (default $(SRC)/dl; DEPS= also works)"
	@echo "  V=1                     show every command;  -jN  build in parallel"
	@echo "  CROSS_COMPILE=prefix    target toolchain prefix (default arm-none-eabi-)"

# ---------------------------------------------------------------- dependencies
# The compiler's header dependencies of everything built so far (DEPFLAGS).
ifdef NEED_CONFIG
-include $(shell find $(O)/target $(O)/host $(O)/bench -name '*.d' -type f 2>/dev/null)
endif
