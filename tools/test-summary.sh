#!/bin/sh
# Count the TAP results of every suite: prints the failures, then one line
# "N passed, N failed"; exits non-zero when anything failed.
dir=$1
cat "$dir"/*.tap 2>/dev/null > "$dir/all.txt"
passed=$(grep -c '^ok ' "$dir/all.txt")
failed=$(grep -c '^not ok ' "$dir/all.txt")
if [ "$failed" -gt 0 ]; then
	echo "failures:"
	for f in "$dir"/*.tap; do
		grep '^not ok ' "$f" | sed "s|^|  $(basename "$f" .tap): |"
	done
fi
[ "$passed" -gt 0 ] || [ "$failed" -gt 0 ] || failed=1
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
