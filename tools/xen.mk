# Xen: built from Debian's source package (tools/build-xen.sh) once per
# source version and variant, in the dependency cache every O= directory
# shares; see docs/xen.md.

# XEN_SRC_VERSION: the version of $(DEPS)/xen-src, written by tools/deps.sh.
# A cache made before that file existed gets it from one more deps.sh run.
include $(DEPS)/xen-version.mk
$(DEPS)/xen-version.mk: | $(DEPS_STAMP)
	@sh $(SRC)/tools/deps.sh $(DEPS)

XEN_VARIANT := $(if $(filter y,$(CONFIG_XEN_DEBUG)),debug,release)
XEN_BUILD_DIR := $(DEPS)/xen-build/$(XEN_SRC_VERSION)-$(XEN_VARIANT)
XEN_BUILT_IMAGE := $(XEN_BUILD_DIR)/xen

# build-xen.sh does nothing for a complete entry; the touch keeps make from
# running it again when only the deps stamp is newer.
$(XEN_BUILT_IMAGE): | $(DEPS)/xen-version.mk
	$(Q)sh $(SRC)/tools/build-xen.sh $(DEPS)/xen-src $(XEN_BUILD_DIR) $(XEN_VARIANT)
	@touch -c $@

# A debug Xen prints everything, for guests too (no rate limit).
ifeq ($(XEN_VARIANT),debug)
BOARD_XEN_CONSOLE += loglvl=all guest_loglvl=all
endif

TEST_SUITES += xen-build
test-xen-build: $(SDCARD)
	@$(RUN_SUITE) xen-build $(PYTHON) $(SRC)/tests/integration/test_xen_build.py \
		--entry $(XEN_BUILD_DIR) --variant $(XEN_VARIANT) --version $(XEN_SRC_VERSION) \
		--image-xen $(IMAGE_OUT)/xen --boot-cmd $(IMAGE_OUT)/boot.cmd --src $(DEPS)/xen-src \
		--script $(SRC)/tools/build-xen.sh --debian-config $(DEPS)/root/boot/xen-4.17-armhf.config \
		--debian-deb "$(firstword $(wildcard $(DEPS)/deb/xen-hypervisor-4.17-armhf_*.deb))"
