# Interop (TAP + network namespace) and fuzz suites for net/. Included by net/net.mk.

NET_TAP := $(NET_HOST_DIR)/net_tap
NET_FUZZ := $(NET_HOST_DIR)/fuzz_net
NET_FUZZ_CORPUS := $(O)/fuzz/net-corpus

$(NET_TAP): $(SRC)/tests/net/net_tap.c $(NET_SRCS) $(NET_HDRS)
	$(Q)mkdir -p $(dir $@)
	@echo "  HOSTCC  $@"
	$(Q)$(HOST_CC) $(NET_HOST_CFLAGS) $< $(NET_SRCS) -o $@
	$(Q)$(call multi_deps,$(HOST_CC) $(NET_HOST_CFLAGS),$< $(NET_SRCS))

# The same harness with 256 KiB windows: the download test runs with RFC 7323
# window scaling against Linux.
$(NET_TAP)_wscale: $(SRC)/tests/net/net_tap.c $(NET_SRCS) $(NET_HDRS)
	$(Q)mkdir -p $(dir $@)
	@echo "  HOSTCC  $@"
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $(HOST_SANITIZE) $(NET_WSCALE_FLAGS) -I$(SRC)/net $< $(NET_SRCS) -o $@
	$(Q)$(call multi_deps,$(HOST_CC) $(HOST_CFLAGS) $(NET_WSCALE_FLAGS) -I$(SRC)/net,$< $(NET_SRCS))

TEST_SUITES += net-interop
.PHONY: test-net-interop
test-net-interop: $(NET_TAP) $(NET_TAP)_wscale
	$(Q)$(RUN_SUITE) net-interop sh $(SRC)/tests/net/interop.sh $(NET_TAP) $(O)/host/net/interop $(NET_TAP)_wscale

$(NET_FUZZ): $(SRC)/tests/fuzz/fuzz_net.c $(NET_SRCS) $(NET_HDRS)
	$(Q)mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I$(O)/include -I$(SRC)/net \
		$< $(NET_SRCS) -o $@
	$(Q)$(call multi_deps,clang -I$(O)/include -I$(SRC)/net,$< $(NET_SRCS))

# A short bounded run in `make test`; `make fuzz` runs longer (NET_FUZZ_SECONDS).
NET_FUZZ_TEST_SECONDS ?= 15
NET_FUZZ_SECONDS ?= 600
TEST_SUITES += net-fuzz
.PHONY: test-net-fuzz fuzz-net
test-net-fuzz: $(NET_FUZZ)
	$(Q)mkdir -p $(NET_FUZZ_CORPUS)
	$(Q)/usr/bin/python3 $(SRC)/tests/fuzz/fuzz_net_seeds.py $(NET_FUZZ_CORPUS)
	$(Q)$(RUN_SUITE) net-fuzz sh $(SRC)/tests/fuzz/run_fuzz_net.sh $(NET_FUZZ) $(NET_FUZZ_CORPUS) $(NET_FUZZ_TEST_SECONDS)

FUZZ_TARGETS += fuzz-net
fuzz-net: $(NET_FUZZ)
	$(Q)mkdir -p $(NET_FUZZ_CORPUS)
	$(Q)/usr/bin/python3 $(SRC)/tests/fuzz/fuzz_net_seeds.py $(NET_FUZZ_CORPUS)
	$(Q)sh $(SRC)/tests/fuzz/run_fuzz_net.sh $(NET_FUZZ) $(NET_FUZZ_CORPUS) $(NET_FUZZ_SECONDS)
