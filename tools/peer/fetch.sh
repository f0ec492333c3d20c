#!/bin/sh
# Download and unpack the Debian 12 armhf packages the Linux-dom0 peer is
# made of (make bench-peer only; a plain build never needs them).
#
#   tools/peer/fetch.sh DEPS_DIR OUT_DIR
#
# Uses the private apt lists tools/deps.sh keeps under DEPS_DIR/apt (read
# only: this script's apt cache is OUT_DIR/apt), downloads into OUT_DIR/deb
# and unpacks every package into OUT_DIR/root with dpkg-deb -x. Nothing is
# installed. The package list is the runtime closure of what the peer's
# initramfs uses (xl, xenstored, xenconsoled, xen-init-dom0, busybox);
# mkinitramfs.py then takes only the files those programs need.
set -eu
die() { echo "peer-fetch: error: $*" >&2; exit 1; }

DEPS=${1:?usage: fetch.sh DEPS_DIR OUT_DIR}
OUT=${2:?usage: fetch.sh DEPS_DIR OUT_DIR}
APT="$DEPS/apt"
[ -f "$APT/sources.list" ] && [ -d "$APT/lists" ] || die "no private apt lists under $APT (run make deps)"
mkdir -p "$OUT/apt/cache/archives/partial" "$OUT/deb"
OUT=$(cd "$OUT" && pwd)

# The same options as tools/deps.sh, but an empty dpkg status (the host's
# installed amd64 packages say nothing about an armhf root) and a cache of
# our own, so the shared dependency cache is only read.
apt_opts() {
	cmd=$1; shift
	"$cmd" -o Dir::Etc::SourceList="$APT/sources.list" \
		-o Dir::Etc::SourceParts=/nonexistent \
		-o Dir::State::Lists="$APT/lists" \
		-o Dir::State::status=/dev/null \
		-o Dir::Cache="$OUT/apt/cache" \
		-o APT::Architectures::=amd64 -o APT::Architectures::=armhf \
		-o Debug::NoLocking=1 -o APT::Sandbox::User=root -q "$@"
}

# Xen needs LPAE: the armmp-lpae flavour, its ABI resolved from the metapackage.
KPKG=$(apt_opts apt-cache depends linux-image-armmp-lpae:armhf 2>/dev/null |
	sed -n 's/.*Depends: \(linux-image-[0-9][^: ]*-armmp-lpae\).*/\1/p' | head -n1)
[ -n "$KPKG" ] || die "cannot resolve the kernel package from linux-image-armmp-lpae:armhf"

PACKAGES="$KPKG busybox-static xen-utils-4.17 libc6 libxenmisc4.17 libxencall1
libxenevtchn1 libxenforeignmemory1 libxengnttab1 libxenstore4 libxentoollog1
libyajl2 libuuid1 libgcc-s1 zlib1g libzstd1 liblzma5 libbz2-1.0 liblzo2-2
libnl-3-200 libnl-route-3-200 libtinfo6 libncurses6 xenstore-utils
libxentoolcore1 libxenhypfs1 libxendevicemodel1 libfdt1"

for p in $PACKAGES; do
	if ! ls "$OUT/deb/$p"_*.deb >/dev/null 2>&1; then
		(cd "$OUT/deb" && apt_opts apt-get download "$p:armhf" >/dev/null 2>"$OUT/apt/download.log") ||
			die "apt-get download $p:armhf failed (see $OUT/apt/download.log)"
	fi
done
rm -rf "$OUT/root"
mkdir -p "$OUT/root"
for d in "$OUT"/deb/*.deb; do
	case $d in
	"$OUT/deb/${KPKG}_"*)
		# Of the 40 MB kernel package only the kernel and Xen's drivers.
		dpkg-deb --fsys-tarfile "$d" | tar -x -C "$OUT/root" --wildcards \
			'./boot/vmlinuz-*' './lib/modules/*/kernel/drivers/xen/*' ;;
	*) dpkg-deb -x "$d" "$OUT/root" ;;
	esac
done
ln -sfn "$(ls "$OUT"/root/boot/vmlinuz-* | head -n1)" "$OUT/vmlinuz.src"
echo "  PEER    unpacked $(ls "$OUT"/deb/*.deb | wc -l) Debian armhf packages ($KPKG)"
