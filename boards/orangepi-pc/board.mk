# Orange Pi PC (Allwinner H3, Cortex-A7 x4, 1 GiB) - what QEMU's orangepi-pc
# machine emulates. Debian has no orangepi_pc U-Boot build; nanopi_neo is the
# same SoC and boots the emulated board.

# u-boot-sunxi:armhf -> usr/lib/u-boot/<build>/u-boot-sunxi-with-spl.bin
BOARD_UBOOT_BUILD := nanopi_neo
# linux-image-*-armmp:armhf -> usr/lib/linux-image-*/<dtb>
BOARD_DTB := sun8i-h3-orangepi-pc.dtb
# Xen's console: the UART named by the DTB's serial0 alias (UART0 @ 0x01c28000)
BOARD_XEN_CONSOLE := dtuart=serial0
# RAM as the boot ROM/U-Boot see it
BOARD_RAM_BASE := 0x40000000
BOARD_RAM_SIZE_MB := 1024
# QEMU 7.2. The counter must run at the 24 MHz U-Boot programs into CNTFRQ,
# or every guest clock runs 2.6x fast. The machine needs exactly 4 CPUs.
BOARD_QEMU_MACHINE := -M orangepi-pc -smp 4 -m 1024 -global cortex-a7-arm-cpu.cntfrq=24000000
BOARD_QEMU_NIC := allwinner-sun8i-emac
BOARD_EMULATED := y
BOARD_CPUS := 4
