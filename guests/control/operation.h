/*
 * operation.h: what happens to a guest when an operator acts on it over the
 * device API (a push, a rollback, a restart), from the first byte to the
 * verdict. One per guest (the latest); GET /v1/guests/NAME/operation shows
 * it, so a client that lost its connection can still learn the outcome.
 *
 * Stages move forward only:
 *   RECEIVING -> INSTALLED -> STARTING -> HEALTHY -> CONFIRMED
 * and end early in REFUSED (the bundle or request was refused: nothing
 * changed), ROLLED_BACK (the new version was started and failed its health
 * gate, or crash-looped after confirmation: the previous confirmed version
 * serves) or FAILED (nothing could be made to run; reason says why).
 */
#ifndef FLOTILLA_CONTROL_OPERATION_H
#define FLOTILLA_CONTROL_OPERATION_H

#include <stdbool.h>
#include <stdint.h>

enum op_kind { OP_NONE, OP_UPDATE, OP_ROLLBACK, OP_RESTART };

enum op_stage {
	OP_IDLE,        /* no operation yet */
	OP_RECEIVING,   /* the bundle is streaming to the inactive slot */
	OP_INSTALLED,   /* on the card as TRIAL; the swap is about to start */
	OP_STARTING,    /* the new instance is built and on probation */
	OP_HEALTHY,     /* ready and its probe passed: the switch-over is under way */
	OP_CONFIRMED,   /* the new version serves and is confirmed on the card */
	OP_REFUSED,     /* refused before anything changed */
	OP_ROLLED_BACK, /* the new version failed; the previous one serves */
	OP_FAILED,      /* neither could be run */
};

struct guest_operation {
	uint32_t id; /* increments per operation on this board */
	enum op_kind kind;
	enum op_stage stage;
	char version[16];      /* the version being installed / started */
	char from_version[16]; /* the version serving when it began */
	char code[32];    /* machine-readable reason ("not_ready", "probe_failed", ota_ codes) */
	char reason[128]; /* one line for humans */
	char mode[24];    /* "side-by-side" or "stop-then-start" */
	uint64_t bytes, total; /* bundle bytes received / announced */
	/* flotilla_clock_monotonic() ms at each step; 0 = not reached */
	uint64_t started_ms, installed_ms, built_ms, ready_ms, healthy_ms, switched_ms, finished_ms;
	uint32_t gap_ms; /* stop-then-start: time without any instance */
	/* the control domain's RAM high-water (heap break + pages) when the
	 * bundle began to arrive and once it was installed: an install must
	 * not grow with the bundle */
	uint32_t ram_before, ram_installed;
};

static inline const char *op_stage_name(enum op_stage s)
{
	switch (s) {
	case OP_IDLE: return "idle";
	case OP_RECEIVING: return "receiving";
	case OP_INSTALLED: return "installed";
	case OP_STARTING: return "starting";
	case OP_HEALTHY: return "healthy";
	case OP_CONFIRMED: return "confirmed";
	case OP_REFUSED: return "refused";
	case OP_ROLLED_BACK: return "rolled_back";
	case OP_FAILED: return "failed";
	}
	return "?";
}

static inline bool op_finished(enum op_stage s)
{
	return s == OP_IDLE || s >= OP_CONFIRMED;
}

static inline const char *op_kind_name(enum op_kind k)
{
	switch (k) {
	case OP_NONE: return "none";
	case OP_UPDATE: return "update";
	case OP_ROLLBACK: return "rollback";
	case OP_RESTART: return "restart";
	}
	return "?";
}

#endif
