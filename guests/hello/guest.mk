$(eval $(call flotilla_guest,hello,$(SRC)/guests/hello/main.c))
