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
	$(RUNTIME_OUT)/xen/hypercall.o $(RUNTIME_OUT)/xen/console.o $(RUNTIME_OUT)/xen/runtime.o \
	$(RUNTIME_OUT)/xen/irq.o $(RUNTIME_OUT)/xen/dma.o $(RUNTIME_OUT)/xen/status.o
RUNTIME_START := $(RUNTIME_OUT)/arch/arm32/start.o
RUNTIME_LIB := $(RUNTIME_OUT)/libruntime-xen.a
RUNTIME_LDSCRIPT := $(RUNTIME_DIR)/arch/arm32/link.ld
# Header dependencies come from the compiler (DEPFLAGS, multi_deps); this
# list is kept only for fragments elsewhere that still name it.
RUNTIME_HEADERS := $(wildcard $(RUNTIME_DIR)/lib/*.h $(RUNTIME_DIR)/include/*.h $(RUNTIME_DIR)/xen/*.h $(RUNTIME_DIR)/arch/arm32/*.h) $(RUNTIME_DIR)/runtime.mk

$(LIBFDT_INC)/.stamp: $(DEPS_STAMP) $(RUNTIME_DIR)/lib/libfdt_env.h
	$(Q)mkdir -p $(LIBFDT_INC)
	$(Q)cp $(LIBFDT_HDR)/libfdt.h $(LIBFDT_HDR)/fdt.h $(LIBFDT_INC)/
	$(Q)cp $(RUNTIME_DIR)/lib/libfdt_env.h $(LIBFDT_INC)/libfdt_env.h
	$(Q)touch $@

$(XEN_PUBLIC)/xen:
	$(Q)mkdir -p $(XEN_PUBLIC)
	$(Q)test -f /usr/include/xen/xen.h || { echo "error: Xen public headers missing (Debian package libxen-dev): run 'make deps'" >&2; exit 1; }
	$(Q)ln -sfn /usr/include/xen $@

$(LIBFDT_OUT)/%.o: $(LIBFDT_INC)/.stamp
	$(Q)mkdir -p $(@D)
	@echo "  CC      $(notdir $@) (libfdt)"
	$(Q)$(TARGET_CC) $(TARGET_CFLAGS_3RDPARTY) -I$(LIBFDT_INC) -I$(LIBFDT_OUT)/include -c $(LIBFDT_SRC)/$*.c -o $@

$(LIBFDT_OUT)/libfdt.a: $(LIBFDT_OBJS)
	@echo "  AR      $(notdir $@)"
	$(Q)rm -f $@ && $(CROSS_COMPILE)ar rcs $@ $^

$(RUNTIME_OUT)/%.o: $(RUNTIME_DIR)/%.c $(RUNTIME_DIR)/runtime.mk $(CONFIG_H) $(LIBFDT_INC)/.stamp | $(XEN_PUBLIC)/xen
	$(Q)mkdir -p $(@D)
	@echo "  CC      $(patsubst $(SRC)/%,%,$<)"
	$(Q)$(TARGET_CC) $(TARGET_CFLAGS) $(RUNTIME_INCLUDES) -c $< -o $@

$(RUNTIME_OUT)/%.o: $(RUNTIME_DIR)/%.S
	$(Q)mkdir -p $(@D)
	@echo "  AS      $(patsubst $(SRC)/%,%,$<)"
	$(Q)$(TARGET_CC) $(TARGET_ARCH) $(DEPFLAGS) -c $< -o $@

$(RUNTIME_LIB): $(RUNTIME_XEN_OBJS)
	@echo "  AR      $(notdir $@)"
	$(Q)rm -f $@ && $(CROSS_COMPILE)ar rcs $@ $^

# $(call link_xen_image,ELF,IMAGE,OBJECTS): link a position-independent
# zImage. .bss goes into the file because Xen copies only the file.
TARGET_LDFLAGS := $(TARGET_ARCH) --specs=picolibc.specs -nostartfiles -static-pie -pie \
	-Wl,--no-dynamic-linker -Wl,--gc-sections -Wl,-z,notext -Wl,--build-id=none
define link_xen_image
	$(Q)mkdir -p $(dir $(1)) $(dir $(2))
	@echo "  LD      $(notdir $(1))"
	$(Q)$(TARGET_CC) $(TARGET_LDFLAGS) -T $(RUNTIME_LDSCRIPT) -o $(1) $(RUNTIME_START) $(3) \
		$(RUNTIME_LIB) $(LIBFDT_OUT)/libfdt.a -Wl,-Map,$(1).map
	$(Q)if $(CROSS_COMPILE)readelf -r $(1) | grep -q 'R_ARM_' && $(CROSS_COMPILE)readelf -r $(1) | grep 'R_ARM_' | grep -vq 'R_ARM_RELATIVE'; then \
		echo "error: $(1) has relocations other than R_ARM_RELATIVE" >&2; $(CROSS_COMPILE)readelf -r $(1) | grep R_ARM_ | grep -v RELATIVE | head >&2; exit 1; fi
	$(Q)$(TARGET_OBJCOPY) -O binary --set-section-flags .bss=alloc,load,contents $(1) $(2)
	$(Q)printf '%-28s %7d bytes  (' "$(notdir $(2))" $$(stat -c %s $(2)); \
		$(TARGET_SIZE) $(1) | awk 'NR==2{printf "text %d, data %d, bss %d", $$1, $$2, $$3}'; echo ')'
endef

# ---------------------------------------------------------------- unix target
RUNTIME_UNIX_SRCS := $(RUNTIME_DIR)/unix/runtime.c $(RUNTIME_DIR)/unix/net.c
RUNTIME_UNIX_CFLAGS := $(HOST_CFLAGS) -I$(RUNTIME_DIR)/include -I$(RUNTIME_DIR)/unix -I$(RUNTIME_DIR)/lib

# ---------------------------------------------------------------- guests
# Guests that use the network stack (third argument "net") also get net/
# (libnet.a on Xen, its sources on unix) and lib/netif.c, the glue between
# the runtime and the stack (include/flotilla_net.h). net.mk comes later in
# the Makefile, so the paths are spelled out here.
RUNTIME_NET_LIB := $(O)/target/net/libnet.a
RUNTIME_NET_OBJ := $(RUNTIME_OUT)/lib/netif.o $(RUNTIME_OUT)/lib/lease.o
RUNTIME_NET_UNIX_SRCS = $(RUNTIME_DIR)/lib/netif.c $(RUNTIME_DIR)/lib/lease.c $(wildcard $(SRC)/net/*.c)
RUNTIME_NET_UNIX_CFLAGS := -I$(O)/include -I$(SRC)/net
$(RUNTIME_NET_OBJ): RUNTIME_INCLUDES += -I$(SRC)/net

# $(call flotilla_guest,NAME,SOURCES[,net]): the same application sources
# built for Xen ($(O)/guests/NAME.img) and for unix ($(O)/host/guests/NAME).
define flotilla_guest
$(1)_XEN_OBJS := $$(patsubst $$(SRC)/%.c,$$(O)/target/%.o,$(2))
$(1)_XEN_LINK := $$($(1)_XEN_OBJS) $(if $(filter net,$(3)),$$(RUNTIME_NET_OBJ) $$(RUNTIME_NET_LIB))
$(1)_UNIX_SRCS := $(2) $$(RUNTIME_UNIX_SRCS) $(if $(filter net,$(3)),$$(RUNTIME_NET_UNIX_SRCS))

$$(O)/target/guests/$(1)/%.o: $$(SRC)/guests/$(1)/%.c $$(RUNTIME_DIR)/runtime.mk $$(CONFIG_H) $$(LIBFDT_INC)/.stamp | $$(XEN_PUBLIC)/xen
	$(Q)mkdir -p $$(@D)
	@echo "  CC      $$(patsubst $$(SRC)/%,%,$$<)"
	$$(Q)$$(TARGET_CC) $$(TARGET_CFLAGS) $$(RUNTIME_INCLUDES) $(if $(filter net,$(3)),-I$$(SRC)/net) -c $$< -o $$@

$$(O)/guests/$(1).img: $$($(1)_XEN_LINK) $$(RUNTIME_START) $$(RUNTIME_LIB) $$(LIBFDT_OUT)/libfdt.a $$(RUNTIME_LDSCRIPT)
	$$(call link_xen_image,$$(O)/target/guests/$(1)/$(1).elf,$$@,$$($(1)_XEN_LINK))

$$(O)/host/guests/$(1): $$($(1)_UNIX_SRCS) $$(RUNTIME_DIR)/runtime.mk $(if $(filter net,$(3)),$$(CONFIG_H))
	$(Q)mkdir -p $$(@D)
	@echo "  HOSTCC  $$(patsubst $$(O)/%,%,$$@)"
	$$(Q)$$(HOST_CC) $$(RUNTIME_UNIX_CFLAGS) $(if $(filter net,$(3)),$$(RUNTIME_NET_UNIX_CFLAGS)) -o $$@ $$($(1)_UNIX_SRCS)
	$$(Q)$$(call multi_deps,$$(HOST_CC) $$(RUNTIME_UNIX_CFLAGS) $(if $(filter net,$(3)),$$(RUNTIME_NET_UNIX_CFLAGS)),$$($(1)_UNIX_SRCS))

GUESTS += $(1)
ALL_TARGETS += $$(O)/guests/$(1).img $$(O)/host/guests/$(1)
endef
