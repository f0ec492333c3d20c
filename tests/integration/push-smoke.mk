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
