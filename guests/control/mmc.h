/*
 * mmc.h: the Allwinner SD/MMC host controller (the "allwinner,sun7i-a20-mmc"
 * IP block of the A20 and H3; QEMU's allwinner-sdhost) driving one SD card,
 * from the control domain.
 *
 * Polled, never interrupt-driven: every wait is bounded by a deadline and
 * ends in an error code, never a hang. Data moves through the controller's
 * internal DMA engine (IDMAC) straight into or out of the caller's buffer;
 * dom0 is mapped 1:1, so our addresses are the bus addresses the engine uses.
 *
 * Durability: mmc_write() returns MMC_OK only after the card has reported,
 * through SEND_STATUS, that it left the programming state and is ready for
 * data again: the blocks are on the medium, not in a controller FIFO.
 * SD cards in their power-on default run with any write cache off, so no
 * separate flush is needed.
 */
#ifndef FLOTILLA_CONTROL_MMC_H
#define FLOTILLA_CONTROL_MMC_H

#include <stdbool.h>
#include <stdint.h>

#define MMC_BLOCK_SIZE 512u

enum mmc_status {
	MMC_OK = 0,
	MMC_E_NO_CONTROLLER = -1, /* no enabled MMC node in the device tree */
	MMC_E_RESET = -2,         /* the controller did not come out of reset */
	MMC_E_CLOCK = -3,         /* the controller did not accept a clock change */
	MMC_E_NO_CARD = -4,       /* no answer to the identification commands */
	MMC_E_CMD_TIMEOUT = -5,   /* a command got no response in time */
	MMC_E_CMD_ERROR = -6,     /* response CRC / response error from the host */
	MMC_E_DATA_TIMEOUT = -7,  /* a data transfer did not finish in time */
	MMC_E_DATA_ERROR = -8,    /* data CRC, FIFO or bit errors during a transfer */
	MMC_E_CARD_STATUS = -9,   /* the card reported an error in its R1 status */
	MMC_E_BUSY_TIMEOUT = -10, /* the card stayed busy (programming) too long */
	MMC_E_UNSUPPORTED = -11,  /* a card this driver cannot run (voltage, CSD) */
	MMC_E_RANGE = -12,        /* blocks past the end of the card (or partition) */
};

/* Counters, for status lines and benches. */
struct mmc_stats {
	uint32_t commands;
	uint32_t retries; /* transfers retried after a transient error */
	uint32_t errors;  /* transfers that failed for good */
	uint64_t blocks_read, blocks_written;
};

struct mmc_card {
	uintptr_t base;        /* controller registers (from the device tree's reg) */
	uint32_t rca;          /* relative card address, from CMD3 */
	uint32_t ocr;          /* operating conditions, from ACMD41 */
	uint32_t cid[4];       /* card identification, from CMD2 (cid[3] = bits 127:96) */
	uint32_t csd[4];       /* card-specific data, from CMD9 */
	uint64_t block_count;  /* capacity in 512-byte blocks */
	bool high_capacity;    /* SDHC/SDXC: block addresses; else byte addresses */
	uint32_t mod_clock_hz; /* controller input clock, as U-Boot left it */
	uint32_t card_clock_hz;
	uint64_t init_ns; /* time mmc_open() took */
	struct mmc_stats stats;
};

/* mmc.c */

/*
 * Find the first enabled "allwinner,*-mmc" node in dtb, reset its
 * controller and initialise the card in it (identification, 4-bit bus,
 * 512-byte blocks). MMC_OK or a negative enum mmc_status.
 */
int mmc_open(const void *dtb, struct mmc_card *card);

/*
 * count blocks from block into/out of buf (any alignment; any count).
 * Multi-block transfers are used for count > 1. Transient errors are
 * retried; MMC_OK or a negative enum mmc_status.
 */
int mmc_read(struct mmc_card *card, uint64_t block, void *buf, uint32_t count);
int mmc_write(struct mmc_card *card, uint64_t block, const void *buf, uint32_t count);

/* A one-line description of an enum mmc_status value. */
const char *mmc_strerror(int status);

#endif
