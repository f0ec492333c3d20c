#!/bin/sh
# Every C source and header of the project against the root .clang-format:
# one TAP result for the whole tree; the files that differ are listed with
# the command that fixes them.
cd "${1:-.}" || exit 1
n=0 bad=""
for f in $(find Kconfig boards guests hypervisor-cfg net ota tests tools -name '*.[ch]' 2>/dev/null | sort); do
	n=$((n + 1))
	clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad="$bad $f"
done
if [ -z "$bad" ]; then
	echo "ok 1 - all $n C files are clang-formatted"
	exit 0
fi
count=$(echo $bad | wc -w)
echo "not ok 1 - $count of $n C files are not clang-formatted:$bad"
echo "# fix with: clang-format -i$bad"
exit 1
