$(eval $(call flotilla_guest,ticker,$(SRC)/guests/ticker/main.c))
