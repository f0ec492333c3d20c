/tmp/b9a/host/tests/test_boot_bundle: \
 /work/wt/build9/tests/unit/test_boot_bundle.c \
 /work/wt/build9/guests/control/boot_bundle.h
/work/wt/build9/guests/control/boot_bundle.h:
