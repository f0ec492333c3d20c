# make bench-peer: Flotilla measured beside its peer, a Linux domain 0 with
# Xen's xl toolstack, on the same emulated board in one run
# (docs/benchmarks.md). Only bench targets reach these rules: `make` and
# `make test` never fetch or build the peer.

ifeq ($(BOARD),orangepi-pc)
PEER_O := $(O)/peer
PEER_TOOLS := $(SRC)/tools/peer
PEER_PLAN := $(SRC)/tests/bench/peer.toml
PEER_IMAGE := $(PEER_O)/sdcard.img
PEER_CC := arm-linux-gnueabihf-gcc
PEER_BOOT_FILES := $(PEER_O)/boot.scr $(IMAGE_OUT)/uboot.env $(IMAGE_OUT)/xen \
	$(IMAGE_OUT)/$(BOARD_DTB) $(PEER_O)/vmlinuz $(PEER_O)/initrd.gz

# Debian 12 armhf packages, downloaded and unpacked (never installed).
$(PEER_O)/.unpacked: $(PEER_TOOLS)/fetch.sh | $(DEPS_STAMP)
	@mkdir -p $(PEER_O)
	@sh $< $(DEPS) $(PEER_O)
	@touch $@

# The stopwatch that times xl inside the peer's dom0 (armhf Linux, static).
$(PEER_O)/peertime: $(PEER_TOOLS)/peertime.c
	@mkdir -p $(@D)
	@echo "  CC      $(patsubst $(O)/%,%,$@) (armhf Linux)"
	$(Q)$(PEER_CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -static -s -o $@ $<

$(PEER_O)/initrd.gz: $(PEER_TOOLS)/mkinitramfs.py $(PEER_TOOLS)/init $(PEER_TOOLS)/peer-bench \
		$(PEER_TOOLS)/hello.cfg $(PEER_TOOLS)/xl.conf $(PEER_O)/.unpacked $(PEER_O)/peertime \
		$(O)/guests/hello.img
	$(Q)$(PYTHON) $< --root $(PEER_O)/root --tools $(PEER_TOOLS) --hello $(O)/guests/hello.img \
		--peertime $(PEER_O)/peertime -o $@

$(PEER_O)/vmlinuz: $(PEER_O)/.unpacked
	$(Q)cp $(PEER_O)/vmlinuz.src $@

# Flotilla's boot script generator with the peer's plan; the kernel and
# initramfs take the control domain's and the boot bundle's places.
$(PEER_O)/boot.cmd: $(PEER_PLAN) $(SRC)/hypervisor-cfg/plan.py $(SRC)/boards/$(BOARD)/board.mk
	@mkdir -p $(@D)
	@echo "  PLAN    $(patsubst $(SRC)/%,%,$<)"
	$(Q)$(PLAN_TOOL) bootcmd $< $(PLAN_ARGS) --console '$(BOARD_XEN_CONSOLE)' --dtb $(BOARD_DTB) \
		--ramdisk -o $@.tmp
	$(Q)sed -e 's/ control\.img$$/ vmlinuz/' -e 's/ guests\.bnd$$/ initrd.gz/' \
		-e 's/control_size/kernel_size/g' -e 's/bundle_size/initrd_size/g' $@.tmp > $@ && rm -f $@.tmp

$(PEER_O)/boot.scr: $(PEER_O)/boot.cmd
	$(Q)mkimage -A arm -O linux -T script -C none -n "Flotilla peer boot" -d $< $@ >/dev/null

# Same U-Boot, environment, Xen and device tree as Flotilla's image.
$(PEER_IMAGE): $(PEER_BOOT_FILES) $(UBOOT_SPL) $(SRC)/tools/mkimage.sh $(CONFIG_MK)
	@sh $(SRC)/tools/mkimage.sh $@ $(CONFIG_SDCARD_SIZE_MB) $(CONFIG_BOOT_PART_SIZE_MB) \
		$(CONFIG_OTA_STORE_SIZE_MB) $(UBOOT_SPL) $(PEER_BOOT_FILES)

BENCH_TARGETS += bench-peer
bench-peer: $(PEER_IMAGE) $(SDCARD) $(BENCH_IMAGE)
	@O=$(O) $(PYTHON) $(SRC)/tests/bench/bench_peer.py --peer-image $(PEER_IMAGE) \
		--peer-bootcmd $(PEER_O)/boot.cmd --peer-kernel $(PEER_O)/vmlinuz \
		--peer-initramfs $(PEER_O)/initrd.gz --flotilla-image $(SDCARD) \
		--flotilla-bootcmd $(IMAGE_OUT)/boot.cmd --flotilla-bench-image $(BENCH_IMAGE) \
		--control-image $(CONTROL_IMAGE) $(BENCH_PEER_ARGS) --revision "$$(git -C $(SRC) describe --always --dirty 2>/dev/null || echo unknown)"
.PHONY: bench-peer
endif
