/*
 * mmc.c: the Allwinner SD/MMC host (A20/H3 class) and one SD card, polled.
 *
 * Why the internal DMA engine rather than FIFO PIO: a PIO block costs 128
 * register accesses, each a trip through the emulator (QEMU) or the AHB bus
 * (hardware); a DMA transfer costs a handful of register writes for up to
 * MMC_CHUNK_BLOCKS blocks. The price is cache maintenance, since our RAM is
 * mapped Normal cacheable and the engine reads and writes memory behind the
 * CPU's caches: buffers are cleaned before the engine reads them and
 * invalidated after it wrote them, and buffers that do not start and end on
 * a cache line go through a line-aligned bounce buffer so that invalidating
 * never throws away a neighbour's data.
 *
 * Register layout and command bits follow Allwinner's H3/A20 manuals (the
 * same block Linux's sunxi-mmc and U-Boot's sunxi_mmc drive); the command
 * sequence is the SD Physical Layer Simplified Specification's.
 */
#include "mmc.h"

#include <stddef.h>
#include <string.h>

#include "devicetree.h"
#include "flotilla.h"

/* Registers */
#define REG_GCTL  0x00 /* global control */
#define REG_CKCR  0x04 /* clock control */
#define REG_TMOR  0x08 /* timeouts */
#define REG_BWDR  0x0c /* bus width */
#define REG_BKSR  0x10 /* block size */
#define REG_BYCR  0x14 /* byte count */
#define REG_CMDR  0x18 /* command */
#define REG_CAGR  0x1c /* command argument */
#define REG_RESP0 0x20 /* response, 4 words (RESP3 = bits 127:96 of a long one) */
#define REG_IMKR  0x30 /* interrupt mask */
#define REG_RISR  0x38 /* raw interrupt status, write 1 to clear */
#define REG_STAR  0x3c /* status */
#define REG_FWLR  0x40 /* FIFO water levels */
#define REG_DMAC  0x80 /* internal DMA controller */
#define REG_DLBA  0x84 /* descriptor list base */
#define REG_IDST  0x88 /* IDMAC status, write 1 to clear */
#define REG_IDIE  0x8c /* IDMAC interrupt enable */

#define GCTL_SOFT_RESET    (1u << 0)
#define GCTL_FIFO_RESET    (1u << 1)
#define GCTL_DMA_RESET     (1u << 2)
#define GCTL_INT_ENABLE    (1u << 4)
#define GCTL_DMA_ENABLE    (1u << 5)
#define GCTL_ACCESS_BY_AHB (1u << 31) /* FIFO by CPU (PIO); clear: by the IDMAC */
#define GCTL_RESETS        (GCTL_SOFT_RESET | GCTL_FIFO_RESET | GCTL_DMA_RESET)

#define CKCR_CARD_CLOCK_ON (1u << 16)
#define CKCR_DIVIDER_MASK  0xffu

#define CMDR_RESPONSE      (1u << 6)
#define CMDR_LONG          (1u << 7)
#define CMDR_CHECK_CRC     (1u << 8)
#define CMDR_DATA          (1u << 9)
#define CMDR_WRITE         (1u << 10)
#define CMDR_AUTO_STOP     (1u << 12)
#define CMDR_WAIT_PREVIOUS (1u << 13)
#define CMDR_INIT_SEQUENCE (1u << 15) /* 80 clocks before the command (CMD0) */
#define CMDR_CLOCK_ONLY    (1u << 21) /* update the card clock, send nothing */
#define CMDR_START         (1u << 31)

#define RISR_RESPONSE_ERROR   (1u << 1)
#define RISR_COMMAND_DONE     (1u << 2)
#define RISR_DATA_DONE        (1u << 3)
#define RISR_RESPONSE_CRC     (1u << 6)
#define RISR_DATA_CRC         (1u << 7)
#define RISR_RESPONSE_TIMEOUT (1u << 8)
#define RISR_DATA_TIMEOUT     (1u << 9)
#define RISR_FIFO_ERROR       (1u << 11)
#define RISR_HARDWARE_LOCKED  (1u << 12)
#define RISR_START_BIT        (1u << 13)
#define RISR_AUTO_STOP_DONE   (1u << 14)
#define RISR_END_BIT          (1u << 15)
#define RISR_COMMAND_ERRORS   (RISR_RESPONSE_ERROR | RISR_RESPONSE_CRC | RISR_RESPONSE_TIMEOUT)
#define RISR_DATA_ERRORS                                                                           \
	(RISR_DATA_CRC | RISR_DATA_TIMEOUT | RISR_FIFO_ERROR | RISR_HARDWARE_LOCKED |              \
	 RISR_START_BIT | RISR_END_BIT)

#define STAR_CARD_BUSY (1u << 9)

#define DMAC_SOFT_RESET  (1u << 0)
#define DMAC_FIXED_BURST (1u << 1)
#define DMAC_ENABLE      (1u << 7)

/* IDMAC descriptor: four words, chained. */
struct mmc_descriptor {
	uint32_t status;
	uint32_t size;
	uint32_t address;
	uint32_t next;
};
#define DESC_NO_INTERRUPT (1u << 1)
#define DESC_LAST         (1u << 2)
#define DESC_FIRST        (1u << 3)
#define DESC_CHAINED      (1u << 4)
#define DESC_ERROR        (1u << 30)
#define DESC_OWNED_BY_DMA (1u << 31)

/* 8 KiB per descriptor is within every variant's limit (the A10's is 13 bits). */
#define DESC_MAX_BYTES   8192u
#define MMC_CHUNK_BLOCKS 128u /* 64 KiB per command */
#define DESC_COUNT       (MMC_CHUNK_BLOCKS * MMC_BLOCK_SIZE / DESC_MAX_BYTES)

/* Card commands */
#define CMD_GO_IDLE        0
#define CMD_ALL_SEND_CID   2
#define CMD_SEND_RCA       3
#define CMD_SELECT         7
#define CMD_SEND_IF_COND   8
#define CMD_SEND_CSD       9
#define CMD_STOP           12
#define CMD_SEND_STATUS    13
#define CMD_SET_BLOCKLEN   16
#define CMD_READ_SINGLE    17
#define CMD_READ_MULTIPLE  18
#define CMD_WRITE_SINGLE   24
#define CMD_WRITE_MULTIPLE 25
#define CMD_APP            55
#define ACMD_SET_BUS_WIDTH 6
#define ACMD_SEND_OP_COND  41

/* Response kinds, as command-register bits. */
#define RESP_NONE      0u
#define RESP_R1        (CMDR_RESPONSE | CMDR_CHECK_CRC)
#define RESP_R1B       (RESP_R1 | (1u << 30)) /* bit 30 is ours only: wait while busy */
#define RESP_R2        (CMDR_RESPONSE | CMDR_LONG | CMDR_CHECK_CRC)
#define RESP_R3        CMDR_RESPONSE /* OCR: no CRC */
#define FLAG_WAIT_BUSY (1u << 30)

#define OCR_BUSY_DONE     (1u << 31)
#define OCR_HIGH_CAPACITY (1u << 30)
#define OCR_VOLTAGES      0x00ff8000u /* 2.7-3.6 V */

/* R1 card status */
#define R1_ERRORS         0xfdf98000u /* out of range, address, block length, ECC, CC, ... */
#define R1_READY_FOR_DATA (1u << 8)
#define R1_STATE(r1)      (((r1) >> 9) & 0xfu)
#define R1_STATE_TRANSFER 4u

/* Deadlines (ns). Generous against a loaded emulator; tight enough that a
 * dead card is reported within seconds. */
#define MS                     1000000ull
#define TIMEOUT_RESET          (100 * MS)
#define TIMEOUT_COMMAND        (500 * MS)
#define TIMEOUT_POWER_UP       (1000 * MS) /* ACMD41: the spec's 1 s */
#define TIMEOUT_DATA_BASE      (1000 * MS)
#define TIMEOUT_DATA_PER_BLOCK (10 * MS)
#define TIMEOUT_BUSY           (2500 * MS) /* programming: spec max 250-500 ms; margin */
#define TRANSFER_ATTEMPTS      3

/* Clocks */
#define CLOCK_IDENTIFY_HZ    400000u
#define CLOCK_DATA_HZ        25000000u /* default speed: what every card runs */
#define CLOCK_UNKNOWN_MOD_HZ 52000000u

static struct mmc_descriptor mmc_descriptors[DESC_COUNT] __attribute__((aligned(64)));
static uint8_t mmc_bounce[MMC_CHUNK_BLOCKS * MMC_BLOCK_SIZE] __attribute__((aligned(64)));

static inline uint32_t reg_read(const struct mmc_card *card, uint32_t offset)
{
	return *(volatile uint32_t *)(card->base + offset);
}

static inline void reg_write(const struct mmc_card *card, uint32_t offset, uint32_t value)
{
	*(volatile uint32_t *)(card->base + offset) = value;
}

static inline void barrier(void)
{
	__asm__ volatile("dsb" ::: "memory");
}

static uint64_t now(void)
{
	return flotilla_clock_monotonic();
}

/* ---------------------------------------------------------------- caches */

static uint32_t dcache_line(void)
{
	uint32_t ctr;
	__asm__ volatile("mrc p15, 0, %0, c0, c0, 1" : "=r"(ctr)); /* CTR */
	return 4u << ((ctr >> 16) & 0xf);
}

/* Write dirty lines back so the engine reads what the CPU wrote. */
static void dcache_clean(const void *start, size_t size)
{
	uint32_t line = dcache_line();
	for (uintptr_t p = (uintptr_t)start & ~(uintptr_t)(line - 1); p < (uintptr_t)start + size;
	     p += line)
		__asm__ volatile("mcr p15, 0, %0, c7, c10, 1" ::"r"(p)); /* DCCMVAC */
	barrier();
}

/* Before the engine writes a buffer: no dirty line may be evicted on top of
 * its data later. After: drop stale lines (speculative fills during the
 * transfer) so the CPU reads what the engine wrote. The buffer is always
 * line-aligned here (see the bounce buffer). */
static void dcache_clean_invalidate(const void *start, size_t size)
{
	uint32_t line = dcache_line();
	for (uintptr_t p = (uintptr_t)start; p < (uintptr_t)start + size; p += line)
		__asm__ volatile("mcr p15, 0, %0, c7, c14, 1" ::"r"(p)); /* DCCIMVAC */
	barrier();
}

static void dcache_invalidate(const void *start, size_t size)
{
	uint32_t line = dcache_line();
	for (uintptr_t p = (uintptr_t)start; p < (uintptr_t)start + size; p += line)
		__asm__ volatile("mcr p15, 0, %0, c7, c6, 1" ::"r"(p)); /* DCIMVAC */
	barrier();
}

/* ---------------------------------------------------------------- controller */

const char *mmc_strerror(int status)
{
	switch (status) {
	case MMC_OK: return "ok";
	case MMC_E_NO_CONTROLLER: return "no enabled SD/MMC controller in the device tree";
	case MMC_E_RESET: return "the SD/MMC controller did not come out of reset";
	case MMC_E_CLOCK: return "the SD/MMC controller did not take the clock change";
	case MMC_E_NO_CARD: return "no SD card answers (none inserted?)";
	case MMC_E_CMD_TIMEOUT: return "the card did not answer a command in time";
	case MMC_E_CMD_ERROR: return "command response error (CRC or bad response)";
	case MMC_E_DATA_TIMEOUT: return "a data transfer did not finish in time";
	case MMC_E_DATA_ERROR: return "data transfer error (CRC, FIFO or bit error)";
	case MMC_E_CARD_STATUS: return "the card reported an error in its status";
	case MMC_E_BUSY_TIMEOUT: return "the card stayed busy programming for too long";
	case MMC_E_UNSUPPORTED: return "the card is not supported (voltage or CSD version)";
	case MMC_E_RANGE: return "blocks past the end of the device";
	default: return "unknown MMC error";
	}
}

/* Reset the FIFO and DMA logic (after an error) and wait for the bits to clear. */
static int reset_controller(struct mmc_card *card, uint32_t bits)
{
	reg_write(card, REG_GCTL, reg_read(card, REG_GCTL) | bits);
	uint64_t deadline = now() + TIMEOUT_RESET;
	while (reg_read(card, REG_GCTL) & bits)
		if (now() > deadline)
			return MMC_E_RESET;
	return MMC_OK;
}

/* Input clock of the controller: SDMMCn_CLK in the clock unit, as U-Boot
 * left it (source OSC24M or PLL_PERIPH0, pre-divider 2^N, divider M+1). */
static uint32_t module_clock_hz(const void *dtb, uintptr_t mmc_base)
{
	static const char *const ccus[] = {"allwinner,sun8i-h3-ccu", "allwinner,sun7i-a20-ccu"};
	for (size_t i = 0; i < sizeof(ccus) / sizeof(ccus[0]); i++) {
		int node = fdt_node_offset_by_compatible(dtb, -1, ccus[i]);
		uint64_t base, size;
		if (node < 0 || dt_read_reg(dtb, node, 0, &base, &size) != 0 || size < 0x100)
			continue;
		uint32_t index = (uint32_t)((mmc_base - 0x01c0f000u) / 0x1000u);
		if (index > 2)
			break;
		uint32_t clk = *(volatile uint32_t *)(uintptr_t)(base + 0x88 + 4 * index);
		if (!(clk & (1u << 31)))
			break;
		uint32_t pll = *(volatile uint32_t *)(uintptr_t)(base + 0x28);
		uint32_t periph0 =
		    24000000u * (((pll >> 8) & 0x1f) + 1) * (((pll >> 4) & 3) + 1) / 2;
		uint32_t source = ((clk >> 24) & 3) == 0 ? 24000000u : periph0;
		uint32_t rate = source / (1u << ((clk >> 16) & 3)) / ((clk & 0xf) + 1);
		return rate ? rate : CLOCK_UNKNOWN_MOD_HZ;
	}
	/* Unknown: assume the fastest rate U-Boot uses, so our dividers err slow. */
	return CLOCK_UNKNOWN_MOD_HZ;
}

/* Card clock = module clock / (2 * divider), or undivided with divider 0. */
static int set_card_clock(struct mmc_card *card, uint32_t max_hz)
{
	uint32_t divider = 0;
	if (card->mod_clock_hz > max_hz)
		divider = (card->mod_clock_hz + 2 * max_hz - 1) / (2 * max_hz);
	if (divider > CKCR_DIVIDER_MASK)
		divider = CKCR_DIVIDER_MASK;
	uint32_t ckcr = reg_read(card, REG_CKCR) & ~(CKCR_DIVIDER_MASK | CKCR_CARD_CLOCK_ON);
	/* The clock is stopped around the divider change, as the manual asks;
	 * each change is latched by a clock-only command. */
	uint32_t steps[3] = {ckcr, ckcr | divider, ckcr | divider | CKCR_CARD_CLOCK_ON};
	for (int i = 0; i < 3; i++) {
		reg_write(card, REG_CKCR, steps[i]);
		reg_write(card, REG_CMDR, CMDR_START | CMDR_CLOCK_ONLY | CMDR_WAIT_PREVIOUS);
		uint64_t deadline = now() + TIMEOUT_COMMAND;
		while (reg_read(card, REG_CMDR) & CMDR_START)
			if (now() > deadline)
				return MMC_E_CLOCK;
	}
	reg_write(card, REG_RISR, 0xffffffffu);
	card->card_clock_hz = divider ? card->mod_clock_hz / (2 * divider) : card->mod_clock_hz;
	return MMC_OK;
}

static int wait_not_busy(struct mmc_card *card, uint64_t timeout)
{
	uint64_t deadline = now() + timeout;
	while (reg_read(card, REG_STAR) & STAR_CARD_BUSY)
		if (now() > deadline)
			return MMC_E_BUSY_TIMEOUT;
	return MMC_OK;
}

/*
 * Send one command and wait for its response (not for its data). flags are
 * RESP_* plus CMDR_* data bits. response gets 1 or 4 words (may be NULL).
 */
static int command(struct mmc_card *card, uint32_t index, uint32_t argument, uint32_t flags,
		   uint32_t *response)
{
	card->stats.commands++;
	reg_write(card, REG_RISR, 0xffffffffu);
	reg_write(card, REG_CAGR, argument);
	barrier();
	reg_write(card, REG_CMDR,
		  CMDR_START | CMDR_WAIT_PREVIOUS | (flags & ~FLAG_WAIT_BUSY) | (index & 0x3f));
	uint64_t deadline = now() + TIMEOUT_COMMAND;
	uint32_t risr;
	for (;;) {
		risr = reg_read(card, REG_RISR);
		if (risr & (RISR_COMMAND_ERRORS | RISR_COMMAND_DONE))
			break;
		if (now() > deadline) {
			reset_controller(card, GCTL_FIFO_RESET | GCTL_DMA_RESET);
			return MMC_E_CMD_TIMEOUT;
		}
	}
	if (risr & RISR_COMMAND_ERRORS) {
		reg_write(card, REG_RISR, 0xffffffffu);
		reset_controller(card, GCTL_FIFO_RESET | GCTL_DMA_RESET);
		return (risr & RISR_RESPONSE_TIMEOUT) ? MMC_E_CMD_TIMEOUT : MMC_E_CMD_ERROR;
	}
	if (response) {
		response[0] = reg_read(card, REG_RESP0);
		if (flags & CMDR_LONG)
			for (int i = 1; i < 4; i++)
				response[i] = reg_read(card, REG_RESP0 + 4 * (uint32_t)i);
	}
	if (flags & FLAG_WAIT_BUSY)
		return wait_not_busy(card, TIMEOUT_BUSY);
	return MMC_OK;
}

/* A card command with an R1 response whose error bits are checked. */
static int command_r1(struct mmc_card *card, uint32_t index, uint32_t argument, uint32_t flags)
{
	uint32_t r1 = 0;
	int rc = command(card, index, argument, flags, &r1);
	if (rc == MMC_OK && (r1 & R1_ERRORS))
		rc = MMC_E_CARD_STATUS;
	return rc;
}

static int app_command(struct mmc_card *card, uint32_t index, uint32_t argument, uint32_t flags,
		       uint32_t *response)
{
	int rc = command_r1(card, CMD_APP, card->rca << 16, RESP_R1);
	return rc == MMC_OK ? command(card, index, argument, flags, response) : rc;
}

/* Poll SEND_STATUS until the card is back in the transfer state and ready
 * for data: the end of programming, i.e. the point a write is durable. */
static int wait_transfer_state(struct mmc_card *card)
{
	uint64_t deadline = now() + TIMEOUT_BUSY;
	for (;;) {
		uint32_t r1 = 0;
		int rc = command(card, CMD_SEND_STATUS, card->rca << 16, RESP_R1, &r1);
		if (rc == MMC_OK && (r1 & R1_ERRORS))
			return MMC_E_CARD_STATUS;
		if (rc == MMC_OK && R1_STATE(r1) == R1_STATE_TRANSFER && (r1 & R1_READY_FOR_DATA))
			return MMC_OK;
		if (now() > deadline)
			return rc == MMC_OK ? MMC_E_BUSY_TIMEOUT : rc;
	}
}

/* Bits [start, start+len) of a 128-bit register held as words[0] = bits 31:0. */
static uint32_t bits128(const uint32_t words[4], unsigned start, unsigned len)
{
	uint64_t pair = words[start / 32];
	if (start / 32 < 3)
		pair |= (uint64_t)words[start / 32 + 1] << 32;
	return (uint32_t)(pair >> (start % 32)) & (uint32_t)((1ull << len) - 1);
}

static int parse_csd(struct mmc_card *card)
{
	switch (bits128(card->csd, 126, 2)) {
	case 0: { /* standard capacity */
		uint32_t c_size = bits128(card->csd, 62, 12);
		uint32_t mult = bits128(card->csd, 47, 3);
		uint32_t read_bl_len = bits128(card->csd, 80, 4);
		uint64_t bytes = (uint64_t)(c_size + 1) << (mult + 2) << read_bl_len;
		card->block_count = bytes / MMC_BLOCK_SIZE;
		return MMC_OK;
	}
	case 1: /* high / extended capacity: (C_SIZE + 1) * 512 KiB */
		card->block_count = (uint64_t)(bits128(card->csd, 48, 22) + 1) * 1024;
		return MMC_OK;
	default: return MMC_E_UNSUPPORTED;
	}
}

static int find_controller(const void *dtb, uintptr_t *base)
{
	static const char *const compatibles[] = {
	    "allwinner,sun7i-a20-mmc", "allwinner,sun5i-a13-mmc", "allwinner,sun8i-h3-mmc"};
	for (int node = fdt_next_node(dtb, -1, NULL); node >= 0;
	     node = fdt_next_node(dtb, node, NULL)) {
		const char *status = fdt_getprop(dtb, node, "status", NULL);
		if (status && strcmp(status, "okay") != 0 && strcmp(status, "ok") != 0)
			continue;
		for (size_t i = 0; i < sizeof(compatibles) / sizeof(compatibles[0]); i++) {
			uint64_t reg, size;
			if (fdt_node_check_compatible(dtb, node, compatibles[i]) == 0 &&
			    dt_read_reg(dtb, node, 0, &reg, &size) == 0 && size >= 0x1000) {
				*base = (uintptr_t)reg;
				return MMC_OK;
			}
		}
	}
	return MMC_E_NO_CONTROLLER;
}

static int identify_card(struct mmc_card *card)
{
	uint32_t r[4] = {0};
	int rc = command(card, CMD_GO_IDLE, 0, RESP_NONE | CMDR_INIT_SEQUENCE, NULL);
	if (rc != MMC_OK)
		return rc;
	/* CMD8 says "2.0 or later" and lets the card report high capacity; a
	 * version 1 card stays silent. */
	bool version2 = command(card, CMD_SEND_IF_COND, 0x1aa, RESP_R1, r) == MMC_OK;
	if (version2 && (r[0] & 0xfff) != 0x1aa)
		return MMC_E_UNSUPPORTED;
	uint32_t argument = OCR_VOLTAGES | (version2 ? OCR_HIGH_CAPACITY : 0);
	uint64_t deadline = now() + TIMEOUT_POWER_UP;
	for (;;) {
		rc = app_command(card, ACMD_SEND_OP_COND, argument, RESP_R3, r);
		if (rc == MMC_OK && (r[0] & OCR_BUSY_DONE))
			break;
		if (now() > deadline)
			return rc == MMC_OK ? MMC_E_NO_CARD : rc;
		flotilla_yield(now() + MS);
	}
	card->ocr = r[0];
	card->high_capacity = (r[0] & OCR_HIGH_CAPACITY) != 0;
	if ((rc = command(card, CMD_ALL_SEND_CID, 0, RESP_R2, card->cid)) != MMC_OK)
		return rc;
	if ((rc = command(card, CMD_SEND_RCA, 0, RESP_R1, r)) != MMC_OK)
		return rc;
	card->rca = r[0] >> 16;
	if ((rc = command(card, CMD_SEND_CSD, card->rca << 16, RESP_R2, card->csd)) != MMC_OK)
		return rc;
	if ((rc = parse_csd(card)) != MMC_OK)
		return rc;
	if ((rc = command_r1(card, CMD_SELECT, card->rca << 16, RESP_R1B)) != MMC_OK)
		return rc;
	/* Every SD card supports a 4-bit bus. */
	if ((rc = app_command(card, ACMD_SET_BUS_WIDTH, 2, RESP_R1, r)) != MMC_OK)
		return rc;
	reg_write(card, REG_BWDR, 1);
	/* Only standard-capacity cards honour it; it keeps them at 512 bytes. */
	if ((rc = command_r1(card, CMD_SET_BLOCKLEN, MMC_BLOCK_SIZE, RESP_R1)) != MMC_OK)
		return rc;
	reg_write(card, REG_BKSR, MMC_BLOCK_SIZE);
	return MMC_OK;
}

int mmc_open(const void *dtb, struct mmc_card *card)
{
	uint64_t start = now();
	memset(card, 0, sizeof(*card));
	int rc = find_controller(dtb, &card->base);
	if (rc != MMC_OK)
		return rc;
	card->mod_clock_hz = module_clock_hz(dtb, card->base);
	if ((rc = reset_controller(card, GCTL_RESETS)) != MMC_OK)
		return rc;
	/* Polling only: no controller interrupts reach the GIC. FIFO levels as
	 * the manual recommends: burst 8 words, RX at 7, TX at 8. */
	reg_write(card, REG_GCTL, reg_read(card, REG_GCTL) & ~GCTL_INT_ENABLE);
	reg_write(card, REG_IMKR, 0);
	reg_write(card, REG_IDIE, 0);
	reg_write(card, REG_RISR, 0xffffffffu);
	reg_write(card, REG_IDST, 0x3ff);
	reg_write(card, REG_FWLR, 0x20070008u);
	reg_write(card, REG_TMOR, 0xffffff40u); /* data and response timeouts: maximum */
	reg_write(card, REG_BWDR, 0);
	if ((rc = set_card_clock(card, CLOCK_IDENTIFY_HZ)) != MMC_OK)
		return rc;
	rc = identify_card(card);
	if (rc == MMC_E_CMD_TIMEOUT)
		rc = MMC_E_NO_CARD;
	if (rc == MMC_OK)
		rc = set_card_clock(card, CLOCK_DATA_HZ);
	card->init_ns = now() - start;
	return rc;
}

/* ---------------------------------------------------------------- data */

/* One command's worth of blocks (≤ MMC_CHUNK_BLOCKS) through the IDMAC,
 * buf line-aligned. Leaves the card in the transfer state on success. */
static int transfer_once(struct mmc_card *card, bool write, uint64_t block, uint8_t *buf,
			 uint32_t count)
{
	uint32_t bytes = count * MMC_BLOCK_SIZE;
	uint32_t descriptors = (bytes + DESC_MAX_BYTES - 1) / DESC_MAX_BYTES;
	for (uint32_t i = 0; i < descriptors; i++) {
		uint32_t size = bytes - i * DESC_MAX_BYTES;
		struct mmc_descriptor *d = &mmc_descriptors[i];
		d->status = DESC_OWNED_BY_DMA | DESC_CHAINED | DESC_NO_INTERRUPT;
		d->size = size > DESC_MAX_BYTES ? DESC_MAX_BYTES : size;
		d->address = (uint32_t)(uintptr_t)(buf + i * DESC_MAX_BYTES);
		d->next = (uint32_t)(uintptr_t)&mmc_descriptors[i + 1];
	}
	mmc_descriptors[0].status |= DESC_FIRST;
	mmc_descriptors[descriptors - 1].status |= DESC_LAST;
	mmc_descriptors[descriptors - 1].status &= ~DESC_NO_INTERRUPT;
	mmc_descriptors[descriptors - 1].next = 0;
	dcache_clean(mmc_descriptors, descriptors * sizeof(struct mmc_descriptor));
	if (write)
		dcache_clean(buf, bytes);
	else
		dcache_clean_invalidate(buf, bytes);

	int rc = reset_controller(card, GCTL_FIFO_RESET | GCTL_DMA_RESET);
	if (rc != MMC_OK)
		return rc;
	reg_write(card, REG_GCTL,
		  (reg_read(card, REG_GCTL) | GCTL_DMA_ENABLE) & ~GCTL_ACCESS_BY_AHB);
	reg_write(card, REG_DMAC, DMAC_SOFT_RESET);
	reg_write(card, REG_IDST, 0x3ff);
	reg_write(card, REG_DLBA, (uint32_t)(uintptr_t)mmc_descriptors);
	reg_write(card, REG_DMAC, DMAC_FIXED_BURST | DMAC_ENABLE);
	reg_write(card, REG_BKSR, MMC_BLOCK_SIZE);
	reg_write(card, REG_BYCR, bytes);

	uint32_t index = write ? (count > 1 ? CMD_WRITE_MULTIPLE : CMD_WRITE_SINGLE)
			       : (count > 1 ? CMD_READ_MULTIPLE : CMD_READ_SINGLE);
	uint32_t flags =
	    RESP_R1 | CMDR_DATA | (write ? CMDR_WRITE : 0) | (count > 1 ? CMDR_AUTO_STOP : 0);
	uint32_t address = (uint32_t)(card->high_capacity ? block : block * MMC_BLOCK_SIZE);
	uint32_t r1 = 0;
	rc = command(card, index, address, flags, &r1);
	if (rc == MMC_OK && (r1 & R1_ERRORS))
		rc = MMC_E_CARD_STATUS;
	if (rc == MMC_OK) {
		uint32_t want = RISR_DATA_DONE | (count > 1 ? RISR_AUTO_STOP_DONE : 0);
		uint64_t deadline = now() + TIMEOUT_DATA_BASE + count * TIMEOUT_DATA_PER_BLOCK;
		for (;;) {
			uint32_t risr = reg_read(card, REG_RISR);
			if (risr & RISR_DATA_ERRORS) {
				rc = (risr & RISR_DATA_TIMEOUT) ? MMC_E_DATA_TIMEOUT
								: MMC_E_DATA_ERROR;
				break;
			}
			if ((risr & want) == want)
				break;
			if (now() > deadline) {
				rc = MMC_E_DATA_TIMEOUT;
				break;
			}
		}
	}
	reg_write(card, REG_DMAC, 0);
	reg_write(card, REG_RISR, 0xffffffffu);
	reg_write(card, REG_IDST, 0x3ff);
	if (!write)
		dcache_invalidate(buf, bytes);
	if (rc != MMC_OK) {
		reset_controller(card, GCTL_FIFO_RESET | GCTL_DMA_RESET);
		/* A failed multi-block transfer may have left the card sending or
		 * receiving: stop it (an error here just means it had stopped). */
		if (count > 1)
			command(card, CMD_STOP, 0, RESP_R1B, NULL);
		wait_transfer_state(card);
		return rc;
	}
	/* Reads: the card is back in transfer once the data is in. Writes: wait
	 * until it has programmed the blocks: only then is the write durable. */
	if (write)
		rc = wait_transfer_state(card);
	return rc;
}

static int transfer(struct mmc_card *card, bool write, uint64_t block, uint8_t *buf, uint32_t count)
{
	if (!card->base || !card->block_count)
		return MMC_E_NO_CARD;
	if (block > card->block_count || count > card->block_count - block)
		return MMC_E_RANGE;
	while (count > 0) {
		uint32_t chunk = count > MMC_CHUNK_BLOCKS ? MMC_CHUNK_BLOCKS : count;
		size_t bytes = (size_t)chunk * MMC_BLOCK_SIZE;
		uint32_t line = dcache_line();
		/* Line-aligned buffers go to the engine directly (writes only need
		 * the engine's word alignment: cleaning never loses data); others
		 * bounce. */
		bool direct =
		    ((uintptr_t)buf & (line - 1)) == 0 || (write && ((uintptr_t)buf & 3) == 0);
		uint8_t *dma = direct ? buf : mmc_bounce;
		if (!direct && write)
			memcpy(mmc_bounce, buf, bytes);
		int rc = MMC_E_DATA_ERROR;
		for (int attempt = 0; attempt < TRANSFER_ATTEMPTS; attempt++) {
			if (attempt > 0)
				card->stats.retries++;
			rc = transfer_once(card, write, block, dma, chunk);
			/* Retry what a glitch on the bus can cause; a card that says
			 * the request itself is wrong would say it again. */
			if (rc == MMC_OK || rc == MMC_E_CARD_STATUS || rc == MMC_E_RESET)
				break;
		}
		if (rc != MMC_OK) {
			card->stats.errors++;
			return rc;
		}
		if (!direct && !write)
			memcpy(buf, mmc_bounce, bytes);
		if (write)
			card->stats.blocks_written += chunk;
		else
			card->stats.blocks_read += chunk;
		block += chunk;
		buf += bytes;
		count -= chunk;
	}
	return MMC_OK;
}

int mmc_read(struct mmc_card *card, uint64_t block, void *buf, uint32_t count)
{
	return transfer(card, false, block, buf, count);
}

int mmc_write(struct mmc_card *card, uint64_t block, const void *buf, uint32_t count)
{
	/* The engine only reads buf on writes; the cast drops const for the
	 * shared transfer path, which never stores through it when writing. */
	return transfer(card, true, block, (uint8_t *)(uintptr_t)buf, count);
}
