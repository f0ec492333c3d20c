#!/bin/sh
# flotilla flash (issue 11): writes and verifies an SD image to a file and to
# a loop device (when the machine has them), provisions the boot partition,
# and refuses each unsafe target with its own one-line message. TAP.
#
#   test_flash.sh FLOTILLA IMAGE WORKDIR
set -u
F=$1 IMAGE=$2 W=$3
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { # description command...
	d=$1; shift
	if "$@" >out.txt 2>err.txt; then ok "$d"; else not_ok "$d"; sed 's/^/# /' out.txt err.txt; fi
}
# refuses "description" exit-code "stderr pattern" command...
refuses() {
	d=$1 want=$2 pat=$3; shift 3
	"$@" >out.txt 2>err.txt </dev/null
	got=$?
	lines=$(wc -l <err.txt)
	if [ "$got" = "$want" ] && [ "$lines" = 1 ] && grep -q -- "$pat" err.txt; then
		ok "$d"
	else
		not_ok "$d (exit $got, $lines stderr lines)"
		sed 's/^/# /' err.txt
	fi
}
# The FAT boot partition's byte offset in an image (MBR entry 1).
fat_offset() {
	echo $(($(od -An -tu4 -j454 -N4 "$1") * 512))
}

size=$(stat -c %s "$IMAGE")
"$F" keygen --out fleet >/dev/null 2>&1
"$F" keygen --out ops >/dev/null 2>&1

# --- to a file
check "flash to a new file writes and verifies it" sh -c "'$F' flash --yes '$IMAGE' card.img >flash.out"
check "the file is byte-identical to the image" cmp -s "$IMAGE" card.img
check "flash says it read back and verified" grep -q "read back and verified" flash.out
check "--json reports the size and sha256" sh -c "'$F' flash --yes --json '$IMAGE' card.img |
	/usr/bin/python3 -c 'import json,sys,hashlib; j=json.load(sys.stdin);
h=hashlib.sha256(open(\"$IMAGE\",\"rb\").read()).hexdigest();
assert j[\"bytes\"]==$size and j[\"verified\"] and j[\"sha256\"]==h, j'"
check "the question is answered y on stdin" sh -c "echo y | '$F' flash '$IMAGE' card2.img"
refuses "no answer (EOF) writes nothing" 1 "not confirmed: nothing written" "$F" flash "$IMAGE" card3.img
check "...and card3.img was not created" test ! -e card3.img
refuses "answering n writes nothing" 1 "not confirmed" sh -c "echo n | '$F' flash '$IMAGE' card3.img"

# --- provisioning
check "flash --hostname --static-ip --gateway --trust provisions the boot partition" \
	"$F" flash --yes "$IMAGE" prov.img --hostname board-17 --static-ip 10.0.3.17/24 \
	--gateway 10.0.3.1 --trust fleet.pub
off=$(fat_offset prov.img)
check "device.cfg is on the FAT boot partition" sh -c "MTOOLS_SKIP_CHECK=1 mtype -i prov.img@@$off ::device.cfg >cfg.txt"
check "device.cfg holds the settings" sh -c "grep -qx 'flotilla-device-config 1' cfg.txt &&
	grep -qx 'hostname = board-17' cfg.txt && grep -qx 'static-ip = 10.0.3.17/24' cfg.txt &&
	grep -qx 'gateway = 10.0.3.1' cfg.txt && grep -q '^trust = 04[0-9a-f]\{128\}$' cfg.txt"
check "flash --operator provisions an operator key (a separate role from --trust)" sh -c "
	'$F' flash --yes '$IMAGE' op.img --operator ops.pub --trust fleet.pub >/dev/null &&
	MTOOLS_SKIP_CHECK=1 mtype -i op.img@@$off ::device.cfg >opcfg.txt &&
	grep -q '^operator = 04[0-9a-f]\{128\}$' opcfg.txt && grep -q '^trust = 04[0-9a-f]\{128\}$' opcfg.txt"
refuses "one key as both --trust and --operator is refused" 1 "already listed as trust" \
	"$F" flash --yes "$IMAGE" both.img --trust fleet.pub --operator fleet.pub
check "outside the boot partition the provisioned card equals the image" sh -c "
	cmp -s -n $off '$IMAGE' prov.img &&
	end=\$(( $off + \$(od -An -tu4 -j458 -N4 prov.img) * 512 )) &&
	cmp -s -i \$end '$IMAGE' prov.img"
check "the image itself is left unprovisioned" sh -c "! MTOOLS_SKIP_CHECK=1 mtype -i '$IMAGE'@@$off ::device.cfg >/dev/null 2>&1"

# --- refusals (each its own message, nothing written)
refuses "a bad hostname is a usage error" 2 "--hostname 'Bad_Name'" "$F" flash --yes "$IMAGE" x.img --hostname Bad_Name
refuses "a static ip without prefix is a usage error" 2 "--static-ip '10.0.3.17'" "$F" flash --yes "$IMAGE" x.img --static-ip 10.0.3.17
refuses "--gateway without --static-ip" 2 "need --static-ip" "$F" flash --yes "$IMAGE" x.img --gateway 10.0.3.1
refuses "a gateway off the static network" 1 "not on the static-ip's network" "$F" flash --yes "$IMAGE" x.img --static-ip 10.0.3.17/24 --gateway 10.9.9.9
refuses "--trust of a missing key file" 1 "nokey.pub" "$F" flash --yes "$IMAGE" x.img --trust nokey.pub
check "...none of them wrote x.img" test ! -e x.img
refuses "a missing image" 1 "missing.img" "$F" flash --yes missing.img x.img
refuses "the image onto itself" 1 "it is the image itself" "$F" flash --yes "$IMAGE" "$IMAGE"
refuses "a directory" 1 "neither a block device nor a regular file" "$F" flash --yes "$IMAGE" .
refuses "a character device" 1 "neither a block device nor a regular file" "$F" flash --yes "$IMAGE" /dev/null
head -c 4096 /dev/zero >notfat.img
refuses "provisioning an image without a FAT boot partition" 1 "no FAT boot partition" "$F" flash --yes notfat.img y.img --hostname a
refuses "no DEVICE" 2 "expected IMAGE and DEVICE" "$F" flash "$IMAGE"

root_src=$(findmnt -n -o SOURCE / 2>/dev/null)
if [ -b "$root_src" ]; then
	refuses "the device holding the root file system" 1 "holds this host's root file system" "$F" flash --yes "$IMAGE" "$root_src"
else
	skip "the device holding the root file system" "/ is on $root_src, not a block device"
fi

# --- loop devices
if [ "$(id -u)" != 0 ] || ! losetup -f >/dev/null 2>&1; then
	skip "flash to a loop device" "needs root and loop devices"
else
	truncate -s "$size" big.bin
	truncate -s $((size / 2)) small.bin
	big=$(losetup -f --show big.bin) small=$(losetup -f --show small.bin)
	cleanup() { umount mnt 2>/dev/null; losetup -d "$big" "$small" "$fs" 2>/dev/null; }
	trap cleanup EXIT
	check "flash to a loop device writes and verifies it" "$F" flash --yes "$IMAGE" "$big"
	check "the loop device holds the image" cmp -s -n "$size" "$IMAGE" "$big"
	refuses "a device smaller than the image" 1 "the image needs $size" "$F" flash --yes "$IMAGE" "$small"
	# A mounted device (this kernel mounts ext2 on loop devices; the image's
	# FAT needs vfat, which it may lack).
	truncate -s 8M fs.bin
	mkdir -p mnt
	fs=$(losetup -f --show fs.bin)
	if mkfs.ext2 -q "$fs" 2>/dev/null && mount "$fs" mnt 2>/dev/null; then
		refuses "a mounted device" 1 "it is mounted (on $W/mnt)" "$F" flash --yes "$IMAGE" "$fs"
		umount mnt
	else
		skip "a mounted device" "cannot mount a file system on a loop device here"
	fi
	losetup -d "$fs"
fi
