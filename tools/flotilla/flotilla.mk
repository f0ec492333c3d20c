# tools/flotilla: the host CLI, $(O)/host/flotilla. Included by the top-level Makefile.
# Links the ota/ host objects (ota/ota.mk) and Debian's libmbedcrypto.

FLOTILLA_SRC := $(SRC)/tools/flotilla
FLOTILLA_MODULES := main util keys bundle_build verb_keys verb_bundle verb_store verb_flash devcfg \
	client config verb_push verb_health
FLOTILLA_H := $(O)/host/flotilla.d
FLOTILLA_CFLAGS := $(HOST_CFLAGS) -I$(FLOTILLA_SRC) -I$(SRC)/guests/control -I$(SRC)/ota -I$(O)/include $(DEPFLAGS) \
	-DFLOTILLA_VERSION='"$(FLOTILLA_VERSION)"'
FLOTILLA_LIBS := -lmbedcrypto
FLOTILLA_OBJS := $(addprefix $(FLOTILLA_H)/,$(addsuffix .o,$(FLOTILLA_MODULES)))
# Without main: what the tests link to build and sign bundles.
FLOTILLA_LIB_MODULES := util keys bundle_build verb_keys verb_bundle verb_store verb_flash devcfg \
	client config
FLOTILLA_SAN_OBJS := $(addprefix $(FLOTILLA_H)/san/,$(addsuffix .o,$(FLOTILLA_LIB_MODULES)))

$(FLOTILLA_H)/%.o: $(FLOTILLA_SRC)/%.c $(CONFIG_H)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(FLOTILLA_CFLAGS) -c $< -o $@

# The device-configuration parser is the control domain's own (guests/control/devcfg.c).
$(FLOTILLA_H)/devcfg.o: $(SRC)/guests/control/devcfg.c $(CONFIG_H)
	@mkdir -p $(@D)
	$(Q)$(HOST_CC) $(FLOTILLA_CFLAGS) -c $< -o $@

$(FLOTILLA_H)/san/devcfg.o: $(SRC)/guests/control/devcfg.c $(CONFIG_H)
	@mkdir -p $(@D)
	$(Q)$(HOST_CC) $(FLOTILLA_CFLAGS) $(HOST_SANITIZE) -c $< -o $@

$(FLOTILLA_H)/san/%.o: $(FLOTILLA_SRC)/%.c $(CONFIG_H)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(FLOTILLA_CFLAGS) $(HOST_SANITIZE) -c $< -o $@

$(O)/host/flotilla: $(FLOTILLA_OBJS) $(OTA_HOST_OBJS)
	$(Q)$(HOST_CC) -o $@ $^ $(FLOTILLA_LIBS)
	@echo "  LD      $@"

ALL_TARGETS += $(O)/host/flotilla


include $(SRC)/ota/tests.mk

# flotilla push / rollback / restart against the device API protocol
# (tests/cli/test_push.py: a protocol server that checks the signatures).
TEST_SUITES += cli-push
.PHONY: test-cli-push
test-cli-push: $(O)/host/flotilla
	$(Q)$(RUN_SUITE) cli-push $(PYTHON) $(SRC)/tests/cli/test_push.py $(O)/host/flotilla $(O)/host/tests/cli-push

# The client's signing against the board's own check (ota/auth.c), addresses, JSON.
TEST_SUITES += cli-client
.PHONY: test-cli-client
$(O)/host/tests/test_client: $(SRC)/tests/unit/test_client.c $(FLOTILLA_SAN_OBJS) $(OTA_SAN_OBJS)
	@mkdir -p $(@D)
	@echo "  HOSTCC  $(patsubst $(O)/%,%,$@)"
	$(Q)$(HOST_CC) $(FLOTILLA_CFLAGS) $(HOST_SANITIZE) -o $@ $^ -lcmocka -lmbedcrypto
test-cli-client: $(O)/host/tests/test_client
	$(Q)$(RUN_SUITE) cli-client env CMOCKA_MESSAGE_OUTPUT=TAP $<

# flotilla health / status / logs [-f] / events against the device API protocol
# (tests/cli/test_health_cli.py: a protocol server that checks the signatures).
TEST_SUITES += cli-health
.PHONY: test-cli-health
test-cli-health: $(O)/host/flotilla
	$(Q)$(RUN_SUITE) cli-health $(PYTHON) $(SRC)/tests/cli/test_health_cli.py $(O)/host/flotilla $(O)/host/tests/cli-health
