#!/bin/sh
# Record what an image is built from: the Debian packages (name and exact
# version) of every third-party part, the host tools that made or run it,
# and the project's git revision.
#
#   versions.sh DL_DIR SRC_DIR OUT.txt [OUT.json]
#
# OUT.txt has one "part  package  version" line per part (it also goes onto
# the image's FAT boot partition); OUT.json the same as an object. Files are
# replaced only when their content changes, so an unchanged tree does not
# rebuild the image. XEN_VERSION_STRING in the environment, when set, is the
# Xen line's "package version..." (a Xen built from source says what it is,
# e.g. "src:xen 4.17.7+... (built from source)").
set -eu
deps=$1 src=$2 out=$3 json=${4:-}

deb_version() { # part glob: name and version of a downloaded .deb
	for f in "$deps"/deb/$2; do
		[ -f "$f" ] || { echo "$1 - unknown"; return; }
		echo "$1 $(dpkg-deb -f "$f" Package) $(dpkg-deb -f "$f" Version)"
		return
	done
}
src_version() { # part dir: a source package unpacked under DL_DIR
	if [ -f "$2/debian/changelog" ]; then
		echo "$1 src:$(dpkg-parsechangelog -l "$2/debian/changelog" -S Source) \
$(dpkg-parsechangelog -l "$2/debian/changelog" -S Version)"
	else
		echo "$1 - unknown"
	fi
}
host_version() { # part package: an installed host package
	echo "$1 $2 $(dpkg-query -W -f='${Version}' "$2" 2>/dev/null || echo unknown)"
}
git_revision() {
	# GIT_OPTIONAL_LOCKS=0: concurrent builds never fight over .git/index.
	GIT_OPTIONAL_LOCKS=0 git -C "$src" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown
}

tmp="$out.tmp.$$"
trap 'rm -f "$tmp" "$tmp.json"' EXIT
{
	echo "flotilla flotilla ${FLOTILLA_VERSION:-unknown}+git-$(git_revision)"
	deb_version u-boot 'u-boot-sunxi_*.deb'
	if [ -n "${XEN_VERSION_STRING:-}" ]; then
		echo "xen $XEN_VERSION_STRING"
	else
		deb_version xen 'xen-hypervisor-*.deb'
	fi
	deb_version dtb 'linux-image-*-armmp_*.deb'
	src_version mbedtls "$deps/mbedtls-src"
	src_version libfdt "$deps/xen-src"
	host_version gcc gcc-arm-none-eabi
	host_version binutils binutils-arm-none-eabi
	host_version libc picolibc-arm-none-eabi
	host_version qemu qemu-system-arm
} | awk '{ part = $1; package = $2; $1 = $2 = ""; sub(/^ +/, ""); printf "%-10s %-34s %s\n", part, package, $0 }' > "$tmp"

replace() { # new old
	if cmp -s "$1" "$2"; then rm -f "$1"; else mv -f "$1" "$2"; fi
}
if [ -n "$json" ]; then
	python3 -c '
import json, sys
parts = {}
for line in open(sys.argv[1]):
    part, package, version = line.split(None, 2)
    version = version.strip()
    parts[part] = {"package": package, "version": version}
print(json.dumps(parts, indent=2))' "$tmp" > "$tmp.json"
	replace "$tmp.json" "$json"
fi
replace "$tmp" "$out"
