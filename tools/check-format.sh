#!/bin/sh
# Every C source and header of the project against the root .clang-format.
# Prints one TAP line per file.
cd "${1:-.}" || exit 1
n=0 failed=0
for f in $(find Kconfig boards guests hypervisor-cfg net ota tests tools -name '*.[ch]' 2>/dev/null | sort); do
	n=$((n + 1))
	if clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
		echo "ok $n - $f is clang-formatted"
	else
		failed=$((failed + 1))
		echo "not ok $n - $f is not clang-formatted (run: clang-format -i $f)"
	fi
done
[ "$failed" -eq 0 ]
