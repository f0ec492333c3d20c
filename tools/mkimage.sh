#!/bin/sh
# Build a flashable SD-card image without root or loop mounts.
#
#   mkimage.sh OUT.img SIZE_MB BOOT_MB STORE_MB SPL_BIN FILE...
#
# Layout (MBR; the A20 boot ROM reads only sector 16, so no GPT):
#   0        MBR
#   8 KiB    SPL + U-Boot (u-boot-sunxi-with-spl.bin), must end before 1 MiB
#   1 MiB    p1: FAT boot partition (bootable) holding FILE...
#   next     p2: raw OTA slot store (type 0xda, "non-FS data")
# SIZE_MB must be a power of two (QEMU's SD model refuses other sizes).
set -eu
die() { echo "mkimage: error: $*" >&2; exit 1; }

[ $# -ge 6 ] || die "usage: mkimage.sh OUT.img SIZE_MB BOOT_MB STORE_MB SPL_BIN FILE..."
out=$1 size_mb=$2 boot_mb=$3 store_mb=$4 spl=$5
shift 5

case $size_mb in ''|*[!0-9]*) die "image size '$size_mb' is not a number of MiB" ;; esac
[ "$size_mb" -gt 0 ] && [ $((size_mb & (size_mb - 1))) -eq 0 ] ||
	die "image size ${size_mb} MiB is not a power of two (CONFIG_SDCARD_SIZE_MB)"
[ $((1 + boot_mb + store_mb)) -le "$size_mb" ] ||
	die "partitions need $((1 + boot_mb + store_mb)) MiB, image is ${size_mb} MiB (CONFIG_SDCARD_SIZE_MB)"
[ -f "$spl" ] || die "no SPL/U-Boot binary at $spl"
spl_bytes=$(stat -c %s "$spl")
[ $((8192 + spl_bytes)) -le 1048576 ] || die "SPL+U-Boot ($spl_bytes bytes) does not fit between 8 KiB and 1 MiB"

tmp="$out.tmp"
fat="$out.fat"
rm -f "$tmp" "$fat"
truncate -s "${size_mb}M" "$tmp"

boot_start=2048
boot_sectors=$((boot_mb * 2048))
store_start=$((boot_start + boot_sectors))
store_sectors=$((store_mb * 2048))
sfdisk --quiet --no-reread --no-tell-kernel "$tmp" <<EOS >/dev/null
label: dos
unit: sectors

start=$boot_start, size=$boot_sectors, type=c, bootable
start=$store_start, size=$store_sectors, type=da
EOS

truncate -s "${boot_mb}M" "$fat"
mkfs.vfat -n FLOTILLA "$fat" >/dev/null
for f in "$@"; do
	[ -f "$f" ] || die "missing boot file $f"
	mcopy -i "$fat" "$f" ::/
done
dd if="$fat" of="$tmp" bs=1M seek=1 conv=notrunc status=none
dd if="$spl" of="$tmp" bs=1024 seek=8 conv=notrunc status=none
rm -f "$fat"
mv "$tmp" "$out"
echo "$(basename "$out"): ${size_mb} MiB (boot ${boot_mb} MiB at 1 MiB, OTA store ${store_mb} MiB at $((1 + boot_mb)) MiB)"
