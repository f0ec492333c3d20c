$(eval $(call flotilla_guest,crash,$(SRC)/guests/crash/main.c))
