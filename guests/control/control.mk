# The control domain image: Xen's domain 0, a Flotilla unikernel.
# Xen's domctl.h pulls in hvm/save.h, which needs GNU C (anonymous unions): gnu11.

CONTROL_DIR := $(SRC)/guests/control
CONTROL_OUT := $(O)/target/control
CONTROL_OBJS := $(CONTROL_OUT)/main.o $(CONTROL_OUT)/domain.o
CONTROL_IMAGE := $(O)/control.img

$(CONTROL_OUT)/%.o: $(CONTROL_DIR)/%.c $(RUNTIME_HEADERS) $(CONFIG_H) $(LIBFDT_INC)/.stamp | $(XEN_PUBLIC)/xen
	@mkdir -p $(@D)
	@echo "  CC      $(patsubst $(SRC)/%,%,$<)"
	$(Q)$(TARGET_CC) $(TARGET_CFLAGS) $(RUNTIME_INCLUDES) -std=gnu11 -D__XEN_TOOLS__ -DFLOTILLA_VERSION='"$(FLOTILLA_VERSION)"' -c $< -o $@

$(CONTROL_IMAGE): $(CONTROL_OBJS) $(RUNTIME_START) $(RUNTIME_LIB) $(LIBFDT_OUT)/libfdt.a $(RUNTIME_LDSCRIPT)
	$(call link_xen_image,$(CONTROL_OUT)/control.elf,$@,$(CONTROL_OBJS))

ALL_TARGETS += $(CONTROL_IMAGE)
