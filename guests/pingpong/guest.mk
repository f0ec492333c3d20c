$(eval $(call flotilla_guest,pingpong,$(SRC)/guests/pingpong/main.c))
