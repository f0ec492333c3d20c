# www: the HTTP/1.1 server guest (2048), with the network stack.
WWW_SITE_FILES := $(sort $(wildcard $(SRC)/guests/www/site/*))
WWW_SITE_DATA := $(O)/include/www/site_data.h

$(eval $(call flotilla_guest,www,$(addprefix $(SRC)/guests/www/,main.c http.c site.c),net))

$(WWW_SITE_DATA): $(SRC)/guests/www/mksite.py $(WWW_SITE_FILES)
	@mkdir -p $(@D)
	@echo "  GEN     $(patsubst $(O)/%,%,$@)"
	$(Q)$(PYTHON) $< $(SRC)/guests/www/site $@

$(O)/target/guests/www/site.o $(O)/host/guests/www: $(WWW_SITE_DATA)

# The version www names in its responses (X-Www-Version, /version, /healthz):
# the one its bundle is signed with. Test variants set their own
# (tests/integration/push.mk).
$(O)/target/guests/www/main.o: TARGET_CFLAGS += -DWWW_VERSION='"$(FLOTILLA_VERSION)"'
$(O)/host/guests/www: RUNTIME_UNIX_CFLAGS += -DWWW_VERSION='"$(FLOTILLA_VERSION)"'


# The image with its TCP/IP stack, against the goal of 128 KiB.
WWW_SIZE_GOAL := 131072
ALL_TARGETS += www-size
.PHONY: www-size
www-size: $(O)/guests/www.img
	@size=$$(stat -c %s $<); \
	if [ $$size -le $(WWW_SIZE_GOAL) ]; then verdict="within"; else verdict="OVER"; fi; \
	echo "www: www.img $$size bytes with its TCP/IP stack ($$verdict the $(WWW_SIZE_GOAL)-byte goal)"
