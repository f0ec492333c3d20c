$(eval $(call flotilla_guest,netiftest,$(SRC)/guests/netiftest/main.c,net))
