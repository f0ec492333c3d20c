# The control domain image: Xen's domain 0, a Flotilla unikernel.
# Xen's domctl.h pulls in hvm/save.h, which needs GNU C (anonymous unions): gnu11.

CONTROL_DIR := $(SRC)/guests/control
CONTROL_OUT := $(O)/target/control
CONTROL_MODULES := main domain builder boot_bundle supervisor devcfg trust provision
# Storage: the SD/MMC driver, the MBR, the store partition.
CONTROL_MODULES += mmc mbr card store
# Networking: the NIC drivers, the guests' vNICs, the switch, the control domain's own net/ stack.
CONTROL_MODULES += nic nic_sun8i_emac emac_ring vnic vswitch ctlnet
# Guests' status pages (flotilla_ready(), health, addresses).
CONTROL_MODULES += gstatus
# The device API: HTTP machine, operator authentication (ota/auth.c), resources.
CONTROL_MODULES += http api
# Updates over the device API: push, operation, rollback, restart.
CONTROL_MODULES += push
# Health probes of guests (TCP connect, HTTP GET) and their boot-time test hook.
CONTROL_MODULES += probe probe_test
# Health: the model (portable, host-tested), the monitor that feeds it, its API views.
CONTROL_MODULES += health monitor api_health
# Following a guest's logs (GET /v1/guests/NAME/logs?follow=1).
CONTROL_MODULES += api_logs
CONTROL_OBJS := $(CONTROL_MODULES:%=$(CONTROL_OUT)/%.o)
CONTROL_IMAGE := $(O)/control.img
# The device side of ota/: bundle verifier (+ the trusted keys) and mbedTLS.
CONTROL_OTA_LIBS := $(O)/target/ota/libota.a $(O)/target/mbedtls/libmbedcrypto-min.a
# Its own TCP/IP stack (net/), on its port: a build with more TCP connections
# than a guest's (net/net.mk, NET_CONTROL_LIB).
CONTROL_OTA_LIBS += $(O)/target/control-net/libnet.a

$(CONTROL_OUT)/%.o: $(CONTROL_DIR)/%.c $(CONTROL_DIR)/control.mk $(CONFIG_H) $(LIBFDT_INC)/.stamp | $(XEN_PUBLIC)/xen
	$(Q)mkdir -p $(@D)
	@echo "  CC      $(patsubst $(SRC)/%,%,$<)"
	$(Q)$(TARGET_CC) $(TARGET_CFLAGS) $(RUNTIME_INCLUDES) -I$(SRC)/ota -I$(SRC)/net -std=gnu11 -D__XEN_TOOLS__ \
		-DFLOTILLA_VERSION='"$(FLOTILLA_VERSION)"' -c $< -o $@

$(CONTROL_IMAGE): $(CONTROL_OBJS) $(RUNTIME_START) $(RUNTIME_LIB) $(LIBFDT_OUT)/libfdt.a $(RUNTIME_LDSCRIPT) $(CONTROL_OTA_LIBS)
	$(call link_xen_image,$(CONTROL_OUT)/control.elf,$@,$(CONTROL_OBJS) $(CONTROL_OTA_LIBS))

ALL_TARGETS += $(CONTROL_IMAGE)
