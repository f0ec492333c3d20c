/tmp/b9k/host/guests/ticker: /work/wt/build9/guests/ticker/main.c \
 /work/wt/build9/guests/runtime/include/flotilla.h
/work/wt/build9/guests/runtime/include/flotilla.h:
