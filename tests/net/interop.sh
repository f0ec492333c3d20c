#!/bin/sh
# Interoperability of net/ with Linux, through a TAP device inside a network
# namespace that this script creates (and always deletes):
#
#   [ namespace flnetN:  br0 10.99.0.1/24 ── tap0 ── net_tap (our stack, 10.99.0.2) ]
#
# 1. Linux pings the stack.
# 2. curl fetches a page from its HTTP server.
# 3. curl fetches 16 MiB from it while the frames it sends are lost (2%) and
#    reordered (the stack as a sender against Linux's receiver).
# 4. it downloads 16 MiB from a Linux TCP server under loss 2% + reordering
#    (tc netem; the harness's own impairment when the kernel lacks netem).
# 5. it gets a lease from dnsmasq and 6. resolves a name through it.
#
# Only addresses inside the namespace are used. Prints TAP. Skips (with the
# reason) when not root or when namespaces/TAP are unavailable.
#
#   interop.sh NET_TAP_BINARY WORKDIR [NET_TAP_BUILT_WITH_256KIB_WINDOWS]
set -u
BIN=$1
WORK=$2
BIN_WSCALE=${3:-}
NS=flnet$$
N=0
ok() { N=$((N + 1)); echo "ok $N - $*"; }
notok() { N=$((N + 1)); echo "not ok $N - $*"; }
skip_all() {
	for t in "ping from Linux" "curl fetches a page" "curl fetches 16 MiB sent under loss and reordering" \
		"16 MiB download under loss and reordering" \
		"DHCP lease from dnsmasq" "DNS lookup through dnsmasq"; do
		N=$((N + 1))
		echo "ok $N - $t # SKIP $1"
	done
	exit 0
}

# "needs ...": CI provides it, so under CI=true the summary counts it as failed.
[ "$(id -u)" = 0 ] || skip_all "needs root for ip netns and TAP (CI runs as root)"
command -v ip >/dev/null || skip_all "needs iproute2 (make deps installs it)"
[ -c /dev/net/tun ] || skip_all "needs /dev/net/tun (TAP devices)"
ip netns add "$NS" 2>/dev/null || skip_all "needs network namespaces (ip netns add failed)"

PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	sleep 0.2
	ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT INT TERM
# Background jobs call `ip netns exec` directly so that $! is the process itself.
in_ns() { ip netns exec "$NS" "$@"; }

# Stale outputs would satisfy the readiness checks below: start clean.
rm -rf "$WORK"
mkdir -p "$WORK"
in_ns ip link set lo up
# Each test starts from Linux's defaults, not from what the previous one taught it.
in_ns sh -c 'echo 1 >/proc/sys/net/ipv4/tcp_no_metrics_save' 2>/dev/null
in_ns ip link add br0 type bridge
in_ns ip addr add 10.99.0.1/24 dev br0
in_ns ip link set br0 up
in_ns ip tuntap add dev tap0 mode tap
in_ns ip link set tap0 master br0
in_ns ip link set tap0 up

wait_for() { # file pattern seconds
	i=0
	while [ $i -lt $(($3 * 10)) ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# --- 1, 2: ping and curl against the stack serving HTTP -------------------
ip netns exec "$NS" "$BIN" --tap tap0 --ip 10.99.0.2/24 --timeout 60 serve >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVE=$!
PIDS="$PIDS $SERVE"
wait_for "$WORK/serve.out" serving 10
if in_ns ping -c 3 -i 0.2 -W 2 10.99.0.2 >"$WORK/ping.out" 2>&1; then
	ok "ping from Linux ($(grep -o 'rtt.*' "$WORK/ping.out"))"
else
	notok "ping from Linux (see $WORK/ping.out)"
fi
if in_ns curl -s -m 10 http://10.99.0.2/ >"$WORK/curl.out" 2>&1 && grep -q "Hello from Flotilla net" "$WORK/curl.out"; then
	# A second and third request: connections are reused from the pool.
	in_ns curl -s -m 10 http://10.99.0.2/ http://10.99.0.2/ >>"$WORK/curl.out" 2>&1
	if [ "$(grep -c "Hello from Flotilla net" "$WORK/curl.out")" = 3 ]; then
		ok "curl fetches a page (3 requests)"
	else
		notok "curl: later requests failed (see $WORK/curl.out)"
	fi
else
	notok "curl fetches a page (see $WORK/curl.out, $WORK/serve.err)"
fi
kill "$SERVE" 2>/dev/null
wait "$SERVE" 2>/dev/null

head -c $((16 * 1024 * 1024)) /dev/urandom >"$WORK/blob"

# --- 3: the stack sends 16 MiB under loss and reordering --------------------
ip netns exec "$NS" "$BIN" --tap tap0 --ip 10.99.0.2/24 --timeout 150 --serve-file "$WORK/blob" \
	--impair-tx loss=2,reorder=10,seed=$$ serve >"$WORK/serve2.out" 2>"$WORK/serve2.err" &
SERVE=$!
PIDS="$PIDS $SERVE"
wait_for "$WORK/serve2.out" serving 10
start=$(date +%s)
if in_ns curl -s -m 140 -o "$WORK/sent" http://10.99.0.2/file 2>"$WORK/curl2.err" && cmp -s "$WORK/blob" "$WORK/sent"; then
	ok "curl fetches 16 MiB sent under loss 2% and reordering 10%, byte-identical in $(($(date +%s) - start)) s"
else
	notok "curl fetches 16 MiB sent under loss and reordering (see $WORK/curl2.err, $WORK/serve2.err)"
fi
kill "$SERVE" 2>/dev/null
wait "$SERVE" 2>/dev/null
sed 's/^/# sender counters: /' "$WORK/serve2.err" | tail -n 1

# --- 4: 16 MiB download under loss and reordering -------------------------
cat >"$WORK/server.py" <<'PY'
import socket, sys
data = open(sys.argv[1], "rb").read()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.99.0.1", 9000))
s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
c.sendall(data)
c.shutdown(socket.SHUT_WR)
c.recv(1)
c.close()
PY
IMPAIR=""
if in_ns tc qdisc add dev tap0 root netem delay 2ms 1ms loss 2% reorder 10% 50% 2>"$WORK/tc.err"; then
	HOW="tc netem delay 2ms loss 2% reorder 10%"
else
	# Kernels without sch_netem (this one): the harness impairs the same direction itself.
	IMPAIR="--impair loss=2,reorder=10,seed=$$"
	HOW="harness impairment loss 2% reorder 10% (kernel lacks sch_netem: $(head -c 60 "$WORK/tc.err"))"
fi
ip netns exec "$NS" /usr/bin/python3 "$WORK/server.py" "$WORK/blob" >"$WORK/server.out" 2>&1 &
PIDS="$PIDS $!"
wait_for "$WORK/server.out" listening 10
start=$(date +%s)
DL_BIN=$BIN
if [ -n "$BIN_WSCALE" ]; then
	DL_BIN=$BIN_WSCALE
	HOW="$HOW; 256 KiB window, RFC 7323 scaling"
fi
in_ns "$DL_BIN" --tap tap0 --ip 10.99.0.2/24 --timeout 120 $IMPAIR download 10.99.0.1 9000 "$WORK/got" >"$WORK/download.out" 2>"$WORK/download.err"
rc=$?
end=$(date +%s)
if [ $rc = 0 ] && cmp -s "$WORK/blob" "$WORK/got"; then
	ok "16 MiB download under loss and reordering, byte-identical in $((end - start)) s [$HOW]"
else
	notok "16 MiB download under loss and reordering [$HOW] (rc $rc; $(cat "$WORK/download.out"); see $WORK/download.err)"
fi
in_ns tc qdisc del dev tap0 root 2>/dev/null

# --- 5, 6: DHCP and DNS against dnsmasq -----------------------------------
if ! command -v dnsmasq >/dev/null; then
	N=$((N + 1)); echo "ok $N - DHCP lease from dnsmasq # SKIP needs dnsmasq (make deps installs it)"
	N=$((N + 1)); echo "ok $N - DNS lookup through dnsmasq # SKIP needs dnsmasq (make deps installs it)"
	exit 0
fi
ip netns exec "$NS" dnsmasq --no-daemon --conf-file=/dev/null --interface=br0 --bind-interfaces --except-interface=lo \
	--dhcp-range=10.99.0.50,10.99.0.60,255.255.255.0,2m --dhcp-option=option:router,10.99.0.1 \
	--dhcp-option=option:dns-server,10.99.0.1 --no-resolv --no-hosts \
	--address=/flotilla.test/10.99.0.77 --dhcp-leasefile="$WORK/leases" --pid-file="$WORK/dnsmasq.pid" \
	>"$WORK/dnsmasq.out" 2>&1 &
PIDS="$PIDS $!"
sleep 0.5
in_ns "$BIN" --tap tap0 --dhcp --timeout 30 resolve host.flotilla.test >"$WORK/dhcp.out" 2>"$WORK/dhcp.err"
if grep -q "^bound 10.99.0.[56][0-9]" "$WORK/dhcp.out"; then
	ok "DHCP lease from dnsmasq ($(grep '^bound' "$WORK/dhcp.out"))"
else
	notok "DHCP lease from dnsmasq (see $WORK/dhcp.err, $WORK/dnsmasq.out)"
fi
if grep -q "^resolved host.flotilla.test 10.99.0.77" "$WORK/dhcp.out"; then
	ok "DNS lookup through dnsmasq (server learned from DHCP)"
else
	notok "DNS lookup through dnsmasq ($(cat "$WORK/dhcp.out"))"
fi
