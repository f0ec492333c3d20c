# Push smoke test (tests/integration/test_push_smoke.py): the default image on
# a LAN; a signed update of hello pushed over the device API with requests
# signed by the build's development operator key; refusals change nothing.
# Needs root (network namespace, TAP); skips otherwise, and on a fleet build
# (CONFIG_OTA_OPERATOR_KEYS set: no development operator key to sign with).
ifeq ($(BOARD),orangepi-pc)
TEST_SUITES += push-smoke
QEMU_SUITES += push-smoke
.PHONY: test-push-smoke
test-push-smoke: $(SDCARD) $(FLOTILLA_CLI) $(O)/guests/hello.img $(SIGNING_KEY) $(if $(DEV_OPERATOR_KEY),$(DEV_OPERATOR_KEY).key)
	$(Q)O=$(O) $(RUN_SUITE_SERIAL) push-smoke $(PYTHON) $(INTEGRATION)/test_push_smoke.py $(SDCARD) \
		--flotilla $(FLOTILLA_CLI) --signing-key $(SIGNING_KEY) \
		--operator-key $(if $(DEV_OPERATOR_KEY),$(DEV_OPERATOR_KEY).key,none) --hello $(O)/guests/hello.img
endif

# The push state machine on the host (tests/unit/test_push_api.c): push.c with
# the real http.c, ota/ auth, verifier, install and slot store on a RAM
# device; only the supervisor and the store's bookkeeping are stood in for.
TEST_SUITES += push-api
PUSH_API_TEST := $(O)/host/tests/test_push_api
$(PUSH_API_TEST): $(SRC)/tests/unit/test_push_api.c $(SRC)/guests/control/push.c $(SRC)/guests/control/http.c \
		$(OTA_TB)/ota_test_util.o $(OTA_SAN_OBJS) $(FLOTILLA_SAN_OBJS) $(CONFIG_H) | $(XEN_PUBLIC)/xen
	@mkdir -p $(@D)
	@echo "  HOSTCC  $(patsubst $(O)/%,%,$@)"
	$(Q)$(HOST_CC) $(OTA_TEST_CFLAGS) -std=gnu11 -D__XEN_TOOLS__ -D__XEN_INTERFACE_VERSION__=__XEN_LATEST_INTERFACE_VERSION__ \
		-I$(SRC)/guests/control -I$(SRC)/guests/runtime/include -isystem $(XEN_PUBLIC) \
		-o $@ $(SRC)/tests/unit/test_push_api.c $(SRC)/guests/control/push.c $(SRC)/guests/control/http.c \
		$(OTA_TB)/ota_test_util.o $(OTA_SAN_OBJS) $(FLOTILLA_SAN_OBJS) $(OTA_TEST_LIBS)
.PHONY: test-push-api
test-push-api: $(PUSH_API_TEST)
	$(Q)$(RUN_SUITE) push-api env CMOCKA_MESSAGE_OUTPUT=TAP $<
