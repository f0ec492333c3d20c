# www: the HTTP/1.1 server guest (2048), with the network stack.
WWW_SITE_FILES := $(sort $(wildcard $(SRC)/guests/www/site/*))
WWW_SITE_DATA := $(O)/include/www/site_data.h

$(eval $(call flotilla_guest,www,$(addprefix $(SRC)/guests/www/,main.c http.c site.c),net))

$(WWW_SITE_DATA): $(SRC)/guests/www/mksite.py $(WWW_SITE_FILES)
	@mkdir -p $(@D)
	@echo "  GEN     $(patsubst $(O)/%,%,$@)"
	$(Q)$(PYTHON) $< $(SRC)/guests/www/site $@

$(O)/target/guests/www/site.o $(O)/host/guests/www: $(WWW_SITE_DATA)

include $(SRC)/guests/www/www.mk
