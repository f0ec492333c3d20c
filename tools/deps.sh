#!/bin/sh
# Install and fetch everything the build needs, idempotently.
#
#   tools/deps.sh DEPS_DIR      (the download directory, DL_DIR: normally dl/)
#
# 1. Debian host packages (apt-get install, as root) when any is missing.
# 2. armhf binary packages (U-Boot, Xen, the armmp kernel for its DTBs) and
#    source packages (xen for libfdt and tools/build-xen.sh, mbedtls) through a private apt
#    configuration under DEPS_DIR, so the machine's apt setup is never
#    changed. armhf packages are only downloaded and unpacked, never installed.
# Everything is cached: a second run does no network I/O. The directory is
# shared by every build directory: one run at a time holds DEPS_DIR/.lock
# (concurrent makes wait), and every download or unpacked source package
# appears under its final name only once complete, so an interrupted run
# is simply run again. .complete is written last.
set -eu

DEPS=${1:?usage: deps.sh DEPS_DIR}
STAMP="$DEPS/.complete"
mkdir -p "$DEPS"
DEPS=$(cd "$DEPS" && pwd)
exec 9>"$DEPS/.lock"
if ! flock -n 9; then
	echo "deps: waiting for another build using $DEPS"
	flock 9
fi

HOST_PACKAGES="gcc-arm-none-eabi binutils-arm-none-eabi picolibc-arm-none-eabi
qemu-system-arm u-boot-tools device-tree-compiler mtools dosfstools fdisk
python3-kconfiglib libcmocka-dev libmbedtls-dev libfdt-dev dpkg-dev
clang libclang-rt-14-dev llvm valgrind gcc make libxen-dev clang-format
iproute2 dnsmasq-base curl iputils-ping chromium python3-websocket wrk apache2-utils
gcc-arm-linux-gnueabihf binutils-arm-linux-gnueabihf python3 flex bison
python3-matplotlib libc6-dev-armhf-cross python3-cryptography prometheus"

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

# xen-version.mk came later than the stamp: a cache without it is updated.
[ -f "$STAMP" ] && [ -f "$DEPS/xen-version.mk" ] && exit 0

# --- private apt configuration for armhf and source packages --------------
APT="$DEPS/apt"
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$DEPS/deb" "$DEPS/src" "$DEPS/root"
MIRROR=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n1)
[ -n "$MIRROR" ] || MIRROR=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$MIRROR" ] || die "no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
# The security suite, for Xen's source only: its armhf binary index fails to
# download ("unexpected size"), its source index works.
SECURITY=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep security | head -n1)
[ -n "$SECURITY" ] || SECURITY=$(awk '/^deb .*security/{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$SECURITY" ] || SECURITY=${MIRROR%/}-security
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
cat >"$APT/sources.list" <<EOS
deb [arch=amd64,armhf signed-by=$KEYRING] $MIRROR bookworm main
deb-src [signed-by=$KEYRING] $MIRROR bookworm main
deb [arch=amd64,armhf signed-by=$KEYRING] $MIRROR bookworm-updates main
deb-src [signed-by=$KEYRING] $SECURITY bookworm-security main
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
# .updated holds the sources.list the lists were fetched for.
if ! cmp -s "$APT/sources.list" "$APT/.updated"; then
	say "updating private apt lists (armhf + deb-src) from $MIRROR and $SECURITY"
	apt_private update >"$APT/update.log" 2>&1 || true
	apt_cache policy xen-hypervisor-4.17-armhf:armhf 2>/dev/null | grep -q 'Candidate: [0-9]' ||
		die "apt lists unusable: no candidate for xen-hypervisor-4.17-armhf:armhf (see $APT/update.log)"
	cp "$APT/sources.list" "$APT/.updated"
fi

# The armmp kernel image package name carries the ABI; resolve it from the metapackage.
KPKG=$(apt_cache depends linux-image-armmp:armhf 2>/dev/null | sed -n 's/.*Depends: \(linux-image-[0-9][^: ]*-armmp\).*/\1/p' | head -n1)
[ -n "$KPKG" ] || die "cannot resolve the armmp kernel package from linux-image-armmp:armhf"

fetch_deb() { # package
	if ! ls "$DEPS/deb/$1"_*.deb >/dev/null 2>&1; then
		say "downloading $1:armhf"
		rm -rf "$DEPS/deb/.partial" && mkdir -p "$DEPS/deb/.partial"
		(cd "$DEPS/deb/.partial" && apt_private download "$1:armhf" >/dev/null) || die "apt-get download $1:armhf failed"
		mv -f "$DEPS"/deb/.partial/*.deb "$DEPS/deb/" && rmdir "$DEPS/deb/.partial"
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
		# Unpacked aside, then renamed: a half-unpacked tree never counts.
		rm -rf "$DEPS/src/.partial" && mkdir -p "$DEPS/src/.partial"
		(cd "$DEPS/src/.partial" && dpkg-source --no-check -x "$DEPS/src/$1"_*.dsc >/dev/null) ||
			die "dpkg-source -x $1 failed"
		mv "$DEPS"/src/.partial/* "$DEPS/src/" && rmdir "$DEPS/src/.partial"
	fi
}
# Xen: the newest source of bookworm and bookworm-security (security fixes)
# that downloads, by exact version. The security pool may list a version it
# does not serve yet: then bookworm's, with a warning (delete
# $DEPS/xen-version.mk to try again later).
newest_first() { # Debian versions, one per line -> newest first (dpkg's order)
	rest=$(sort -u)
	while [ -n "$rest" ]; do
		top=
		for v in $rest; do
			if [ -z "$top" ] || dpkg --compare-versions "$v" gt "$top"; then top=$v; fi
		done
		echo "$top"
		rest=$(for v in $rest; do [ "$v" = "$top" ] || echo "$v"; done)
	done
}
XEN_VERSIONS=$(apt_cache showsrc xen 2>/dev/null | sed -n 's/^Version: //p' | newest_first)
XEN_NEWEST=$(echo "$XEN_VERSIONS" | head -n1) XEN_VERSION=
[ -n "$XEN_NEWEST" ] || die "no source package xen in the apt lists (see $APT/update.log)"
for v in $XEN_VERSIONS; do
	d=xen-${v%-*}
	if [ ! -d "$DEPS/src/$d" ]; then
		say "fetching source package xen $v"
		(cd "$DEPS/src" && apt_private source --download-only "xen=$v" >"$DEPS/src/xen-fetch.log" 2>&1) || {
			say "warning: apt-get source xen=$v failed (see $DEPS/src/xen-fetch.log)"
			continue
		}
		rm -rf "$DEPS/src/$d.tmp"
		(cd "$DEPS/src" && dpkg-source --no-check -x "xen_${v#*:}.dsc" "$d.tmp" >/dev/null) ||
			die "dpkg-source -x xen_$v failed"
		mv "$DEPS/src/$d.tmp" "$DEPS/src/$d"
	fi
	XEN_VERSION=$v XEN_DIR=$d
	break
done
[ -n "$XEN_VERSION" ] || die "no version of source package xen could be fetched"
[ "$XEN_VERSION" = "$XEN_NEWEST" ] ||
	say "warning: using xen $XEN_VERSION, not the newer $XEN_NEWEST (not downloadable now)"
fetch_src mbedtls 'mbedtls-2.28*'
fetch_src lwip 'lwip-*'

ln -sfn "$DEPS/src/$XEN_DIR/" "$DEPS/xen-src"
echo "XEN_SRC_VERSION := $XEN_VERSION" >"$DEPS/xen-version.mk"
ln -sfn "$(ls -d "$DEPS"/src/mbedtls-2.28*/ | head -n1)" "$DEPS/mbedtls-src"
ln -sfn "$(ls -d "$DEPS"/src/lwip-*/ | head -n1)" "$DEPS/lwip-src"
touch "$STAMP"
say "all dependencies present under $DEPS"
