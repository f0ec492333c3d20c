# Board image: boot script, U-Boot environment, SD-card image; and `make run`.

IMAGE_OUT := $(O)/image
SDCARD := $(O)/sdcard.img
UBOOT_SPL := $(DEPS)/root/usr/lib/u-boot/$(BOARD_UBOOT_BUILD)/u-boot-sunxi-with-spl.bin
XEN_IMAGE := $(DEPS)/root/boot/xen-4.17-armhf
BOARD_DTB_FILE := $(DEPS)/dtb/$(BOARD_DTB)
PLAN := $(SRC)/hypervisor-cfg/$(BOARD).toml
PLAN_TOOL := $(PYTHON) $(SRC)/hypervisor-cfg/plan.py
PLAN_ARGS := --ram-mb $(BOARD_RAM_SIZE_MB) --cpus $(BOARD_CPUS)

# Files on the FAT boot partition. Further issues add the boot bundle.
BOOT_FILES := $(IMAGE_OUT)/boot.scr $(IMAGE_OUT)/uboot.env $(IMAGE_OUT)/xen \
	$(IMAGE_OUT)/$(BOARD_DTB) $(IMAGE_OUT)/control.img

$(IMAGE_OUT)/boot.cmd: $(PLAN) $(SRC)/hypervisor-cfg/plan.py $(CONFIG_MK) $(SRC)/boards/$(BOARD)/board.mk
	@mkdir -p $(@D)
	@echo "  PLAN    $(notdir $@)"
	$(Q)$(PLAN_TOOL) bootcmd $(PLAN) $(PLAN_ARGS) --console '$(BOARD_XEN_CONSOLE)' \
		--dtb $(BOARD_DTB) $(if $(BOOT_BUNDLE),--ramdisk) -o $@

$(IMAGE_OUT)/boot.scr: $(IMAGE_OUT)/boot.cmd
	@echo "  MKIMAGE $(notdir $@)"
	$(Q)mkimage -A arm -O linux -T script -C none -n "Flotilla boot" -d $< $@ >/dev/null

# U-Boot's environment on the FAT replaces the built-in one, so it starts
# from Debian's default and changes only what saves boot time.
$(IMAGE_OUT)/uboot.env: $(UBOOT_SPL) $(SRC)/tools/uboot-env.py
	@mkdir -p $(@D)
	@echo "  ENV     $(notdir $@)"
	$(Q)$(PYTHON) $(SRC)/tools/uboot-env.py $(UBOOT_SPL) $(IMAGE_OUT)/uboot.env.txt \
		bootdelay=0 preboot=- boot_targets=mmc0
	$(Q)mkenvimage -s 0x10000 -o $@ $(IMAGE_OUT)/uboot.env.txt

$(IMAGE_OUT)/xen: $(XEN_IMAGE)
	@mkdir -p $(@D) && cp $< $@

$(IMAGE_OUT)/$(BOARD_DTB): $(BOARD_DTB_FILE)
	@mkdir -p $(@D) && cp $< $@

$(IMAGE_OUT)/control.img: $(CONTROL_IMAGE)
	@mkdir -p $(@D) && cp $< $@

$(UBOOT_SPL) $(XEN_IMAGE) $(BOARD_DTB_FILE): $(DEPS_STAMP)

.PHONY: plan-check
plan-check:
	@$(PLAN_TOOL) check $(PLAN) $(PLAN_ARGS)

$(SDCARD): $(BOOT_FILES) $(SRC)/tools/mkimage.sh $(CONFIG_MK)
	@$(PLAN_TOOL) check $(PLAN) $(PLAN_ARGS)
	@sh $(SRC)/tools/mkimage.sh $@ $(CONFIG_SDCARD_SIZE_MB) $(CONFIG_BOOT_PART_SIZE_MB) \
		$(CONFIG_OTA_STORE_SIZE_MB) $(UBOOT_SPL) $(BOOT_FILES)

ALL_TARGETS += $(SDCARD)

# ---------------------------------------------------------------- make run
QEMU_RUN := $(PYTHON) $(SRC)/tools/qemu.py
run: $(SDCARD)
ifeq ($(BOARD_EMULATED),y)
	$(QEMU_RUN) run --image $(SDCARD) --port $(CONFIG_QEMU_HOST_PORT)
else
	@echo "error: board $(BOARD) is not emulated; flash $(SDCARD) to an SD card instead" >&2; exit 1
endif
