# Board images: boot script, U-Boot environment, SD-card image; and `make run`.

IMAGE_OUT := $(O)/image
SDCARD := $(O)/sdcard.img
UBOOT_SPL := $(DEPS)/root/usr/lib/u-boot/$(BOARD_UBOOT_BUILD)/u-boot-sunxi-with-spl.bin
include $(SRC)/tools/xen.mk
XEN_IMAGE := $(XEN_BUILT_IMAGE)
BOARD_DTB_FILE := $(DEPS)/dtb/$(BOARD_DTB)
PLAN := $(SRC)/hypervisor-cfg/$(BOARD).toml
PLAN_TOOL := $(PYTHON) $(SRC)/hypervisor-cfg/plan.py
PLAN_ARGS := --ram-mb $(BOARD_RAM_SIZE_MB) --cpus $(BOARD_CPUS)

# What the image is built from (tools/versions.sh): $(O)/versions.txt, a
# JSON twin, and a copy on every image's FAT. A Xen built from source sets
# XEN_VERSION_STRING ("package version"); by default the line names the
# xen-hypervisor .deb in DL_DIR.
VERSIONS := $(O)/versions.txt
XEN_VERSION_STRING ?= src:xen $(XEN_SRC_VERSION) (built from source by tools/build-xen.sh, $(XEN_VARIANT))

# Files every image's FAT boot partition holds; boot.scr and the guest
# images depend on the plan.
COMMON_BOOT_FILES := $(IMAGE_OUT)/uboot.env $(IMAGE_OUT)/xen $(IMAGE_OUT)/$(BOARD_DTB) \
	$(IMAGE_OUT)/control.img $(VERSIONS)

FLOTILLA_CLI := $(O)/host/flotilla

ifdef DEV_KEY
# One grouped target (&:): the pair is made once, even under -jN. The key is
# made under a temporary name and moved into place, so an interrupted build
# never leaves a .key without its .pub.
$(DEV_KEY).key $(DEV_KEY).pub &: | $(FLOTILLA_CLI)
	$(Q)mkdir -p $(dir $(DEV_KEY))
	$(Q)rm -f $(DEV_KEY).tmp.key $(DEV_KEY).tmp.pub
	$(Q)$(FLOTILLA_CLI) keygen --out $(DEV_KEY).tmp >/dev/null
	$(Q)mv -f $(DEV_KEY).tmp.pub $(DEV_KEY).pub && mv -f $(DEV_KEY).tmp.key $(DEV_KEY).key
	@echo "  KEYGEN  $(patsubst $(O)/%,%,$(DEV_KEY)).key: a development signing key. Images signed"
	@echo "          with it are for development only: set OTA_SIGNING_KEY for a fleet."
endif

ifdef DEV_OPERATOR_KEY
# The development operator key, made like the signing key: the board built
# with it trusts its holder to act over the device API (flotilla push).
$(DEV_OPERATOR_KEY).key $(DEV_OPERATOR_KEY).pub &: | $(FLOTILLA_CLI)
	$(Q)mkdir -p $(dir $(DEV_OPERATOR_KEY))
	$(Q)rm -f $(DEV_OPERATOR_KEY).tmp.key $(DEV_OPERATOR_KEY).tmp.pub
	$(Q)$(FLOTILLA_CLI) keygen --out $(DEV_OPERATOR_KEY).tmp >/dev/null
	$(Q)mv -f $(DEV_OPERATOR_KEY).tmp.pub $(DEV_OPERATOR_KEY).pub && mv -f $(DEV_OPERATOR_KEY).tmp.key $(DEV_OPERATOR_KEY).key
	@echo "  KEYGEN  $(patsubst $(O)/%,%,$(DEV_OPERATOR_KEY)).key: a development operator key for the"
	@echo "          device API. Set OTA_OPERATOR_KEYS for a fleet."
endif

# $(call plan_guests,PLAN): the guest applications a plan uses.
plan_guests = $(shell $(PLAN_TOOL) files $(1) $(PLAN_ARGS))
# $(call plan_has_guests,PLAN): non-empty if the control domain builds guests.
plan_has_guests = $(filter-out [],$(shell $(PLAN_TOOL) guests $(1) $(PLAN_ARGS)))

# $(call board_image,WORK_DIR,PLAN,OUTPUT): an SD image that boots PLAN.
# A bad plan stops make while it reads the makefiles, before anything is
# built, with plan.py's one-line message.
define board_image
$$(if $$(filter ok,$$(shell $$(PLAN_TOOL) check $(2) $$(PLAN_ARGS) >/dev/null && echo ok)),,$$(error invalid domain plan $(2) (see the message above)))
$(1)/guests.bnd: $(2) $$(SRC)/tools/mkbootbundle.py $$(SRC)/hypervisor-cfg/plan.py $$(SRC)/guests/control/boot_bundle.h $$(FLOTILLA_CLI) $$(SIGNING_KEY) \
		$$(foreach g,$$(call plan_guests,$(2)),$$(O)/guests/$$(g).img)
	$(Q)mkdir -p $$(@D)
	@echo "  BUNDLE  $$(patsubst $$(O)/%,%,$$@)"
	$$(Q)$$(PYTHON) $$(SRC)/tools/mkbootbundle.py $(2) $$(PLAN_ARGS) --flotilla $$(FLOTILLA_CLI) \
		--key $$(SIGNING_KEY) --board $$(BOARD) --version $$(FLOTILLA_VERSION) \
		--guests-dir $$(O)/guests -o $$@ >/dev/null

$(1)/boot.cmd: $(2) $$(SRC)/hypervisor-cfg/plan.py $$(CONFIG_MK) $$(SRC)/boards/$$(BOARD)/board.mk
	$(Q)mkdir -p $$(@D)
	@echo "  PLAN    $$(patsubst $$(SRC)/%,%,$(2))"
	$$(Q)$$(PLAN_TOOL) bootcmd $(2) $$(PLAN_ARGS) --console '$$(BOARD_XEN_CONSOLE)' \
		--dtb $$(BOARD_DTB) -o $$@

$(1)/boot.scr: $(1)/boot.cmd
	@echo "  MKIMAGE $$(patsubst $$(O)/%,%,$$@)"
	$$(Q)mkimage -A arm -O linux -T script -C none -n "Flotilla boot" -d $$< $$@ >/dev/null

# Boot-time (dom0less) domains need their images on the FAT; guests the
# control domain builds travel signed in guests.bnd.
$(1)_FAT := $(1)/boot.scr $$(COMMON_BOOT_FILES) \
	$$(foreach g,$$(shell $$(PLAN_TOOL) files $(2) $$(PLAN_ARGS)),$$(O)/guests/$$(g).img) \
	$$(if $$(call plan_has_guests,$(2)),$(1)/guests.bnd)
$(3): $$($(1)_FAT) $$(SRC)/tools/mkimage.sh $$(CONFIG_MK)
	$(Q)$$(PLAN_TOOL) check $(2) $$(PLAN_ARGS)
	$(Q)sh $$(SRC)/tools/mkimage.sh $$@ $$(CONFIG_SDCARD_SIZE_MB) $$(CONFIG_BOOT_PART_SIZE_MB) \
		$$(CONFIG_OTA_STORE_SIZE_MB) $$(UBOOT_SPL) $$($(1)_FAT)
endef

$(eval $(call board_image,$(IMAGE_OUT),$(PLAN),$(SDCARD)))

# U-Boot's environment on the FAT replaces the built-in one, so it starts
# from Debian's default and changes only what saves boot time.
$(IMAGE_OUT)/uboot.env: $(UBOOT_SPL) $(SRC)/tools/uboot-env.py
	$(Q)mkdir -p $(@D)
	@echo "  ENV     $(notdir $@)"
	$(Q)$(PYTHON) $(SRC)/tools/uboot-env.py $(UBOOT_SPL) $(IMAGE_OUT)/uboot.env.txt \
		bootdelay=0 preboot=- boot_targets=mmc0
	$(Q)mkenvimage -s 0x10000 -o $@ $(IMAGE_OUT)/uboot.env.txt

$(IMAGE_OUT)/xen: $(XEN_IMAGE)
	$(Q)mkdir -p $(@D) && cp $< $@

$(IMAGE_OUT)/$(BOARD_DTB): $(BOARD_DTB_FILE)
	$(Q)mkdir -p $(@D) && cp $< $@

$(IMAGE_OUT)/control.img: $(CONTROL_IMAGE)
	$(Q)mkdir -p $(@D) && cp $< $@

$(UBOOT_SPL) $(XEN_IMAGE) $(BOARD_DTB_FILE): $(DEPS_STAMP)

# Regenerated on every make (the git revision may have changed), replaced
# only when its content changes.
$(VERSIONS): $(DEPS_STAMP) $(SRC)/tools/versions.sh FORCE
	$(Q)mkdir -p $(@D)
	$(Q)XEN_VERSION_STRING='$(XEN_VERSION_STRING)' sh $(SRC)/tools/versions.sh $(DEPS) $(SRC) $@ $(O)/versions.json

.PHONY: versions FORCE
FORCE:
versions: $(VERSIONS)
	@cat $<

.PHONY: plan-check
plan-check:
	$(Q)$(PLAN_TOOL) check $(PLAN) $(PLAN_ARGS)

ALL_TARGETS += $(SDCARD) $(VERSIONS)

# ---------------------------------------------------------------- make run
QEMU_RUN := $(PYTHON) $(SRC)/tools/qemu.py
run: $(SDCARD)
ifeq ($(BOARD_EMULATED),y)
	$(QEMU_RUN) run --image $(SDCARD) --port $(CONFIG_QEMU_HOST_PORT) --www-port $(CONFIG_QEMU_WWW_PORT) \
		--flotilla $(FLOTILLA_CLI) --keys-dir $(O)/keys --board $(BOARD) --guests-dir $(O)/guests \
		$(if $(DEV_OPERATOR_KEY),--operator-key $(DEV_OPERATOR_KEY).key) \
		$(if $(SIGNING_KEY),--signing-key $(SIGNING_KEY))
else
	@echo "error: board $(BOARD) is not emulated; flash $(SDCARD) to an SD card instead" >&2; exit 1
endif
