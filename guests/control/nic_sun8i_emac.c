/*
 * Driver for the Allwinner H3's EMAC ("allwinner,sun8i-h3-emac"; also H5,
 * A64, A83T): a DesignWare-like MAC with Allwinner's own register layout
 * and chained DMA descriptors, and MDIO for the PHY.
 *
 * Descriptors: four little-endian words {status, control, buffer, next};
 * bit 31 of status says the DMA engine owns it. Both rings are chains
 * whose last `next` points back at the first. Each descriptor sits alone
 * in a 64-byte cache line, so cleaning or invalidating one never touches
 * a neighbour the device is writing (the device does not snoop the CPU's
 * cache). Buffers are 2 KiB, line aligned. All of it comes from
 * dma_alloc_pages(): the control domain is mapped 1:1, so addresses are
 * bus addresses.
 *
 * Receive: every descriptor starts owned by the device. poll() takes
 * completed ones in ring order, hands the frame up, and gives the
 * descriptor back; then it writes RX_CTL1's DMA start bit, which wakes a
 * receiver that stopped for want of descriptors (QEMU's model stops
 * taking frames from its backend until then).
 * Transmit: transmit() copies the frame into the next free slot, gives the
 * descriptor to the device and writes TX_CTL1's start bit; poll() reclaims
 * completed slots. A full ring drops the frame (counted): the stack above
 * recovers as from loss on the wire.
 * Interrupt: the handler clears INT_STA (the line is level-triggered and
 * must drop before the EOI), notes the work, and wakes the main loop.
 *
 * Not done here: clocks, resets and the H3 internal PHY's power (the CCU
 * and the syscon's EMAC register). U-Boot's driver leaves them on after it
 * probed the controller; a board booted otherwise needs them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "devicetree.h"

#include "flotilla.h"
#include "runtime.h"
#include "nic.h"

#define EMAC_BASIC_CTL0 0x00
#define EMAC_BASIC_CTL1 0x04
#define EMAC_INT_STA    0x08
#define EMAC_INT_EN     0x0c
#define EMAC_TX_CTL0    0x10
#define EMAC_TX_CTL1    0x14
#define EMAC_TX_DESC    0x20
#define EMAC_RX_CTL0    0x24
#define EMAC_RX_CTL1    0x28
#define EMAC_RX_DESC    0x34
#define EMAC_RX_FRM_FLT 0x38
#define EMAC_MII_CMD    0x48
#define EMAC_MII_DATA   0x4c
#define EMAC_ADDR_HIGH  0x50
#define EMAC_ADDR_LOW   0x54

#define BASIC_CTL0_FULL_DUPLEX (1u << 0)
#define BASIC_CTL0_SPEED_1000  (0u << 2)
#define BASIC_CTL0_SPEED_10    (2u << 2)
#define BASIC_CTL0_SPEED_100   (3u << 2)
#define BASIC_CTL1_SOFT_RESET  (1u << 0)
#define BASIC_CTL1_BURST_8     (8u << 24)

#define INT_TX        (1u << 0)
#define INT_RX        (1u << 8)
#define INT_RX_BUF_UA (1u << 9)
#define INT_RX_OVERFL (1u << 12)
#define INT_ALL       0x1ffffffu

#define TX_CTL0_ENABLE    (1u << 31)
#define TX_CTL1_MD        (1u << 1) /* store and forward */
#define TX_CTL1_DMA_EN    (1u << 30)
#define TX_CTL1_DMA_START (1u << 31)
#define RX_CTL0_ENABLE    (1u << 31)
#define RX_CTL1_MD        (1u << 1)
#define RX_CTL1_DMA_EN    (1u << 30)
#define RX_CTL1_DMA_START (1u << 31)
#define RX_FRM_FLT_ALL    (1u << 0) /* promiscuous: the switch forwards guests' MACs */

#define MII_BUSY        (1u << 0)
#define MII_WRITE       (1u << 1)
#define MII_REG_SHIFT   4
#define MII_ADDR_SHIFT  12
#define MII_MDC_DIV_128 (3u << 20) /* MDC well under 2.5 MHz from any AHB clock */

#define PHY_BMCR             0
#define PHY_BMSR             1
#define PHY_ADVERTISE        4
#define PHY_LPA              5
#define BMCR_AUTONEG         (1u << 12)
#define BMCR_RESTART_AN      (1u << 9)
#define BMCR_SPEED100        (1u << 13)
#define BMCR_FULL_DUPLEX     (1u << 8)
#define BMSR_LINK_UP         (1u << 2)
#define ADVERTISE_ALL_10_100 0x01e1u /* 100FD 100HD 10FD 10HD, IEEE 802.3 */
#define LPA_100FULL          (1u << 8)
#define LPA_100HALF          (1u << 7)
#define LPA_10FULL           (1u << 6)

#define DESC_OWN         (1u << 31)
#define RX_STATUS_ERROR  ((1u << 15) | (1u << 14)) /* error summary, descriptor error */
#define RX_STATUS_FIRST  (1u << 9)
#define RX_STATUS_LAST   (1u << 8)
#define RX_STATUS_LEN(s) (((s) >> 16) & 0x3fffu)
#define TX_STATUS_ERROR  (1u << 16 | 1u << 14) /* error summary, length error */
#define TX_CTL_INT       (1u << 31)
#define TX_CTL_LAST      (1u << 30)
#define TX_CTL_FIRST     (1u << 29)
#define DESC_SIZE_MASK   0x7ffu

#define RING_RX     32
#define RING_TX     32
#define BUFFER_SIZE 2048u /* > 1518 + FCS; the size field holds 11 bits */
#define FCS_LEN     4u
#define SLOT        64u /* one descriptor per cache line */
#define PAGE        4096u

struct emac_desc {
	volatile uint32_t status;
	volatile uint32_t control;
	volatile uint32_t buffer;
	volatile uint32_t next;
};

struct emac {
	struct nic nic;
	volatile uint8_t *regs;
	unsigned phy;
	uint8_t *rx_slots, *tx_slots;     /* descriptors, SLOT bytes apart */
	uint8_t *rx_buffers, *tx_buffers; /* BUFFER_SIZE apart */
	unsigned rx_next;                 /* next descriptor to look at */
	unsigned tx_head, tx_tail, tx_used;
	uint16_t tx_len[RING_TX];
	bool link_configured;
};

static struct emac emac_instance;

static inline uint32_t reg_read(struct emac *e, unsigned offset)
{
	return *(volatile uint32_t *)(e->regs + offset);
}

static inline void reg_write(struct emac *e, unsigned offset, uint32_t value)
{
	__asm__ volatile("dsb" ::: "memory"); /* descriptors and buffers first */
	*(volatile uint32_t *)(e->regs + offset) = value;
}

static inline struct emac_desc *rx_desc(struct emac *e, unsigned i)
{
	return (struct emac_desc *)(e->rx_slots + i * SLOT);
}

static inline struct emac_desc *tx_desc(struct emac *e, unsigned i)
{
	return (struct emac_desc *)(e->tx_slots + i * SLOT);
}

static inline uint32_t bus(const void *p)
{
	return (uint32_t)(uintptr_t)p; /* 1:1: see dma.c */
}

/* ------------------------------------------------------------ MDIO */

static bool mdio_wait(struct emac *e)
{
	uint64_t deadline = flotilla_clock_monotonic() + 10000000u; /* 10 ms */
	while (reg_read(e, EMAC_MII_CMD) & MII_BUSY)
		if (flotilla_clock_monotonic() > deadline)
			return false;
	return true;
}

static int mdio_read(struct emac *e, unsigned reg)
{
	if (!mdio_wait(e))
		return -1;
	reg_write(e, EMAC_MII_CMD,
		  MII_MDC_DIV_128 | e->phy << MII_ADDR_SHIFT | reg << MII_REG_SHIFT | MII_BUSY);
	if (!mdio_wait(e))
		return -1;
	return (int)(reg_read(e, EMAC_MII_DATA) & 0xffff);
}

static int mdio_write(struct emac *e, unsigned reg, uint16_t value)
{
	if (!mdio_wait(e))
		return -1;
	reg_write(e, EMAC_MII_DATA, value);
	reg_write(e, EMAC_MII_CMD,
		  MII_MDC_DIV_128 | e->phy << MII_ADDR_SHIFT | reg << MII_REG_SHIFT | MII_WRITE |
		      MII_BUSY);
	return mdio_wait(e) ? 0 : -1;
}

static bool emac_link(struct nic *nic, unsigned *mbps, bool *full_duplex)
{
	struct emac *e = (struct emac *)nic;
	/* BMSR's link bit latches low: the second read is the state now. */
	mdio_read(e, PHY_BMSR);
	int bmsr = mdio_read(e, PHY_BMSR);
	if (bmsr < 0 || !(bmsr & BMSR_LINK_UP)) {
		e->link_configured = false;
		return false;
	}
	int bmcr = mdio_read(e, PHY_BMCR);
	unsigned speed = 10;
	bool full = false;
	if (bmcr >= 0 && (bmcr & BMCR_AUTONEG)) {
		int adv = mdio_read(e, PHY_ADVERTISE), lpa = mdio_read(e, PHY_LPA);
		unsigned common = (unsigned)(adv < 0 ? 0 : adv) & (unsigned)(lpa < 0 ? 0 : lpa);
		if (common & LPA_100FULL)
			speed = 100, full = true;
		else if (common & LPA_100HALF)
			speed = 100;
		else if (common & LPA_10FULL)
			full = true;
	} else if (bmcr >= 0) {
		speed = (bmcr & BMCR_SPEED100) ? 100 : 10;
		full = (bmcr & BMCR_FULL_DUPLEX) != 0;
	}
	if (!e->link_configured) {
		/* The MAC must agree with what the PHY negotiated. */
		reg_write(e, EMAC_BASIC_CTL0,
			  (speed == 100 ? BASIC_CTL0_SPEED_100 : BASIC_CTL0_SPEED_10) |
			      (full ? BASIC_CTL0_FULL_DUPLEX : 0));
		e->link_configured = true;
	}
	if (mbps)
		*mbps = speed;
	if (full_duplex)
		*full_duplex = full;
	return true;
}

/* ------------------------------------------------------------ rings */

static void rx_give(struct emac *e, unsigned i)
{
	struct emac_desc *d = rx_desc(e, i);
	uint8_t *buffer = e->rx_buffers + i * BUFFER_SIZE;
	/* Drop any line of the buffer the CPU may hold before the device writes. */
	dma_invalidate(buffer, BUFFER_SIZE);
	d->control = BUFFER_SIZE - 1; /* interrupt on completion (bit 31 clear) */
	d->buffer = bus(buffer);
	d->next = bus(rx_desc(e, (i + 1) % RING_RX));
	__asm__ volatile("dmb" ::: "memory");
	d->status = DESC_OWN;
	dma_clean(d, sizeof(*d));
}

static void rings_init(struct emac *e)
{
	for (unsigned i = 0; i < RING_RX; i++)
		rx_give(e, i);
	for (unsigned i = 0; i < RING_TX; i++) {
		struct emac_desc *d = tx_desc(e, i);
		d->status = 0;
		d->control = 0;
		d->buffer = bus(e->tx_buffers + i * BUFFER_SIZE);
		d->next = bus(tx_desc(e, (i + 1) % RING_TX));
		dma_clean(d, sizeof(*d));
	}
	e->rx_next = 0;
	e->tx_head = e->tx_tail = e->tx_used = 0;
}

static void tx_reclaim(struct emac *e)
{
	while (e->tx_used) {
		struct emac_desc *d = tx_desc(e, e->tx_tail);
		dma_invalidate(d, sizeof(*d));
		uint32_t status = d->status;
		if (status & DESC_OWN)
			break;
		if (status & TX_STATUS_ERROR) {
			e->nic.counters.tx_errors++;
		} else {
			e->nic.counters.tx_frames++;
			e->nic.counters.tx_bytes += e->tx_len[e->tx_tail];
		}
		e->tx_tail = (e->tx_tail + 1) % RING_TX;
		e->tx_used--;
	}
}

static int emac_transmit(struct nic *nic, const uint8_t *frame, size_t len)
{
	struct emac *e = (struct emac *)nic;
	if (len > BUFFER_SIZE - FCS_LEN || len < 14) {
		nic->counters.tx_errors++;
		return -1;
	}
	if (e->tx_used == RING_TX)
		tx_reclaim(e);
	if (e->tx_used == RING_TX) {
		nic->counters.tx_dropped++;
		return -1;
	}
	unsigned i = e->tx_head;
	struct emac_desc *d = tx_desc(e, i);
	uint8_t *buffer = e->tx_buffers + i * BUFFER_SIZE;
	memcpy(buffer, frame, len);
	dma_clean(buffer, len);
	e->tx_len[i] = (uint16_t)len;
	d->control = TX_CTL_INT | TX_CTL_FIRST | TX_CTL_LAST | (uint32_t)len;
	__asm__ volatile("dmb" ::: "memory");
	d->status = DESC_OWN;
	dma_clean(d, sizeof(*d));
	e->tx_head = (i + 1) % RING_TX;
	e->tx_used++;
	reg_write(e, EMAC_TX_CTL1, TX_CTL1_MD | TX_CTL1_DMA_EN | TX_CTL1_DMA_START);
	return 0;
}

static unsigned emac_poll(struct nic *nic, unsigned budget)
{
	struct emac *e = (struct emac *)nic;
	nic->work = false;
	unsigned delivered = 0, returned = 0;
	while (delivered < budget) {
		unsigned i = e->rx_next;
		struct emac_desc *d = rx_desc(e, i);
		dma_invalidate(d, sizeof(*d));
		uint32_t status = d->status;
		if (status & DESC_OWN)
			break;
		uint32_t len = RX_STATUS_LEN(status);
		bool whole = (status & (RX_STATUS_FIRST | RX_STATUS_LAST)) ==
			     (RX_STATUS_FIRST | RX_STATUS_LAST);
		if (!whole || (status & RX_STATUS_ERROR) || len <= FCS_LEN + 14 ||
		    len > BUFFER_SIZE) {
			/* A frame spread over descriptors cannot happen with 2 KiB
			 * buffers; treat it, like a flagged one, as an error. */
			nic->counters.rx_errors++;
		} else {
			const uint8_t *buffer = e->rx_buffers + i * BUFFER_SIZE;
			dma_invalidate(buffer, len);
			len -= FCS_LEN; /* the length counts the FCS (and short-frame padding) */
			nic->counters.rx_frames++;
			nic->counters.rx_bytes += len;
			delivered++;
			if (nic->receive)
				nic->receive(nic->receive_arg, buffer, len);
		}
		rx_give(e, i);
		returned++;
		e->rx_next = (i + 1) % RING_RX;
	}
	if (returned)
		reg_write(e, EMAC_RX_CTL1, RX_CTL1_MD | RX_CTL1_DMA_EN | RX_CTL1_DMA_START);
	if (delivered == budget)
		nic->work = true; /* more may be waiting: poll again before blocking */
	tx_reclaim(e);
	return delivered;
}

static void emac_interrupt(unsigned irq, void *arg)
{
	(void)irq;
	struct emac *e = arg;
	uint32_t status = reg_read(e, EMAC_INT_STA);
	reg_write(e, EMAC_INT_STA, status); /* write-1-to-clear: the line drops */
	e->nic.counters.interrupts++;
	if (status & (INT_RX_BUF_UA | INT_RX_OVERFL))
		e->nic.counters.rx_dropped++; /* the ring was full: frames waited or were lost */
	e->nic.work = true;
	events_wake_application();
}

static int emac_start(struct nic *nic)
{
	struct emac *e = (struct emac *)nic;
	reg_write(e, EMAC_BASIC_CTL1, BASIC_CTL1_SOFT_RESET);
	uint64_t deadline = flotilla_clock_monotonic() + 100000000u; /* 100 ms */
	while (reg_read(e, EMAC_BASIC_CTL1) & BASIC_CTL1_SOFT_RESET) {
		if (flotilla_clock_monotonic() > deadline) {
			printf("control: nic %s: reset does not complete (clocks off?)\n",
			       nic->path);
			return -1;
		}
	}
	reg_write(e, EMAC_BASIC_CTL1, BASIC_CTL1_BURST_8);
	reg_write(e, EMAC_INT_EN, 0);
	reg_write(e, EMAC_INT_STA, INT_ALL);

	/* The PHY: advertise 10/100, (re)start auto-negotiation. */
	if (mdio_write(e, PHY_ADVERTISE, ADVERTISE_ALL_10_100) != 0 ||
	    mdio_write(e, PHY_BMCR, BMCR_AUTONEG | BMCR_RESTART_AN) != 0)
		printf("control: nic %s: PHY %u does not answer on MDIO\n", nic->path, e->phy);

	reg_write(e, EMAC_ADDR_HIGH, (uint32_t)nic->mac[4] | (uint32_t)nic->mac[5] << 8);
	reg_write(e, EMAC_ADDR_LOW,
		  (uint32_t)nic->mac[0] | (uint32_t)nic->mac[1] << 8 | (uint32_t)nic->mac[2] << 16 |
		      (uint32_t)nic->mac[3] << 24);
	rings_init(e);
	reg_write(e, EMAC_RX_DESC, bus(rx_desc(e, 0)));
	reg_write(e, EMAC_TX_DESC, bus(tx_desc(e, 0)));
	reg_write(e, EMAC_RX_FRM_FLT, RX_FRM_FLT_ALL);
	reg_write(e, EMAC_BASIC_CTL0, BASIC_CTL0_SPEED_100 | BASIC_CTL0_FULL_DUPLEX);
	reg_write(e, EMAC_TX_CTL0, TX_CTL0_ENABLE);
	reg_write(e, EMAC_TX_CTL1, TX_CTL1_MD | TX_CTL1_DMA_EN);
	reg_write(e, EMAC_RX_CTL0, RX_CTL0_ENABLE);
	reg_write(e, EMAC_RX_CTL1, RX_CTL1_MD | RX_CTL1_DMA_EN | RX_CTL1_DMA_START);

	if (irq_register(nic->irq, emac_interrupt, e) != 0) {
		printf("control: nic %s: cannot enable interrupt %u\n", nic->path, nic->irq);
		return -1;
	}
	reg_write(e, EMAC_INT_EN, INT_RX | INT_TX | INT_RX_BUF_UA | INT_RX_OVERFL);
	return 0;
}

static const struct nic_ops emac_ops = {
    .start = emac_start,
    .transmit = emac_transmit,
    .poll = emac_poll,
    .link = emac_link,
};

/* The PHY's MDIO address: phy-handle's reg, else 1 (the H3's internal PHY). */
static unsigned phy_address(const void *dtb, int node)
{
	int len;
	const fdt32_t *handle = fdt_getprop(dtb, node, "phy-handle", &len);
	if (handle && len == 4) {
		int phy = fdt_node_offset_by_phandle(dtb, fdt32_to_cpu(*handle));
		const fdt32_t *reg = phy >= 0 ? fdt_getprop(dtb, phy, "reg", &len) : NULL;
		if (reg && len >= 4)
			return fdt32_to_cpu(*reg) & 0x1f;
	}
	return 1;
}

struct nic *nic_sun8i_emac_probe(const void *dtb, int node)
{
	struct emac *e = &emac_instance;
	if (e->regs) /* one instance: the H3 has one EMAC */
		return NULL;
	uint64_t base, size;
	int irq = irq_from_devicetree(dtb, node, 0);
	if (dt_read_reg(dtb, node, 0, &base, &size) != 0 || irq < 32) {
		printf("control: nic: sun8i-emac node without reg or SPI interrupt\n");
		return NULL;
	}
	memset(e, 0, sizeof(*e));
	e->nic.ops = &emac_ops;
	e->nic.name = "sun8i-emac";
	e->nic.irq = (unsigned)irq;
	if (fdt_get_path(dtb, node, e->nic.path, sizeof(e->nic.path)) != 0)
		strcpy(e->nic.path, "ethernet");
	e->phy = phy_address(dtb, node);

	/* Rings: one page of descriptors each; 2 KiB buffers, two per page. */
	uintptr_t unused;
	e->rx_slots = dma_alloc_pages(1, &unused);
	e->tx_slots = dma_alloc_pages(1, &unused);
	e->rx_buffers = dma_alloc_pages(RING_RX * BUFFER_SIZE / PAGE, &unused);
	e->tx_buffers = dma_alloc_pages(RING_TX * BUFFER_SIZE / PAGE, &unused);
	if (!e->rx_slots || !e->tx_slots || !e->rx_buffers || !e->tx_buffers) {
		printf("control: nic %s: no memory for DMA rings\n", e->nic.path);
		return NULL;
	}
	e->regs = (volatile uint8_t *)(uintptr_t)base;
	nic_mac_from_devicetree(&e->nic, dtb, node);
	return &e->nic;
}
