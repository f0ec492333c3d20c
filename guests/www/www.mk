# Tests of the www guest on the runtime's unix target, each in a network
# namespace it creates (root; they SKIP with the reason otherwise). Each
# script also takes --url http://ADDRESS/ to test a running server instead
# (e.g. www on the board).
WWW_UNIX := $(O)/host/guests/www
WWW_TESTS := $(SRC)/tests/integration

TEST_SUITES += www-unix syn-flood www-browser
.PHONY: test-www-unix test-syn-flood test-www-browser
test-www-unix: $(WWW_UNIX)
	@$(RUN_SUITE) www-unix env O=$(O) $(PYTHON) $(WWW_TESTS)/test_www.py --out $(O) $(WWW_UNIX)

test-syn-flood: $(WWW_UNIX)
	@$(RUN_SUITE) syn-flood env O=$(O) $(PYTHON) $(WWW_TESTS)/test_www_synflood.py --out $(O) $(WWW_UNIX)

test-www-browser: $(WWW_UNIX)
	@$(RUN_SUITE) www-browser env O=$(O) $(PYTHON) $(WWW_TESTS)/test_www_browser.py --out $(O) $(WWW_UNIX)
