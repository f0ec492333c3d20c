# The unikernel runtime for the Xen/ARM32 target, plus the third-party
# pieces it links: libfdt compiled from Debian's Xen source package.

RUNTIME_DIR := $(SRC)/guests/runtime
RUNTIME_OUT := $(O)/target/runtime
LIBFDT_OUT := $(O)/target/libfdt
LIBFDT_SRC := $(DEPS)/xen-src/xen/common/libfdt
LIBFDT_HDR := $(DEPS)/xen-src/xen/include/xen/libfdt
XEN_PUBLIC := $(O)/target/xen-public

# libfdt.h includes <xen/libfdt/libfdt_env.h>: that path gets our environment.
LIBFDT_INC := $(LIBFDT_OUT)/include/xen/libfdt
LIBFDT_MODULES := fdt fdt_ro fdt_wip fdt_sw fdt_rw fdt_strerror fdt_empty_tree fdt_addresses
LIBFDT_OBJS := $(LIBFDT_MODULES:%=$(LIBFDT_OUT)/%.o)

# The latest Xen interface: older ones alias sched_op to the ARM-less sched_op_compat.
RUNTIME_INCLUDES := -D__XEN_INTERFACE_VERSION__=__XEN_LATEST_INTERFACE_VERSION__ -I$(RUNTIME_DIR)/include -I$(RUNTIME_DIR)/xen -I$(RUNTIME_DIR)/lib -I$(LIBFDT_INC) \
	-I$(LIBFDT_OUT)/include -isystem $(XEN_PUBLIC)

RUNTIME_XEN_OBJS := $(RUNTIME_OUT)/arch/arm32/arch.o $(RUNTIME_OUT)/arch/arm32/mmu.o \
	$(RUNTIME_OUT)/lib/devicetree.o $(RUNTIME_OUT)/lib/vnic_ring.o $(RUNTIME_OUT)/xen/net.o \
	$(RUNTIME_OUT)/xen/events.o $(RUNTIME_OUT)/xen/memory.o \
	$(RUNTIME_OUT)/xen/hypercall.o $(RUNTIME_OUT)/xen/console.o $(RUNTIME_OUT)/xen/runtime.o
RUNTIME_START := $(RUNTIME_OUT)/arch/arm32/start.o
RUNTIME_LIB := $(RUNTIME_OUT)/libruntime-xen.a
RUNTIME_LDSCRIPT := $(RUNTIME_DIR)/arch/arm32/link.ld
RUNTIME_HEADERS := $(wildcard $(RUNTIME_DIR)/lib/*.h $(RUNTIME_DIR)/include/*.h $(RUNTIME_DIR)/xen/*.h $(RUNTIME_DIR)/arch/arm32/*.h) $(RUNTIME_DIR)/runtime.mk

$(LIBFDT_INC)/.stamp: $(DEPS_STAMP) $(RUNTIME_DIR)/lib/libfdt_env.h
	@mkdir -p $(LIBFDT_INC)
	@cp $(LIBFDT_HDR)/libfdt.h $(LIBFDT_HDR)/fdt.h $(LIBFDT_INC)/
	@cp $(RUNTIME_DIR)/lib/libfdt_env.h $(LIBFDT_INC)/libfdt_env.h
	@touch $@

$(XEN_PUBLIC)/xen:
	@mkdir -p $(XEN_PUBLIC)
	@test -f /usr/include/xen/xen.h || { echo "error: Xen public headers missing (Debian package libxen-dev): run 'make deps'" >&2; exit 1; }
	@ln -sfn /usr/include/xen $@

$(LIBFDT_OUT)/%.o: $(LIBFDT_INC)/.stamp
	@mkdir -p $(@D)
	@echo "  CC      $(notdir $@) (libfdt)"
	$(Q)$(TARGET_CC) $(TARGET_CFLAGS_3RDPARTY) -I$(LIBFDT_INC) -I$(LIBFDT_OUT)/include -c $(LIBFDT_SRC)/$*.c -o $@

$(LIBFDT_OUT)/libfdt.a: $(LIBFDT_OBJS)
	@echo "  AR      $(notdir $@)"
	$(Q)rm -f $@ && $(CROSS)ar rcs $@ $^

$(RUNTIME_OUT)/%.o: $(RUNTIME_DIR)/%.c $(RUNTIME_HEADERS) $(CONFIG_H) $(LIBFDT_INC)/.stamp | $(XEN_PUBLIC)/xen
	@mkdir -p $(@D)
	@echo "  CC      $(patsubst $(SRC)/%,%,$<)"
	$(Q)$(TARGET_CC) $(TARGET_CFLAGS) $(RUNTIME_INCLUDES) -c $< -o $@

$(RUNTIME_OUT)/%.o: $(RUNTIME_DIR)/%.S
	@mkdir -p $(@D)
	@echo "  AS      $(patsubst $(SRC)/%,%,$<)"
	$(Q)$(TARGET_CC) $(TARGET_ARCH) -c $< -o $@

$(RUNTIME_LIB): $(RUNTIME_XEN_OBJS)
	@echo "  AR      $(notdir $@)"
	$(Q)rm -f $@ && $(CROSS)ar rcs $@ $^

# $(call link_xen_image,ELF,IMAGE,OBJECTS): link a position-independent
# zImage. .bss goes into the file because Xen copies only the file.
TARGET_LDFLAGS := $(TARGET_ARCH) --specs=picolibc.specs -nostartfiles -static-pie -pie \
	-Wl,--no-dynamic-linker -Wl,--gc-sections -Wl,-z,notext -Wl,--build-id=none
define link_xen_image
	@mkdir -p $(dir $(1)) $(dir $(2))
	@echo "  LD      $(notdir $(1))"
	$(Q)$(TARGET_CC) $(TARGET_LDFLAGS) -T $(RUNTIME_LDSCRIPT) -o $(1) $(RUNTIME_START) $(3) \
		$(RUNTIME_LIB) $(LIBFDT_OUT)/libfdt.a -Wl,-Map,$(1).map
	@if $(CROSS)readelf -r $(1) | grep -q 'R_ARM_' && $(CROSS)readelf -r $(1) | grep 'R_ARM_' | grep -vq 'R_ARM_RELATIVE'; then \
		echo "error: $(1) has relocations other than R_ARM_RELATIVE" >&2; $(CROSS)readelf -r $(1) | grep R_ARM_ | grep -v RELATIVE | head >&2; exit 1; fi
	$(Q)$(TARGET_OBJCOPY) -O binary --set-section-flags .bss=alloc,load,contents $(1) $(2)
	@printf '%-28s %7d bytes  (' "$(notdir $(2))" $$(stat -c %s $(2)); \
		$(TARGET_SIZE) $(1) | awk 'NR==2{printf "text %d, data %d, bss %d", $$1, $$2, $$3}'; echo ')'
endef

# ---------------------------------------------------------------- unix target
RUNTIME_UNIX_SRCS := $(RUNTIME_DIR)/unix/runtime.c $(RUNTIME_DIR)/unix/net.c
RUNTIME_UNIX_CFLAGS := $(HOST_CFLAGS) -I$(RUNTIME_DIR)/include -I$(RUNTIME_DIR)/unix

# ---------------------------------------------------------------- guests
# $(call flotilla_guest,NAME,SOURCES): the same application sources built
# for Xen ($(O)/guests/NAME.img) and for unix ($(O)/host/guests/NAME).
define flotilla_guest
$(1)_XEN_OBJS := $$(patsubst $$(SRC)/%.c,$$(O)/target/%.o,$(2))

$$(O)/target/guests/$(1)/%.o: $$(SRC)/guests/$(1)/%.c $$(RUNTIME_HEADERS) $$(CONFIG_H) $$(LIBFDT_INC)/.stamp | $$(XEN_PUBLIC)/xen
	@mkdir -p $$(@D)
	@echo "  CC      $$(patsubst $$(SRC)/%,%,$$<)"
	$$(Q)$$(TARGET_CC) $$(TARGET_CFLAGS) $$(RUNTIME_INCLUDES) -c $$< -o $$@

$$(O)/guests/$(1).img: $$($(1)_XEN_OBJS) $$(RUNTIME_START) $$(RUNTIME_LIB) $$(LIBFDT_OUT)/libfdt.a $$(RUNTIME_LDSCRIPT)
	$$(call link_xen_image,$$(O)/target/guests/$(1)/$(1).elf,$$@,$$($(1)_XEN_OBJS))

$$(O)/host/guests/$(1): $(2) $$(RUNTIME_UNIX_SRCS) $$(RUNTIME_HEADERS) $$(RUNTIME_DIR)/unix/unix.h
	@mkdir -p $$(@D)
	@echo "  HOSTCC  $$(patsubst $$(O)/%,%,$$@)"
	$$(Q)$$(HOST_CC) $$(RUNTIME_UNIX_CFLAGS) -o $$@ $(2) $$(RUNTIME_UNIX_SRCS)

GUESTS += $(1)
ALL_TARGETS += $$(O)/guests/$(1).img $$(O)/host/guests/$(1)
endef
