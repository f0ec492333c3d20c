#!/bin/sh
# CLI round trip for issue 5: keygen -> sign -> inspect -> verify -> store
# install -> activate -> confirm, and the CLI's refusals (one line on
# stderr, non-zero exit). TAP on stdout.
#
#   test_cli_ota.sh FLOTILLA WORKDIR
set -u
F=$1 W=$2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { # description command...: passes when the command succeeds
	d=$1; shift
	if "$@" >out.txt 2>err.txt; then ok "$d"; else not_ok "$d"; sed 's/^/# /' out.txt err.txt; fi
}
# refuses "description" exit-code "stderr pattern" command...: the command
# must exit with that code and print exactly one line on stderr matching it.
refuses() {
	d=$1 want=$2 pat=$3; shift 3
	"$@" >out.txt 2>err.txt
	got=$?
	lines=$(wc -l <err.txt)
	if [ "$got" = "$want" ] && [ "$lines" = 1 ] && grep -q -- "$pat" err.txt; then
		ok "$d"
	else
		not_ok "$d (exit $got, $lines stderr lines)"
		sed 's/^/# /' err.txt
	fi
}

# --- help
check "flotilla help lists the verbs" sh -c "'$F' help | grep -q keygen && '$F' help | grep -q verify"
refuses "flotilla with no verb is a usage error" 2 "" sh -c "'$F' 2>&1 >/dev/null | head -n 1 >&2; exit 2"
refuses "an unknown verb is one line and exit 2" 2 "unknown verb 'frobnicate'" "$F" frobnicate
for v in keygen sign inspect verify store embed-keys; do
	check "flotilla $v --help" sh -c "'$F' $v --help | grep -q 'usage: flotilla $v'"
done

# --- keys
check "keygen writes NAME.key and NAME.pub" "$F" keygen --out dev
check "the private key is mode 0600" sh -c "[ \"\$(stat -c %a dev.key)\" = 600 ]"
check "the public key is PEM" grep -q "BEGIN PUBLIC KEY" dev.pub
refuses "keygen refuses to overwrite a key" 1 "already exists" "$F" keygen --out dev
refuses "keygen without --out is a usage error" 2 "missing --out" "$F" keygen
"$F" keygen --out other >/dev/null 2>&1
"$F" keygen --out next >/dev/null 2>&1

# --- sign
head -c 300000 /dev/urandom >hello.img
check "sign writes a bundle" "$F" sign --key dev.key --name hello --version 1.2.3 --counter 5 \
	--board orangepi-pc --memory 32 --vcpus 2 --build-time 1700000000 hello.img -o hello-1.2.3.fbl
check "signing is reproducible" sh -c "'$F' sign --key dev.key --name hello --version 1.2.3 --counter 5 \
	--board orangepi-pc --memory 32 --vcpus 2 --build-time 1700000000 hello.img -o again.fbl >/dev/null &&
	cmp -s again.fbl hello-1.2.3.fbl"
refuses "sign without --counter is a usage error" 2 "missing --counter" \
	"$F" sign --key dev.key --name hello --version 1.2.3 --board orangepi-pc hello.img -o x.fbl
refuses "sign refuses a bad version" 2 "bad --version" \
	"$F" sign --key dev.key --name hello --version 1.2 --counter 1 --board orangepi-pc hello.img -o x.fbl
refuses "sign refuses a bad guest name" 2 "bad --name" \
	"$F" sign --key dev.key --name Hello --version 1.2.3 --counter 1 --board orangepi-pc hello.img -o x.fbl
refuses "sign refuses a public key as signing key" 1 "not a private key" \
	"$F" sign --key dev.pub --name hello --version 1.2.3 --counter 1 --board orangepi-pc hello.img -o x.fbl
refuses "sign refuses a missing image" 1 "missing.img" \
	"$F" sign --key dev.key --name hello --version 1.2.3 --counter 1 --board orangepi-pc missing.img -o x.fbl

# --- network interfaces in the manifest
check "sign --nic declares the guest's network interfaces" sh -c "'$F' sign --key dev.key --name www \
	--version 1.0.0 --counter 1 --board orangepi-pc --nic lan --nic mgmt --build-time 1700000000 \
	hello.img -o www.fbl >/dev/null && '$F' inspect www.fbl | grep -q 'nics: *lan,mgmt' &&
	'$F' inspect --json www.fbl | $PY -c 'import json,sys; assert json.load(sys.stdin)[\"nics\"] == [\"lan\", \"mgmt\"]'"
check "a bundle without --nic shows no NICs" sh -c "'$F' inspect hello-1.2.3.fbl | grep -q 'nics: *(none)' &&
	'$F' inspect --json hello-1.2.3.fbl | $PY -c 'import json,sys; assert json.load(sys.stdin)[\"nics\"] == []'"
check "a bundle with NICs verifies" "$F" verify --pub dev.pub --board orangepi-pc www.fbl
refuses "sign refuses the same NIC twice" 2 "bad --nic" \
	"$F" sign --key dev.key --name www --version 1.0.0 --counter 1 --board orangepi-pc --nic lan,lan hello.img -o x.fbl
refuses "sign refuses a bad NIC name" 2 "bad --nic" \
	"$F" sign --key dev.key --name www --version 1.0.0 --counter 1 --board orangepi-pc --nic LAN hello.img -o x.fbl

# --- inspect
check "inspect shows the manifest" sh -c "'$F' inspect hello-1.2.3.fbl >i.txt &&
	grep -q 'guest: *hello' i.txt && grep -q 'version: *1.2.3' i.txt &&
	grep -q 'security counter: *5' i.txt && grep -q 'boards: *orangepi-pc' i.txt &&
	grep -q 'memory: *32 MiB' i.txt && grep -q 'vcpus: *2' i.txt && grep -q '(matches)' i.txt"
"$F" inspect --json hello-1.2.3.fbl >i.json 2>/dev/null
check "inspect --json is JSON with the fields" sh -c "[ \"\$($PY -c \"import json; j=json.load(open('i.json')); \
print(j['name'], j['version'], j['security_counter'], j['boards'][0], j['image_size'], j['image_ok'], j['vcpus'])\")\" \
= 'hello 1.2.3 5 orangepi-pc 300000 True 2' ]"
sha=$(sha256sum hello.img | cut -d' ' -f1)
check "inspect --json carries the image SHA-256" sh -c "[ \"\$($PY -c \"import json; \
print(json.load(open('i.json'))['image_sha256'])\")\" = '$sha' ]"
cp hello-1.2.3.fbl tampered.fbl
printf 'X' | dd of=tampered.fbl bs=1 seek=100000 conv=notrunc 2>/dev/null
refuses "inspect reports an altered image" 1 "MISMATCH" "$F" inspect tampered.fbl
head -c 10 /dev/zero >zero.bin
refuses "inspect refuses a non-bundle" 1 "not a Flotilla bundle" "$F" inspect hello.img
head -c 10 hello-1.2.3.fbl >head10.fbl
refuses "inspect reports a truncated file" 1 "truncated" "$F" inspect head10.fbl

# --- verify
check "verify accepts with the signing key" "$F" verify --pub dev.pub --board orangepi-pc hello-1.2.3.fbl
check "verify accepts during a key rotation" "$F" verify --pub next.pub --pub dev.pub hello-1.2.3.fbl
refuses "verify refuses an unknown key" 1 "does not trust" "$F" verify --pub other.pub hello-1.2.3.fbl
refuses "verify refuses another board" 1 "not built for this board" \
	"$F" verify --pub dev.pub --board cubieboard2 hello-1.2.3.fbl
refuses "verify refuses an altered image" 1 "does not match its signed SHA-256" \
	"$F" verify --pub dev.pub tampered.fbl
# Flip the last manifest byte (the top byte of the build time): still well formed.
$PY -c "import sys; b=bytearray(open(sys.argv[1],'rb').read()); m=int.from_bytes(b[8:12],'little'); \
b[24+m-1]^=1; open(sys.argv[2],'wb').write(b)" hello-1.2.3.fbl badsig.fbl
refuses "verify refuses an altered manifest" 1 "bad signature" "$F" verify --pub dev.pub badsig.fbl
head -c 1000 hello-1.2.3.fbl >short.fbl
refuses "verify refuses a truncated bundle" 1 "truncated" "$F" verify --pub dev.pub short.fbl
refuses "verify without --pub is a usage error" 2 "missing --pub" "$F" verify hello-1.2.3.fbl

# --- store: the device's slot store in a file
"$F" sign --key dev.key --name hello --version 1.3.0 --counter 6 --board orangepi-pc hello.img \
	-o hello-1.3.0.fbl >/dev/null
"$F" sign --key dev.key --name hello --version 1.1.0 --counter 4 --board orangepi-pc hello.img \
	-o hello-1.1.0.fbl >/dev/null
check "store format" "$F" store format --file store.img --size 16 --slot-size 1024
check "store install" "$F" store install --file store.img --pub dev.pub --board orangepi-pc hello-1.2.3.fbl
check "store activate" "$F" store activate --file store.img hello
check "store confirm" "$F" store confirm --file store.img hello
"$F" store list --json --file store.img >l.json 2>/dev/null
check "store list --json shows the confirmed image" sh -c "[ \"\$($PY -c \"import json; g=json.load(open('l.json'))['guests'][0]; \
print(g['name'], g['boot_slot'], g['slots'][0]['state'], g['slots'][0]['version'], g['highest_counter'])\")\" = 'hello A confirmed 1.2.3 5' ]"
check "store check re-hashes the image" "$F" store check --file store.img hello
cp store.img store-before.img
refuses "store refuses a lower security counter" 1 "security counter" \
	"$F" store install --file store.img --pub dev.pub hello-1.1.0.fbl
refuses "store refuses an unknown key" 1 "does not trust" \
	"$F" store install --file store.img --pub other.pub hello-1.3.0.fbl
refuses "store refuses another board" 1 "not built for this board" \
	"$F" store install --file store.img --pub dev.pub --board cubieboard2 hello-1.3.0.fbl
check "refusals leave the store byte-identical" cmp -s store.img store-before.img
check "an update installs beside the confirmed image" \
	"$F" store install --file store.img --pub dev.pub hello-1.3.0.fbl
check "the update goes on trial" "$F" store activate --file store.img hello
check "revert returns to the confirmed image" sh -c "'$F' store revert --file store.img hello >/dev/null &&
	'$F' store list --file store.img | grep -q 'boots slot A'"
refuses "confirm without a trial is refused" 1 "not allowed in the current slot state" \
	"$F" store confirm --file store.img hello
refuses "an unknown guest is refused" 1 "no such guest" "$F" store activate --file store.img nobody
"$F" sign --key dev.key --name big --version 1.0.0 --counter 1 --board orangepi-pc hello.img -o big.fbl >/dev/null
head -c 2000000 /dev/urandom >big.img
"$F" sign --key dev.key --name big --version 1.0.0 --counter 1 --board orangepi-pc big.img -o big.fbl >/dev/null
refuses "store refuses an image larger than a slot" 1 "larger than a slot" \
	"$F" store install --file store.img --pub dev.pub big.fbl
head -c 65536 /dev/zero >empty.img
refuses "store refuses a file that is no store" 1 "no valid slot store" "$F" store list --file empty.img

# --- embed-keys: the table compiled into the control domain
check "embed-keys writes a C table that compiles" sh -c "'$F' embed-keys -o keys.c dev.pub next.pub &&
	grep -q 'ota_trusted_key_count = 2' keys.c && cc -std=c11 -Wall -Werror -I'$SRC/ota' -c keys.c -o keys.o"
check "embed-keys with no key writes an empty table" sh -c "'$F' embed-keys -o none.c &&
	grep -q 'ota_trusted_key_count = 0' none.c && cc -std=c11 -Wall -Werror -I'$SRC/ota' -c none.c -o none.o"
refuses "embed-keys refuses a private key" 1 "not a public key" "$F" embed-keys -o k.c dev.key
check "embed-keys --table operator writes the operator table, not the signing one" sh -c "
	'$F' embed-keys --table operator -o ops.c next.pub && grep -q 'ota_operator_key_count = 1' ops.c &&
	! grep -q ota_trusted_keys ops.c && cc -std=c11 -Wall -Werror -I'$SRC/ota' -c ops.c -o ops.o"
refuses "embed-keys refuses an unknown table" 2 "expected trusted or operator" "$F" embed-keys --table x -o k.c

echo "1..$n"
[ "$failed" -eq 0 ]
