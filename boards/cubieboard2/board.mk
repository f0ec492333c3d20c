# Cubieboard2 (Allwinner A20, Cortex-A7 x2, 1 GiB). Real hardware only: QEMU
# has no A20 machine that runs this boot chain, so the image is built and its
# layout checked, not booted, in tests.

BOARD_UBOOT_BUILD := Cubieboard2
BOARD_DTB := sun7i-a20-cubieboard2.dtb
# UART0 @ 0x01c28000 on the debug header; serial0 alias in the DTB
BOARD_XEN_CONSOLE := dtuart=serial0
BOARD_RAM_BASE := 0x40000000
BOARD_RAM_SIZE_MB := 1024
BOARD_EMULATED := n
BOARD_CPUS := 2
