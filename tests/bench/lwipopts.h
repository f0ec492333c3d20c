/*
 * lwipopts.h — lwIP configured to match net/ in the benchmark (bench-net):
 * NO_SYS, IPv4 only, ARP, ICMP, UDP, TCP, DHCP, DNS, IPv4 reassembly (no
 * output fragmentation), the same MSS, window and send buffer, the same pool
 * counts (bench_config.h). Memory is all static (no libc malloc), so the
 * stack's .data+.bss is its peak RAM, as it is for net/.
 */
#ifndef BENCH_LWIPOPTS_H
#define BENCH_LWIPOPTS_H

#include "bench_config.h"

#define NO_SYS                     1
#define LWIP_TIMERS                1
#define SYS_LIGHTWEIGHT_PROT       0
#define LWIP_NETCONN               0
#define LWIP_SOCKET                0
#define LWIP_IPV4                  1
#define LWIP_IPV6                  0
#define LWIP_ARP                   1
#define LWIP_ETHERNET              1
#define LWIP_ICMP                  1
#define LWIP_RAW                   0
#define LWIP_UDP                   1
#define LWIP_TCP                   1
#define LWIP_DHCP                  1
#define LWIP_DNS                   1
#define LWIP_IGMP                  0
#define LWIP_AUTOIP                0
#define LWIP_STATS                 0
#define LWIP_TCP_KEEPALIVE         1
#define LWIP_NETIF_STATUS_CALLBACK 0
#define LWIP_NETIF_LINK_CALLBACK   0
#define LWIP_SINGLE_NETIF          1
#define LWIP_ALTCP                 0

#define MEM_LIBC_MALLOC 0
#define MEMP_MEM_MALLOC 0
#define MEM_ALIGNMENT   4

#define TCP_MSS             BENCH_TCP_MSS
#define TCP_WND             BENCH_TCP_WND
#define TCP_SND_BUF         BENCH_TCP_SND_BUF
#define TCP_SND_QUEUELEN    ((4 * TCP_SND_BUF + TCP_MSS - 1) / TCP_MSS)
#define TCP_QUEUE_OOSEQ     1
#define TCP_OOSEQ_MAX_PBUFS 0
#define LWIP_WND_SCALE      0

#define MEMP_NUM_TCP_PCB        BENCH_TCP_CONNS
#define MEMP_NUM_TCP_PCB_LISTEN BENCH_TCP_LISTENERS
#define MEMP_NUM_UDP_PCB        BENCH_UDP_SOCKETS
#define MEMP_NUM_TCP_SEG        (BENCH_TCP_CONNS * TCP_SND_QUEUELEN)
#define ARP_TABLE_SIZE          BENCH_ARP_ENTRIES
#define ARP_QUEUEING            1
#define MEMP_NUM_ARP_QUEUE      BENCH_ARP_QUEUE
#define IP_REASSEMBLY           1
#define IP_FRAG                 0
#define MEMP_NUM_REASSDATA      BENCH_REASS_SLOTS
#define IP_REASS_MAX_PBUFS      (BENCH_REASS_SLOTS * BENCH_REASS_SIZE / 1460)
#define DNS_TABLE_SIZE          BENCH_DNS_QUERIES

/* Send buffers come from the heap (tcp_write copies), received segments
 * sit in pool pbufs until the application has read them: sized for the
 * same per-connection capacity as net/'s rings. */
#define MEM_SIZE          (BENCH_TCP_CONNS * TCP_SND_BUF + 4096)
#define PBUF_POOL_SIZE    (BENCH_TCP_CONNS * (TCP_WND / TCP_MSS + 1) + 4)
#define PBUF_POOL_BUFSIZE 1536
#define MEMP_NUM_PBUF     16

#define LWIP_CHKSUM_ALGORITHM 3
#define LWIP_RAND()           ((u32_t)rand())

#endif
