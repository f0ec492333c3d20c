# ota/: bundle format, verifier, slot store. Included by the top-level Makefile.
#
# Builds, from the same sources:
#   $(O)/target/ota/libota.a                 the device side, Cortex-A7 -Os
#   $(O)/target/mbedtls/libmbedcrypto-min.a  mbedTLS with ota/mbedtls_config_target.h
#   $(O)/host/ota/...                        objects for the host CLI (system mbedTLS)
#   $(O)/host/ota-san/...                    the same under ASan+UBSan, for the tests
#   $(O)/host/ota-min/...                    host copy of the target crypto, for bench-ota
# Tests and fuzzing: tests/unit/test_ota_*.c, tests/sim/, tests/fuzz/fuzz_ota_*.c,
# tests/cli/test_cli_ota.sh (rules below).

OTA_SRC := $(SRC)/ota
OTA_MODULES := ota manifest bundle crypto_mbedtls blockdev slot_store install auth event_log
# Header dependencies come from the compiler (DEPFLAGS, multi_deps); this
# list is kept only for fragments elsewhere that still name it.
OTA_HEADERS := $(wildcard $(OTA_SRC)/*.h $(OTA_SRC)/host/*.h)
MBEDTLS_SRC := $(DEPS)/mbedtls-src
OTA_MBEDTLS_MODULES := sha256 ecdsa ecp ecp_curves bignum asn1parse asn1write constant_time \
	platform platform_util memory_buffer_alloc
OTA_MBEDTLS_CONFIG := -I$(OTA_SRC) -I$(MBEDTLS_SRC)/include -DMBEDTLS_CONFIG_FILE='"mbedtls_config_target.h"'

# The keys the device trusts: relative paths are taken from the source tree.
OTA_KEY_FILES := $(foreach k,$(CONFIG_OTA_TRUSTED_KEYS),$(if $(filter /%,$(k)),$(k),$(SRC)/$(k)))
# The operators the device API trusts (ota/operator_keys.h): a separate table.
OTA_OPERATOR_KEY_FILES := $(foreach k,$(CONFIG_OTA_OPERATOR_KEYS),$(if $(filter /%,$(k)),$(k),$(SRC)/$(k)))

# The store partition must hold every guest's two slots and their 1 KiB head
# areas (4 KiB for the largest blocks), 16 KiB of metadata and the event log.
ifneq ($(CONFIG_OTA_SLOT_SIZE_KB),)
OTA_STORE_NEED_KB := $(shell echo $$((2 * $(CONFIG_OTA_MAX_GUESTS) * ($(CONFIG_OTA_SLOT_SIZE_KB) + 4) + 16 + $(or $(CONFIG_OTA_EVENT_LOG_KB),0))))
ifeq ($(shell test $(OTA_STORE_NEED_KB) -le $$(($(CONFIG_OTA_STORE_SIZE_MB) * 1024)) && echo ok),)
$(error OTA: $(CONFIG_OTA_MAX_GUESTS) guests x 2 slots x ($(CONFIG_OTA_SLOT_SIZE_KB) + 4) KiB + 16 KiB + the event log do not fit in CONFIG_OTA_STORE_SIZE_MB=$(CONFIG_OTA_STORE_SIZE_MB): lower OTA_MAX_GUESTS or OTA_SLOT_SIZE_KB (make menuconfig))
endif
endif

# ---------------------------------------------------------------- target
OTA_T := $(O)/target/ota
OTA_MBEDTLS_T := $(O)/target/mbedtls
OTA_TARGET_OBJS := $(addprefix $(OTA_T)/,$(addsuffix .o,$(OTA_MODULES) trusted_keys operator_keys))
OTA_MBEDTLS_TARGET_OBJS := $(addprefix $(OTA_MBEDTLS_T)/,$(addsuffix .o,$(OTA_MBEDTLS_MODULES)))

$(OTA_MBEDTLS_T)/%.o: $(MBEDTLS_SRC)/library/%.c $(OTA_SRC)/mbedtls_config_target.h | $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(TARGET_CC) $(TARGET_CFLAGS_3RDPARTY) $(OTA_MBEDTLS_CONFIG) -c $< -o $@

$(OTA_MBEDTLS_T)/libmbedcrypto-min.a: $(OTA_MBEDTLS_TARGET_OBJS)
	$(Q)rm -f $@ && $(CROSS_COMPILE)ar rcs $@ $^
	@echo "  AR      $@"

$(OTA_T)/%.o: $(OTA_SRC)/%.c $(CONFIG_H) | $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(TARGET_CC) $(TARGET_CFLAGS) $(OTA_MBEDTLS_CONFIG) -fstack-usage -c $< -o $@

$(OTA_T)/trusted_keys.c: $(O)/host/flotilla $(OTA_KEY_FILES) $(CONFIG_MK)
	$(Q)mkdir -p $(@D)
	$(Q)$(O)/host/flotilla embed-keys -o $@ $(OTA_KEY_FILES)

$(OTA_T)/trusted_keys.o: $(OTA_T)/trusted_keys.c $(CONFIG_H)
	$(Q)$(TARGET_CC) $(TARGET_CFLAGS) -I$(OTA_SRC) -c $< -o $@

$(OTA_T)/operator_keys.c: $(O)/host/flotilla $(OTA_OPERATOR_KEY_FILES) $(CONFIG_MK)
	$(Q)mkdir -p $(@D)
	$(Q)$(O)/host/flotilla embed-keys --table operator -o $@ $(OTA_OPERATOR_KEY_FILES)

$(OTA_T)/operator_keys.o: $(OTA_T)/operator_keys.c $(CONFIG_H)
	$(Q)$(TARGET_CC) $(TARGET_CFLAGS) -I$(OTA_SRC) -c $< -o $@

$(OTA_T)/libota.a: $(OTA_TARGET_OBJS)
	$(Q)rm -f $@ && $(CROSS_COMPILE)ar rcs $@ $^
	@echo "  AR      $@"

# Size probes: minimal programs linked with --gc-sections, so the figures are
# what a control domain pays for the verifier and for the slot store.
# Generous regions: the probes are measured, never run.
OTA_PROBE_LDFLAGS := -nostartfiles -Wl,--gc-sections -Wl,-e,ota_probe_main -Wl,--no-warn-rwx-segments \
	-Wl,--defsym=__flash_size=0x100000 -Wl,--defsym=__ram_size=0x100000
$(OTA_T)/probe_%.o: $(OTA_SRC)/probe/%.c $(CONFIG_H)
	$(Q)mkdir -p $(@D)
	$(Q)$(TARGET_CC) $(TARGET_CFLAGS) -I$(OTA_SRC) -c $< -o $@

# Keep the probe objects (make would delete them as intermediates).
.SECONDARY: $(OTA_T)/probe_verifier.o $(OTA_T)/probe_slot_store.o $(OTA_T)/probe_install.o
$(OTA_T)/size-%.elf: $(OTA_T)/probe_%.o $(OTA_T)/libota.a $(OTA_MBEDTLS_T)/libmbedcrypto-min.a
	$(Q)$(TARGET_CC) $(TARGET_CFLAGS) $(OTA_PROBE_LDFLAGS) -o $@ $^

OTA_SIZE_REPORT := $(OTA_T)/sizes.txt
$(OTA_SIZE_REPORT): $(OTA_T)/libota.a $(OTA_MBEDTLS_T)/libmbedcrypto-min.a $(OTA_T)/size-verifier.elf \
		$(OTA_T)/size-slot_store.elf $(OTA_T)/size-install.elf
	$(Q)set -e; { echo "ota: target sizes (arm-none-eabi-size, Cortex-A7 Thumb-2 -Os)"; \
	  $(TARGET_SIZE) -t $(OTA_T)/libota.a | sed 's|$(O)/||'; \
	  $(TARGET_SIZE) -t $(OTA_MBEDTLS_T)/libmbedcrypto-min.a | tail -n 1 | sed 's|(TOTALS)|libmbedcrypto-min.a (TOTALS)|'; \
	  echo "linked (--gc-sections, with the picolibc routines they use):"; \
	  $(TARGET_SIZE) $(OTA_T)/size-verifier.elf $(OTA_T)/size-slot_store.elf $(OTA_T)/size-install.elf | sed 's|$(O)/||'; \
	} > $@
	$(Q)cat $@

ALL_TARGETS += $(OTA_T)/libota.a $(OTA_MBEDTLS_T)/libmbedcrypto-min.a $(OTA_SIZE_REPORT)

# ---------------------------------------------------------------- host
OTA_HOST_CFLAGS := $(HOST_CFLAGS) -I$(OTA_SRC) -I$(O)/include $(DEPFLAGS)
OTA_H := $(O)/host/ota
OTA_HSAN := $(O)/host/ota-san
OTA_HMIN := $(O)/host/ota-min
OTA_HOST_OBJS := $(addprefix $(OTA_H)/,$(addsuffix .o,$(OTA_MODULES) host/blockdev_file))
OTA_SAN_OBJS := $(addprefix $(OTA_HSAN)/,$(addsuffix .o,$(OTA_MODULES) host/blockdev_file))

$(OTA_H)/%.o: $(OTA_SRC)/%.c $(CONFIG_H)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(OTA_HOST_CFLAGS) -c $< -o $@

$(OTA_HSAN)/%.o: $(OTA_SRC)/%.c $(CONFIG_H)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(OTA_HOST_CFLAGS) $(HOST_SANITIZE) -c $< -o $@

# Host copy of the target crypto (bench-ota: heap peak and verify time of the
# board's configuration).
OTA_MIN_CONFIG := $(OTA_MBEDTLS_CONFIG) -DOTA_MBEDTLS_MEMORY_DEBUG
$(OTA_HMIN)/mbedtls/%.o: $(MBEDTLS_SRC)/library/%.c $(OTA_SRC)/mbedtls_config_target.h | $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) -O2 -w $(DEPFLAGS) $(OTA_MIN_CONFIG) -c $< -o $@

$(OTA_HMIN)/%.o: $(OTA_SRC)/%.c $(CONFIG_H) | $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(OTA_HOST_CFLAGS) -O2 $(OTA_MIN_CONFIG) -c $< -o $@

OTA_MIN_OBJS := $(addprefix $(OTA_HMIN)/,$(addsuffix .o,$(OTA_MODULES))) \
	$(addprefix $(OTA_HMIN)/mbedtls/,$(addsuffix .o,$(OTA_MBEDTLS_MODULES)))

