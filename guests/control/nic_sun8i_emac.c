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
 * taking frames from its backend until then). When the callback keeps a
 * frame (backpressure, nic.h), poll() stops there without giving that
 * descriptor back; the next poll() offers it again.
 * Transmit: transmit() copies the frame into the next free slot, gives the
 * descriptor to the device and writes TX_CTL1's start bit; poll() reclaims
 * completed slots. A full ring drops the frame (counted): the stack above
 * recovers as from loss on the wire.
 * Interrupt: the handler clears INT_STA (the line is level-triggered and
 * must drop before the EOI), notes the work, and wakes the main loop.
 *
 * Power: before the reset, the bus clock gates and resets of the EMAC and
 * of the H3's internal PHY are opened in the CCU and the internal PHY is
 * selected and powered in the system controller's EMAC register, as
 * Linux's dwmac-sun8i does - unless they already are (U-Boot may have done
 * it). Registers are the H3's; other SoCs of the family are left as found.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "devicetree.h"

#include "flotilla.h"
#include "runtime.h"
#include "nic.h"
#include "emac_ring.h"

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

#define RING_RX 64
#define RING_TX 32
#define PAGE    4096u

struct emac {
	struct nic nic;
	volatile uint8_t *regs;
	unsigned phy;
	struct emac_ring rx, tx;
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

void emac_ring_clean(const void *start, size_t len)
{
	dma_clean(start, len);
}

void emac_ring_invalidate(const void *start, size_t len)
{
	dma_invalidate(start, len);
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

static void tx_reclaim(struct emac *e)
{
	size_t len;
	enum emac_tx_result result;
	while ((result = emac_tx_reclaim(&e->tx, &len)) != EMAC_TX_NONE) {
		if (result == EMAC_TX_FAILED) {
			e->nic.counters.tx_errors++;
		} else {
			e->nic.counters.tx_frames++;
			e->nic.counters.tx_bytes += len;
		}
	}
}

static int emac_transmit(struct nic *nic, const uint8_t *frame, size_t len)
{
	struct emac *e = (struct emac *)nic;
	if (len < EMAC_FRAME_MIN || len > EMAC_BUFFER_SIZE - EMAC_FCS_LEN) {
		nic->counters.tx_errors++;
		return -1;
	}
	if (e->tx.used == e->tx.count)
		tx_reclaim(e);
	if (emac_tx_put(&e->tx, frame, len) != 0) {
		nic->counters.tx_dropped++;
		return -1;
	}
	reg_write(e, EMAC_TX_CTL1, TX_CTL1_MD | TX_CTL1_DMA_EN | TX_CTL1_DMA_START);
	return 0;
}

static unsigned emac_poll(struct nic *nic, unsigned budget)
{
	struct emac *e = (struct emac *)nic;
	nic->work = false;
	nic->held = false;
	unsigned delivered = 0, returned = 0;
	const uint8_t *frame;
	size_t len;
	enum emac_rx_result result;
	while (delivered < budget &&
	       (result = emac_rx_peek(&e->rx, &frame, &len)) != EMAC_RX_NONE) {
		if (result == EMAC_RX_ERROR) {
			nic->counters.rx_errors++;
		} else {
			/* Kept: the descriptor stays the CPU's, so the device
			 * fills the rest of the ring and then (QEMU: can_receive
			 * false) leaves frames in its backend's queue. */
			if (nic->receive && !nic->receive(nic->receive_arg, frame, len)) {
				nic->held = true;
				nic->counters.rx_held++;
				break;
			}
			nic->counters.rx_frames++;
			nic->counters.rx_bytes += len;
			delivered++;
		}
		uint32_t restart = emac_rx_restart_address(&e->rx);
		if (restart) {
			/* The ring ran full: point the (stopped) receiver at tail. */
			reg_write(e, EMAC_RX_CTL1, RX_CTL1_MD);
			reg_write(e, EMAC_RX_DESC, restart);
			e->nic.counters.rx_ring_full++;
		}
		emac_rx_release(&e->rx);
		returned++;
	}
	/* Restart a receiver that stopped for want of descriptors. */
	if (returned)
		reg_write(e, EMAC_RX_CTL1, RX_CTL1_MD | RX_CTL1_DMA_EN | RX_CTL1_DMA_START);
	if (delivered == budget)
		nic->work = true; /* more may be waiting: poll again before blocking */
	tx_reclaim(e);
	return delivered;
}

#define INT_ENABLED (INT_RX | INT_TX | INT_RX_BUF_UA | INT_RX_OVERFL)

static void emac_interrupt(unsigned irq, void *arg)
{
	(void)irq;
	struct emac *e = arg;
	/* Write-1-to-clear until nothing enabled is left: the line must be low
	 * at the EOI, also if a cause arrived while the last one was cleared
	 * (were the line taken as edge-triggered, that one would be lost). */
	uint32_t status;
	for (unsigned round = 0; round < 8 && ((status = reg_read(e, EMAC_INT_STA)) & INT_ENABLED);
	     round++) {
		reg_write(e, EMAC_INT_STA, status);
		if (status & INT_RX_OVERFL)
			e->nic.counters.rx_dropped++; /* the controller's FIFO overflowed */
	}
	e->nic.counters.interrupts++;
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
	emac_rx_init(&e->rx);
	emac_tx_init(&e->tx);
	reg_write(e, EMAC_RX_DESC, emac_desc_bus(&e->rx, 0));
	reg_write(e, EMAC_TX_DESC, emac_desc_bus(&e->tx, 0));
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
	reg_write(e, EMAC_INT_EN, INT_ENABLED);
	return 0;
}

/* ------------------------------------------------------------ power */

#define H3_CCU_BUS_GATE0  0x060 /* bit 17: EMAC */
#define H3_CCU_BUS_GATE4  0x070 /* bit 0: EPHY */
#define H3_CCU_BUS_RESET0 0x2c0 /* bit 17: EMAC (1 = running) */
#define H3_CCU_BUS_RESET2 0x2c8 /* bit 2: EPHY */
#define SYSCON_EMAC       0x30
#define EPHY_ADDR_SHIFT   20
#define EPHY_CLK_24MHZ    (1u << 18)
#define EPHY_LED_LOW      (1u << 17)
#define EPHY_SHUTDOWN     (1u << 16)
#define EPHY_SELECT       (1u << 15)
#define SYSCON_RMII       (1u << 13)
#define SYSCON_RGMII      (1u << 2)
#define SYSCON_ETCS_MASK  3u

static volatile uint32_t *node_register(const void *dtb, int node, unsigned offset)
{
	uint64_t base, size;
	if (node < 0 || dt_read_reg(dtb, node, 0, &base, &size) != 0 || offset + 4 > size)
		return NULL;
	return (volatile uint32_t *)(uintptr_t)(base + offset);
}

static int phandle_node(const void *dtb, int node, const char *property)
{
	int len;
	const fdt32_t *cell = fdt_getprop(dtb, node, property, &len);
	return cell && len >= 4 ? fdt_node_offset_by_phandle(dtb, fdt32_to_cpu(*cell)) : -1;
}

/* Set bits in a register unless they are set already; true if it changed. */
static bool set_bits(volatile uint32_t *reg, uint32_t bits)
{
	if (!reg || (*reg & bits) == bits)
		return false;
	*reg |= bits;
	return true;
}

static void emac_power_up(const void *dtb, int node, unsigned phy)
{
	int ccu = fdt_node_offset_by_compatible(dtb, -1, "allwinner,sun8i-h3-ccu");
	if (ccu < 0)
		return;
	int phy_node = phandle_node(dtb, node, "phy-handle");
	int bus = phy_node >= 0 ? fdt_parent_offset(dtb, phy_node) : -1;
	bool internal_phy = bus >= 0 && fdt_node_check_compatible(
					    dtb, bus, "allwinner,sun8i-h3-mdio-internal") == 0;
	bool changed = false;
	changed |= set_bits(node_register(dtb, ccu, H3_CCU_BUS_GATE0), 1u << 17);
	changed |= set_bits(node_register(dtb, ccu, H3_CCU_BUS_RESET0), 1u << 17);
	if (internal_phy) {
		changed |= set_bits(node_register(dtb, ccu, H3_CCU_BUS_GATE4), 1u << 0);
		changed |= set_bits(node_register(dtb, ccu, H3_CCU_BUS_RESET2), 1u << 2);
		volatile uint32_t *syscon =
		    node_register(dtb, phandle_node(dtb, node, "syscon"), SYSCON_EMAC);
		if (syscon) {
			/* MII to the internal PHY at its MDIO address, 24 MHz, powered. */
			uint32_t value = *syscon;
			uint32_t want = (value & ~(EPHY_SHUTDOWN | SYSCON_RMII | SYSCON_RGMII |
						   SYSCON_ETCS_MASK | 0x1fu << EPHY_ADDR_SHIFT)) |
					EPHY_SELECT | EPHY_CLK_24MHZ | phy << EPHY_ADDR_SHIFT;
			if (fdt_getprop(dtb, phy_node, "allwinner,leds-active-low", NULL))
				want |= EPHY_LED_LOW;
			if (want != value) {
				*syscon = want;
				changed = true;
			}
		}
	}
	if (changed)
		printf("control: nic: powered the EMAC%s (clock gates, resets)\n",
		       internal_phy ? " and the internal PHY" : "");
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

_Static_assert(RING_RX *EMAC_SLOT <= PAGE && RING_TX * EMAC_SLOT <= PAGE, "one page per ring");
_Static_assert(RING_TX <= sizeof(((struct emac_ring *)0)->len) / sizeof(uint16_t), "tx ring");

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
	struct emac_ring *rings[2] = {&e->rx, &e->tx};
	for (unsigned i = 0; i < 2; i++) {
		uintptr_t slots_bus, buffers_bus;
		rings[i]->count = i == 0 ? RING_RX : RING_TX;
		rings[i]->slots = dma_alloc_pages(1, &slots_bus);
		rings[i]->buffers =
		    dma_alloc_pages(rings[i]->count * EMAC_BUFFER_SIZE / PAGE, &buffers_bus);
		if (!rings[i]->slots || !rings[i]->buffers) {
			printf("control: nic %s: no memory for DMA rings\n", e->nic.path);
			return NULL;
		}
		rings[i]->slots_bus = (uint32_t)slots_bus;
		rings[i]->buffers_bus = (uint32_t)buffers_bus;
	}
	e->regs = (volatile uint8_t *)(uintptr_t)base;
	emac_power_up(dtb, node, e->phy);
	nic_mac_from_devicetree(&e->nic, dtb, node);
	return &e->nic;
}
