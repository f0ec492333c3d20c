# ota/ tests: unit (cmocka), power-cut simulator, CLI round trip, fuzzing, bench.
# Included at the end of tools/flotilla/flotilla.mk: the tests link both the
# ota/ objects and the CLI's key and bundle code.

OTA_TB := $(O)/host/tests/ota
OTA_TEST_CFLAGS := $(HOST_CFLAGS) $(HOST_SANITIZE) -I$(SRC)/ota -I$(SRC)/tools/flotilla -I$(SRC)/tests/unit \
	-I$(O)/include $(DEPFLAGS)
OTA_TEST_LIBS := -lcmocka -lmbedcrypto
OTA_TEST_COMMON := $(OTA_TB)/ota_test_util.o $(OTA_SAN_OBJS) $(FLOTILLA_SAN_OBJS)

$(OTA_TB)/%.o: $(SRC)/tests/unit/%.c $(CONFIG_H)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(OTA_TEST_CFLAGS) -c $< -o $@

$(OTA_TB)/sim_%.o: $(SRC)/tests/sim/sim_%.c $(CONFIG_H)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(OTA_TEST_CFLAGS) -c $< -o $@

.SECONDARY: $(addprefix $(OTA_TB)/,test_ota_bundle.o test_ota_slot_store.o test_ota_install.o test_ota_auth.o \
	test_ota_event_log.o sim_ota_powercut.o)
$(OTA_TB)/test_ota_%: $(OTA_TB)/test_ota_%.o $(OTA_TEST_COMMON)
	$(Q)$(HOST_CC) $(HOST_SANITIZE) -o $@ $^ $(OTA_TEST_LIBS)

$(OTA_TB)/sim_ota_powercut: $(OTA_TB)/sim_ota_powercut.o $(OTA_TEST_COMMON)
	$(Q)$(HOST_CC) $(HOST_SANITIZE) -o $@ $^ $(OTA_TEST_LIBS)

OTA_UNIT_SUITES := ota-bundle ota-slot-store ota-install ota-auth ota-event-log
TEST_SUITES += $(OTA_UNIT_SUITES) ota-powercut ota-cli ota-fuzz

.PHONY: $(addprefix test-,$(OTA_UNIT_SUITES)) test-ota-powercut test-ota-cli test-ota-fuzz
test-ota-bundle: $(OTA_TB)/test_ota_bundle
	$(Q)$(RUN_SUITE) ota-bundle env CMOCKA_MESSAGE_OUTPUT=TAP $<
test-ota-slot-store: $(OTA_TB)/test_ota_slot_store
	$(Q)$(RUN_SUITE) ota-slot-store env CMOCKA_MESSAGE_OUTPUT=TAP $<
test-ota-install: $(OTA_TB)/test_ota_install
	$(Q)$(RUN_SUITE) ota-install env CMOCKA_MESSAGE_OUTPUT=TAP $<
test-ota-auth: $(OTA_TB)/test_ota_auth
	$(Q)$(RUN_SUITE) ota-auth env CMOCKA_MESSAGE_OUTPUT=TAP $<
test-ota-event-log: $(OTA_TB)/test_ota_event_log
	$(Q)$(RUN_SUITE) ota-event-log env CMOCKA_MESSAGE_OUTPUT=TAP $<
test-ota-powercut: $(OTA_TB)/sim_ota_powercut
	$(Q)$(RUN_SUITE) ota-powercut $<
test-ota-cli: $(O)/host/flotilla
	$(Q)$(RUN_SUITE) ota-cli sh $(SRC)/tests/cli/test_cli_ota.sh $(O)/host/flotilla $(O)/host/tests/ota/cli

# ---------------------------------------------------------------- fuzzing
# clang libFuzzer + ASan + UBSan on the bundle parser and verifier, seeded
# with bundles the CLI signs. `make test` runs it for OTA_FUZZ_SECONDS_TEST,
# `make fuzz` for OTA_FUZZ_SECONDS.
OTA_FUZZ_SECONDS_TEST ?= 5
OTA_FUZZ_SECONDS ?= 300
OTA_FZ := $(O)/host/fuzz/ota
OTA_FUZZ_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -I$(SRC)/ota -I$(O)/include -I$(OTA_FZ)
OTA_FUZZ_SRCS := $(addprefix $(SRC)/ota/,$(addsuffix .c,$(OTA_MODULES)))

$(OTA_FZ)/keys/fuzz.pub: $(O)/host/flotilla
	$(Q)rm -rf $(@D) && mkdir -p $(@D)
	$(Q)$(O)/host/flotilla keygen --out $(@D)/fuzz >/dev/null

$(OTA_FZ)/fuzz_keys.c: $(OTA_FZ)/keys/fuzz.pub
	$(Q)$(O)/host/flotilla embed-keys -o $@ $<

$(OTA_FZ)/seeds/.stamp: $(OTA_FZ)/keys/fuzz.pub
	$(Q)rm -rf $(@D) && mkdir -p $(@D)
	$(Q)head -c 3000 /dev/zero | tr '\0' 'g' > $(@D)/image
	$(Q)$(O)/host/flotilla sign --key $(OTA_FZ)/keys/fuzz.key --name hello --version 1.2.3 --counter 1 \
		--board orangepi-pc --build-time 1 $(@D)/image -o $(@D)/hello.fbl >/dev/null
	$(Q)printf 'x' > $(@D)/tiny
	$(Q)$(O)/host/flotilla sign --key $(OTA_FZ)/keys/fuzz.key --name a --version 0.0.1 --counter 0 \
		--board orangepi-pc --board cubieboard2 --build-time 1 $(@D)/tiny -o $(@D)/tiny.fbl >/dev/null
	@# Byte 0 of a fuzz input is the chunk size selector (see the target).
	$(Q)for b in hello tiny; do { printf '\003'; cat $(@D)/$$b.fbl; } > $(@D)/$$b.seed; rm $(@D)/$$b.fbl; done
	$(Q)rm -f $(@D)/image $(@D)/tiny && touch $@

# Seeds for the store target: metadata areas of real stores made by the CLI.
$(OTA_FZ)/store-seeds/.stamp: $(OTA_FZ)/seeds/.stamp
	$(Q)rm -rf $(@D) && mkdir -p $(@D)
	$(Q)$(O)/host/flotilla store format --file $(@D)/s.img --size 1 --slot-size 2 --guests 4 >/dev/null
	@# Byte 0: odd = the harness fixes the CRCs (see the target).
	$(Q){ printf '\001'; head -c 16384 $(@D)/s.img; } > $(@D)/empty.seed
	$(Q)head -c 300 /dev/zero | tr '\0' 'g' > $(@D)/img
	$(Q)$(O)/host/flotilla sign --key $(OTA_FZ)/keys/fuzz.key --name hello --version 1.0.0 --counter 3 \
		--board orangepi-pc --build-time 1 $(@D)/img -o $(@D)/hello.fbl >/dev/null
	$(Q)$(O)/host/flotilla store install --file $(@D)/s.img --pub $(OTA_FZ)/keys/fuzz.pub $(@D)/hello.fbl >/dev/null
	$(Q)$(O)/host/flotilla store activate --file $(@D)/s.img hello >/dev/null
	$(Q)$(O)/host/flotilla store confirm --file $(@D)/s.img hello >/dev/null
	$(Q){ printf '\001'; head -c 16384 $(@D)/s.img; } > $(@D)/confirmed.seed
	$(Q)rm -f $(@D)/s.img $(@D)/img $(@D)/hello.fbl && touch $@

$(OTA_FZ)/fuzz_ota_store: $(SRC)/tests/fuzz/fuzz_ota_store.c $(OTA_FUZZ_SRCS) $(CONFIG_H)
	$(Q)mkdir -p $(@D)
	$(Q)clang $(OTA_FUZZ_CFLAGS) -o $@ $(SRC)/tests/fuzz/fuzz_ota_store.c $(OTA_FUZZ_SRCS) -lmbedcrypto
	$(Q)$(call multi_deps,clang $(OTA_FUZZ_CFLAGS),$(SRC)/tests/fuzz/fuzz_ota_store.c $(OTA_FUZZ_SRCS))

$(OTA_FZ)/fuzz_ota_bundle: $(SRC)/tests/fuzz/fuzz_ota_bundle.c $(OTA_FUZZ_SRCS) $(OTA_FZ)/fuzz_keys.c $(CONFIG_H)
	$(Q)mkdir -p $(@D)
	$(Q)clang $(OTA_FUZZ_CFLAGS) -o $@ $(SRC)/tests/fuzz/fuzz_ota_bundle.c $(OTA_FUZZ_SRCS) $(OTA_FZ)/fuzz_keys.c \
		-lmbedcrypto
	$(Q)$(call multi_deps,clang $(OTA_FUZZ_CFLAGS),$(SRC)/tests/fuzz/fuzz_ota_bundle.c $(OTA_FUZZ_SRCS) $(OTA_FZ)/fuzz_keys.c)

OTA_FUZZ_DEPS := $(OTA_FZ)/fuzz_ota_bundle $(OTA_FZ)/fuzz_ota_store $(OTA_FZ)/seeds/.stamp \
	$(OTA_FZ)/store-seeds/.stamp
test-ota-fuzz: $(OTA_FUZZ_DEPS)
	$(Q)$(RUN_SUITE) ota-fuzz sh $(SRC)/tests/fuzz/run_fuzz_ota.sh $(OTA_FZ) $(OTA_FUZZ_SECONDS_TEST)

.PHONY: fuzz-ota
fuzz-ota: $(OTA_FUZZ_DEPS)
	$(Q)sh $(SRC)/tests/fuzz/run_fuzz_ota.sh $(OTA_FZ) $(OTA_FUZZ_SECONDS)
FUZZ_TARGETS += fuzz-ota

# ---------------------------------------------------------------- bench
# bench-ota: verify and install time of a 1 MiB bundle on the host, with the
# system mbedTLS (as the CLI) and with the board's mbedTLS configuration (a
# host build of it, which also reports the crypto heap peak); static RAM of
# an install; target sizes. Figures also go to $(O)/bench/ota.txt.
OTA_BN := $(O)/host/bench/ota
$(OTA_BN)/keys/bench.pub: $(O)/host/flotilla
	$(Q)rm -rf $(@D) && mkdir -p $(@D)
	$(Q)$(O)/host/flotilla keygen --out $(@D)/bench >/dev/null

$(OTA_BN)/bench_keys.c: $(OTA_BN)/keys/bench.pub
	$(Q)$(O)/host/flotilla embed-keys -o $@ $<

$(OTA_BN)/bundle-1m.fbl: $(OTA_BN)/keys/bench.pub
	$(Q)head -c 1048576 /dev/urandom > $(OTA_BN)/image-1m
	$(Q)$(O)/host/flotilla sign --key $(OTA_BN)/keys/bench.key --name bench --version 1.0.0 --counter 1 \
		--board $(CONFIG_BOARD) $(OTA_BN)/image-1m -o $@ >/dev/null

OTA_BENCH_CFLAGS := $(HOST_CFLAGS) -O2 -I$(SRC)/ota -I$(O)/include
$(OTA_BN)/bench_ota_sys: $(SRC)/tests/unit/bench_ota.c $(OTA_BN)/bench_keys.c $(OTA_HOST_OBJS)
	$(Q)$(HOST_CC) $(OTA_BENCH_CFLAGS) -o $@ $(SRC)/tests/unit/bench_ota.c $(OTA_BN)/bench_keys.c $(OTA_HOST_OBJS) \
		-lmbedcrypto
	$(Q)$(call multi_deps,$(HOST_CC) $(OTA_BENCH_CFLAGS),$(SRC)/tests/unit/bench_ota.c $(OTA_BN)/bench_keys.c)
$(OTA_BN)/bench_ota_min: $(SRC)/tests/unit/bench_ota.c $(OTA_BN)/bench_keys.c $(OTA_MIN_OBJS)
	$(Q)$(HOST_CC) $(OTA_BENCH_CFLAGS) $(OTA_MIN_CONFIG) -o $@ $(SRC)/tests/unit/bench_ota.c $(OTA_BN)/bench_keys.c \
		$(OTA_MIN_OBJS)
	$(Q)$(call multi_deps,$(HOST_CC) $(OTA_BENCH_CFLAGS) $(OTA_MIN_CONFIG),$(SRC)/tests/unit/bench_ota.c $(OTA_BN)/bench_keys.c)

.PHONY: bench-ota
bench-ota: $(OTA_BN)/bench_ota_sys $(OTA_BN)/bench_ota_min $(OTA_BN)/bundle-1m.fbl $(OTA_SIZE_REPORT)
	$(Q)mkdir -p $(O)/bench
	$(Q){ $(OTA_BN)/bench_ota_sys "system mbedTLS" $(OTA_BN)/bundle-1m.fbl && \
	   $(OTA_BN)/bench_ota_min "board mbedTLS config" $(OTA_BN)/bundle-1m.fbl && \
	   cat $(OTA_SIZE_REPORT); } | tee $(O)/bench/ota.txt
BENCH_TARGETS += bench-ota

# The board's mbedTLS configuration, built for the host: it verifies a real
# bundle, refuses a forged signature, and its arena is large enough.
TEST_SUITES += ota-board-crypto
.PHONY: test-ota-board-crypto
test-ota-board-crypto: $(OTA_BN)/bench_ota_min $(OTA_BN)/bundle-1m.fbl
	$(Q)$(RUN_SUITE) ota-board-crypto sh -c '$(OTA_BN)/bench_ota_min "board mbedTLS config" $(OTA_BN)/bundle-1m.fbl && \
		echo "ok 1 - board mbedTLS config: verifies a 1 MiB bundle, refuses a forged one, arena fits" || \
		echo "not ok 1 - board mbedTLS config (see above)"'

