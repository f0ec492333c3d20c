# Health checks: the model on the host (guests/control/health.c), and the
# board answering GET /v1/health, /metrics (promtool, a real Prometheus),
# a corrupted slot and a crash-looping guest (tests/integration/test_health.py).

TEST_SUITES += health
$(O)/host/tests/test_health: $(SRC)/tests/unit/test_health.c $(SRC)/guests/control/health.c $(SRC)/guests/control/health.h $(CONFIG_H)
	@mkdir -p $(@D)
	@echo "  HOSTCC  $(patsubst $(O)/%,%,$@)"
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $(HOST_SANITIZE) -I$(SRC)/guests/control -I$(O)/include -o $@ $< \
		$(SRC)/guests/control/health.c -lcmocka
test-health: $(O)/host/tests/test_health
	@$(RUN_SUITE) health env CMOCKA_MESSAGE_OUTPUT=TAP $<

ifeq ($(BOARD),orangepi-pc)
HEALTH_TEST_IMAGE := $(O)/test-images/health/sdcard.img
$(eval $(call board_image,$(O)/test-images/health,$(SRC)/hypervisor-cfg/test/orangepi-pc-health.toml,$(HEALTH_TEST_IMAGE)))
# www with a probe of a page it does not have: the board's health is failed.
HEALTH_PROBE_TEST_IMAGE := $(O)/test-images/health-probe/sdcard.img
$(eval $(call board_image,$(O)/test-images/health-probe,$(SRC)/hypervisor-cfg/test/orangepi-pc-health-probe.toml,$(HEALTH_PROBE_TEST_IMAGE)))

TEST_SUITES += health-board
QEMU_SUITES += health-board
test-health-board: $(SDCARD) $(HEALTH_TEST_IMAGE) $(HEALTH_PROBE_TEST_IMAGE) $(O)/host/flotilla
	$(Q)O=$(O) $(RUN_SUITE_SERIAL) health-board $(PYTHON) $(INTEGRATION)/test_health.py $(SDCARD) $(HEALTH_TEST_IMAGE) \
		$(HEALTH_PROBE_TEST_IMAGE)

# The same run records its figures in $(O)/bench/health.json: the /v1/health
# round trip, `flotilla health`'s, the control domain's idle CPU share, one run of the checks.
BENCH_TARGETS += bench-health
bench-health: $(SDCARD) $(HEALTH_TEST_IMAGE) $(HEALTH_PROBE_TEST_IMAGE) $(O)/host/flotilla
	$(Q)O=$(O) $(PYTHON) $(INTEGRATION)/test_health.py $(SDCARD) $(HEALTH_TEST_IMAGE) $(HEALTH_PROBE_TEST_IMAGE)
endif

# docs/monitoring.md's scrape configuration and alert rules pass promtool.
TEST_SUITES += monitoring-docs
test-monitoring-docs:
	@$(RUN_SUITE) monitoring-docs $(PYTHON) $(SRC)/tests/unit/test_monitoring_docs.py $(SRC)
