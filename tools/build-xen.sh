#!/bin/sh
# Build the Xen hypervisor (arm32) from Debian's source package, once.
#
#   build-xen.sh SRC_DIR OUT_DIR release|debug
#
# SRC_DIR is the unpacked source package (dpkg-source -x: Debian's patches
# applied), normally $(DEPS)/xen-src. OUT_DIR is the cache entry, named after
# the package version and the variant by tools/xen.mk; it receives:
#   xen        the image U-Boot loads (zImage format, as Debian's
#              xen-hypervisor-4.17-armhf ships it)
#   xen-syms   the ELF with symbols, for addr2line on a crash address
#   config     the .config it was built with
#   build.log  the full build output
#   .stamp     written last: the entry is complete
# An entry with .stamp is never rebuilt. The build runs in a temporary
# directory beside OUT_DIR that is renamed into place at the end, so an
# interrupted or failed build leaves no half entry, and two builds of the
# same entry at once are harmless (the second one's result is dropped).
#
# The release configuration is Debian's: debian/xen-kconfig (CONFIG_DEBUG=n)
# on top of the arm32 defaults, exactly as debian/rules configures it. debug
# adds Xen's developer checks and the messages that say why a hypercall was
# refused (CONFIG_DEBUG, CONFIG_VERBOSE_DEBUG).
set -eu

die() { echo "build-xen: error: $*" >&2; exit 1; }

[ $# = 3 ] || die "usage: build-xen.sh SRC_DIR OUT_DIR release|debug"
src=$1 out=$2 variant=$3
case $variant in
release | debug) ;;
*) die "variant '$variant' is neither release nor debug" ;;
esac
[ -f "$src/xen/Makefile" ] && [ -f "$src/debian/xen-kconfig" ] ||
	die "$src is not an unpacked Debian xen source package (run 'make deps')"
[ -f "$out/.stamp" ] && exit 0

CROSS_COMPILE=${CROSS_COMPILE_XEN:-arm-linux-gnueabihf-}
command -v "${CROSS_COMPILE}gcc" >/dev/null ||
	die "${CROSS_COMPILE}gcc not found (Debian package gcc-arm-linux-gnueabihf: run 'make deps')"
for t in flex bison python3; do
	command -v $t >/dev/null || die "$t not found (run 'make deps')"
done
JOBS=${XEN_JOBS:-2}

version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
# As debian/rules does: the build date is the changelog's, so the same
# source gives the same image, and the banner names the package version.
epoch=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Timestamp)
export SOURCE_DATE_EPOCH=$epoch
export XEN_BUILD_DATE="$(LC_ALL=C date -u -d "@$epoch")"
export XEN_BUILD_TIME="$(LC_ALL=C date -u -d "@$epoch" +%T)"
export DEB_VERSION=$version
export DEB_MAINTAINER="$(sed -n 's/^Maintainer: //p' "$src/debian/control")"
# Xen's build must not fetch anything, nor see the caller's flags.
export WGET=/bin/false GIT=/bin/false
unset CFLAGS CPPFLAGS LDFLAGS O MAKEFLAGS MFLAGS MAKELEVEL

mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d "$out.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

# A private copy of what the hypervisor build reads: it builds in its
# source tree, and the shared source (libfdt is compiled from it) stays
# untouched.
mkdir "$tmp/src"
cp -a "$src/xen" "$src/config" "$src/Config.mk" "$tmp/src/"
cp "$src/debian/xen-kconfig" "$tmp/src/xen/.config"
if [ "$variant" = debug ]; then
	sed -i '/^CONFIG_DEBUG=/d' "$tmp/src/xen/.config"
	printf '%s\n' CONFIG_DEBUG=y CONFIG_VERBOSE_DEBUG=y >>"$tmp/src/xen/.config"
fi

echo "  XEN     $version ($variant) with ${CROSS_COMPILE}gcc: about a minute, once"
cd "$tmp/src"
set -- XEN_TARGET_ARCH=arm32 CROSS_COMPILE="$CROSS_COMPILE" V=1 \
	EXTRA_CFLAGS_XEN_CORE="-ffile-prefix-map=$tmp/src=. -fdebug-prefix-map=$tmp/src=."
if ! { make -C xen olddefconfig "$@" && make -C xen -j"$JOBS" "$@"; } >"$tmp/build.log" 2>&1; then
	tail -n 30 "$tmp/build.log" >&2
	die "the Xen build failed (last lines above)"
fi
for opt in CONFIG_XSM_SILO_DEFAULT=y CONFIG_SBSA_VUART_CONSOLE=y; do
	grep -qx "$opt" xen/.config || die "the configuration lacks $opt (see xen/.config)"
done
if [ "$variant" = debug ]; then want=CONFIG_DEBUG=y; else want='# CONFIG_DEBUG is not set'; fi
grep -qx "$want" xen/.config || die "the configuration lacks '$want'"

cp xen/xen "$tmp/xen"
cp xen/xen-syms "$tmp/xen-syms"
cp xen/.config "$tmp/config"
cd /
rm -rf "$tmp/src"
chmod 755 "$tmp"
echo "$version $variant" >"$tmp/.stamp"
if ! mv -T "$tmp" "$out" 2>/dev/null; then
	# Another build finished the same entry first, or a stale one is there.
	[ -f "$out/.stamp" ] && exit 0
	rm -rf "$out"
	mv -T "$tmp" "$out"
fi
trap - EXIT
size=$(wc -c <"$out/xen")
echo "  XEN     ${out##*/}: $size bytes"
