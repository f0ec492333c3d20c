$(eval $(call flotilla_guest,statustest,$(SRC)/guests/statustest/main.c,net))
