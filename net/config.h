/*
 * config.h — compile-time sizes of the stack. Values come from Kconfig
 * (net/Kconfig → generated/autoconf.h) when the build provides it; the
 * defaults below let host tests and tools build without a configuration.
 * Define NET_NO_AUTOCONF to ignore autoconf.h and pass -DCONFIG_NET_… by hand.
 */
#ifndef NET_CONFIG_H
#define NET_CONFIG_H

#if !defined(NET_NO_AUTOCONF) && defined(__has_include)
#if __has_include(<generated/autoconf.h>)
#include <generated/autoconf.h>
#endif
#endif

/* One domain's build of the stack may hold more connections than the
 * configuration gives every guest: the control domain's (net/net.mk,
 * NET_CONTROL_LIB) serves the device API and probes guests at once. */
#ifdef NET_TCP_CONNS_OVERRIDE
#undef CONFIG_NET_TCP_CONNS
#define CONFIG_NET_TCP_CONNS NET_TCP_CONNS_OVERRIDE
#endif

#ifndef CONFIG_NET_MTU
#define CONFIG_NET_MTU 1500
#endif
#ifndef CONFIG_NET_TCP_CONNS
#define CONFIG_NET_TCP_CONNS 8
#endif
#ifndef CONFIG_NET_TCP_LISTENERS
#define CONFIG_NET_TCP_LISTENERS 2
#endif
#ifndef CONFIG_NET_TCP_BACKLOG
#define CONFIG_NET_TCP_BACKLOG 4
#endif
#ifndef CONFIG_NET_TCP_SND_BUF
#define CONFIG_NET_TCP_SND_BUF 16384
#endif
#ifndef CONFIG_NET_TCP_RCV_BUF
#define CONFIG_NET_TCP_RCV_BUF 16384
#endif
#ifndef CONFIG_NET_TCP_MSS
#define CONFIG_NET_TCP_MSS 1460
#endif
#ifndef CONFIG_NET_TCP_OOO_RANGES
#define CONFIG_NET_TCP_OOO_RANGES 8
#endif
#ifndef CONFIG_NET_TCP_RTO_MIN_MS
#define CONFIG_NET_TCP_RTO_MIN_MS 1000
#endif
#ifndef CONFIG_NET_TCP_RTO_MAX_MS
#define CONFIG_NET_TCP_RTO_MAX_MS 60000
#endif
#ifndef CONFIG_NET_TCP_MAX_RETRIES
#define CONFIG_NET_TCP_MAX_RETRIES 12
#endif
#ifndef CONFIG_NET_TCP_SYN_RETRIES
#define CONFIG_NET_TCP_SYN_RETRIES 6
#endif
#ifndef CONFIG_NET_TCP_DELACK_MS
#define CONFIG_NET_TCP_DELACK_MS 200
#endif
#ifndef CONFIG_NET_TCP_MSL_MS
#define CONFIG_NET_TCP_MSL_MS 30000
#endif
#ifndef CONFIG_NET_TCP_FIN_WAIT2_MS
#define CONFIG_NET_TCP_FIN_WAIT2_MS 60000
#endif
#ifndef CONFIG_NET_TCP_KEEPALIVE_IDLE_S
#define CONFIG_NET_TCP_KEEPALIVE_IDLE_S 7200
#endif
#ifndef CONFIG_NET_TCP_KEEPALIVE_INTERVAL_S
#define CONFIG_NET_TCP_KEEPALIVE_INTERVAL_S 75
#endif
#ifndef CONFIG_NET_TCP_KEEPALIVE_COUNT
#define CONFIG_NET_TCP_KEEPALIVE_COUNT 9
#endif
#ifndef CONFIG_NET_TCP_CHALLENGE_ACKS_PER_S
#define CONFIG_NET_TCP_CHALLENGE_ACKS_PER_S 100
#endif
#ifndef CONFIG_NET_ICMP_ERRORS_PER_S
#define CONFIG_NET_ICMP_ERRORS_PER_S 100
#endif
#ifndef CONFIG_NET_UDP_SOCKETS
#define CONFIG_NET_UDP_SOCKETS 4
#endif
#ifndef CONFIG_NET_ARP_ENTRIES
#define CONFIG_NET_ARP_ENTRIES 8
#endif
#ifndef CONFIG_NET_ARP_QUEUE
#define CONFIG_NET_ARP_QUEUE 4
#endif
#ifndef CONFIG_NET_ARP_TIMEOUT_S
#define CONFIG_NET_ARP_TIMEOUT_S 300
#endif
#ifndef CONFIG_NET_IP_REASS_SLOTS
#define CONFIG_NET_IP_REASS_SLOTS 2
#endif
#ifndef CONFIG_NET_IP_REASS_SIZE
#define CONFIG_NET_IP_REASS_SIZE 8192
#endif
#ifndef CONFIG_NET_IP_REASS_TIMEOUT_S
#define CONFIG_NET_IP_REASS_TIMEOUT_S 15
#endif
#ifndef CONFIG_NET_DHCP_RETRY_MS
#define CONFIG_NET_DHCP_RETRY_MS 4000
#endif
#ifndef CONFIG_NET_DNS_QUERIES
#define CONFIG_NET_DNS_QUERIES 2
#endif
#ifndef CONFIG_NET_DNS_TIMEOUT_MS
#define CONFIG_NET_DNS_TIMEOUT_MS 2000
#endif
#ifndef CONFIG_NET_DNS_RETRIES
#define CONFIG_NET_DNS_RETRIES 3
#endif

#if (CONFIG_NET_TCP_SND_BUF & (CONFIG_NET_TCP_SND_BUF - 1)) ||                                     \
    (CONFIG_NET_TCP_RCV_BUF & (CONFIG_NET_TCP_RCV_BUF - 1))
#error "NET_TCP_SND_BUF and NET_TCP_RCV_BUF must be powers of two"
#endif
#if CONFIG_NET_TCP_MSS > CONFIG_NET_MTU - 40 || CONFIG_NET_TCP_MSS < 536
#error "NET_TCP_MSS must be between 536 and MTU - 40"
#endif
#if CONFIG_NET_IP_REASS_SIZE % 64
#error "NET_IP_REASS_SIZE must be a multiple of 64"
#endif

#define NET_ETH_HLEN  14
#define NET_FRAME_MAX (NET_ETH_HLEN + CONFIG_NET_MTU)

#endif
