#!/bin/sh
# Install and fetch everything the build needs, idempotently.
#
#   tools/deps.sh DEPS_DIR      (the build's cache, normally build/deps)
#
# 1. Debian host packages (apt-get install, as root) when any is missing.
# 2. armhf binary packages (U-Boot, Xen, the armmp kernel for its DTBs) and
#    source packages (xen for libfdt, mbedtls) through a private apt
#    configuration under DEPS_DIR, so the machine's apt setup is never
#    changed. armhf packages are only downloaded and unpacked, never installed.
# Everything is cached: a second run does no network I/O.
set -eu

DEPS=${1:?usage: deps.sh DEPS_DIR}
STAMP="$DEPS/.complete"
mkdir -p "$DEPS"
DEPS=$(cd "$DEPS" && pwd)

HOST_PACKAGES="gcc-arm-none-eabi binutils-arm-none-eabi picolibc-arm-none-eabi
qemu-system-arm u-boot-tools device-tree-compiler mtools dosfstools fdisk
python3-kconfiglib libcmocka-dev libmbedtls-dev libfdt-dev dpkg-dev
clang libclang-rt-14-dev llvm valgrind gcc make libxen-dev clang-format
iproute2 dnsmasq-base curl iputils-ping
python3-matplotlib gcc-arm-linux-gnueabihf libc6-dev-armhf-cross"

die() { echo "deps: error: $*" >&2; exit 1; }
say() { echo "deps: $*"; }

missing=""
for p in $HOST_PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	say "installing Debian packages:$missing"
	[ "$(id -u)" = 0 ] || die "need root to apt-get install:$missing (run 'sudo make deps')"
	export DEBIAN_FRONTEND=noninteractive
	# The security suite's index may be mid-sync; the other indexes still load.
	apt-get update -q >"$DEPS/apt-host-update.log" 2>&1 || true
	apt-get install -y -q --no-install-recommends $missing >"$DEPS/apt-host-install.log" 2>&1 ||
		die "apt-get install failed (see $DEPS/apt-host-install.log)"
fi

[ -f "$STAMP" ] && exit 0

# --- private apt configuration for armhf and source packages --------------
APT="$DEPS/apt"
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$DEPS/deb" "$DEPS/src" "$DEPS/root"
MIRROR=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n1)
[ -n "$MIRROR" ] || MIRROR=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$MIRROR" ] || die "no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
cat >"$APT/sources.list" <<EOS
deb [arch=amd64,armhf signed-by=$KEYRING] $MIRROR bookworm main
deb-src [signed-by=$KEYRING] $MIRROR bookworm main
deb [arch=amd64,armhf signed-by=$KEYRING] $MIRROR bookworm-updates main
EOS
apt_opts() { # command args...: run an apt tool on the private configuration
	cmd=$1; shift
	"$cmd" -o Dir::Etc::SourceList="$APT/sources.list" \
		-o Dir::Etc::SourceParts=/nonexistent \
		-o Dir::State::Lists="$APT/lists" \
		-o Dir::Cache="$APT/cache" \
		-o APT::Architectures::=amd64 -o APT::Architectures::=armhf \
		-o Debug::NoLocking=1 -o APT::Sandbox::User=root -q "$@"
}
apt_cache() { apt_opts apt-cache "$@"; }
apt_private() { apt_opts apt-get "$@"; }
if [ ! -f "$APT/.updated" ]; then
	say "updating private apt lists (armhf + deb-src) from $MIRROR"
	apt_private update >"$APT/update.log" 2>&1 || true
	apt_cache policy xen-hypervisor-4.17-armhf:armhf 2>/dev/null | grep -q 'Candidate: [0-9]' ||
		die "apt lists unusable: no candidate for xen-hypervisor-4.17-armhf:armhf (see $APT/update.log)"
	touch "$APT/.updated"
fi

# The armmp kernel image package name carries the ABI; resolve it from the metapackage.
KPKG=$(apt_cache depends linux-image-armmp:armhf 2>/dev/null | sed -n 's/.*Depends: \(linux-image-[0-9][^: ]*-armmp\).*/\1/p' | head -n1)
[ -n "$KPKG" ] || die "cannot resolve the armmp kernel package from linux-image-armmp:armhf"

fetch_deb() { # package
	if ! ls "$DEPS/deb/$1"_*.deb >/dev/null 2>&1; then
		say "downloading $1:armhf"
		(cd "$DEPS/deb" && apt_private download "$1:armhf" >/dev/null) || die "apt-get download $1:armhf failed"
	fi
}
for p in u-boot-sunxi xen-hypervisor-4.17-armhf "$KPKG"; do fetch_deb "$p"; done

mkdir -p "$DEPS/root"
for d in "$DEPS"/deb/u-boot-sunxi_*.deb "$DEPS"/deb/xen-hypervisor-*.deb; do
	dpkg-deb -x "$d" "$DEPS/root"
done
# Only the two device trees are kept from the 40 MB kernel package.
mkdir -p "$DEPS/dtb"
KTMP="$DEPS/ktmp"
rm -rf "$KTMP"
dpkg-deb --fsys-tarfile "$DEPS"/deb/"$KPKG"_*.deb |
	tar -x -C "$DEPS" --wildcards --transform 's,.*/,dtb/,' \
		'./usr/lib/linux-image-*/sun8i-h3-orangepi-pc.dtb' \
		'./usr/lib/linux-image-*/sun7i-a20-cubieboard2.dtb'
for f in sun8i-h3-orangepi-pc.dtb sun7i-a20-cubieboard2.dtb; do
	[ -s "$DEPS/dtb/$f" ] || die "$f not found in $KPKG"
done

fetch_src() { # source package, directory glob
	# $2 is a glob: left unquoted on purpose.
	if ! ls -d "$DEPS"/src/$2/ >/dev/null 2>&1; then
		say "fetching source package $1"
		(cd "$DEPS/src" && apt_private source --download-only "$1" >/dev/null) ||
			die "apt-get source $1 failed"
		(cd "$DEPS/src" && dpkg-source --no-check -x "$1"_*.dsc >/dev/null) ||
			die "dpkg-source -x $1 failed"
	fi
}
fetch_src xen 'xen-4.17*'
fetch_src mbedtls 'mbedtls-2.28*'
fetch_src lwip 'lwip-*'

ln -sfn "$(ls -d "$DEPS"/src/xen-4.17*/ | head -n1)" "$DEPS/xen-src"
ln -sfn "$(ls -d "$DEPS"/src/mbedtls-2.28*/ | head -n1)" "$DEPS/mbedtls-src"
ln -sfn "$(ls -d "$DEPS"/src/lwip-*/ | head -n1)" "$DEPS/lwip-src"
touch "$STAMP"
say "all dependencies present under $DEPS"
