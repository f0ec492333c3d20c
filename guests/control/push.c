/*
 * The device API's update resources (push.h). The order of the checks is
 * the contract: nothing that changes state happens before the operator is
 * authenticated, and nothing touches the card before the bundle's head is
 * authentic and fits this board, this guest and its plan.
 */
#include "push.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flotilla.h"

#include "api.h"
#include "auth.h"
#include "install.h"
#include "ota.h"
#include "store.h"
#include "supervisor.h"

/* The runtime's RAM high-water (guests/runtime/xen/memory.c). */
size_t memory_high_water(void);

#define NS_PER_MS 1000000u

/* One PUT being received: what is kept per connection. */
struct push {
	struct http_conn *conn; /* NULL: free */
	struct guest *g;
	uint64_t total, received;
	uint8_t head[OTA_BUNDLE_HEAD_MAX];
	uint32_t head_len, head_need; /* head_need 0: header not decoded yet */
	bool claimed;                 /* authenticated: owns the install and g->op */
	/* a refusal decided by check_manifest() (board rules, not ota/'s) */
	int why_status;
	char why_code[32];
	char why[160];
};

/* Allocated at the first push, not in the image (Xen copies .bss with the file). */
static struct push *pushes;
static struct ota_install *install; /* the one install in flight (one per store) */
static struct push *installing;

static uint64_t now_ms(void)
{
	return flotilla_clock_monotonic() / NS_PER_MS;
}

int push_status_for(int ota_status)
{
	switch (ota_status) {
	case OTA_E_OVERSIZE: return 413;
	case OTA_E_ROLLBACK:
	case OTA_E_STATE: return 409;
	case OTA_E_NO_STORE:
	case OTA_E_GEOMETRY:
	case OTA_E_STORE_FULL:
	case OTA_E_IO:
	case OTA_E_CRYPTO: return 503;
	default: return 422; /* the bundle itself is wrong */
	}
}

static struct push *find(const struct http_conn *c)
{
	for (unsigned i = 0; pushes && i < API_CONNECTIONS; i++)
		if (pushes[i].conn == c)
			return &pushes[i];
	return NULL;
}

static void release(struct push *p)
{
	if (installing == p)
		installing = NULL;
	p->conn = NULL;
	p->claimed = false;
}

/* The request's target as it was signed: path and query. */
static void request_target(const struct http_request *r, char *out, size_t size)
{
	snprintf(out, size, "%s%s%s", r->path, r->query[0] ? "?" : "", r->query);
}

static struct ota_auth_result authenticate(const struct http_request *r,
					   const uint8_t digest[OTA_SHA256_SIZE])
{
	char target[2 * HTTP_PATH_MAX + 2];
	request_target(r, target, sizeof(target));
	return ota_auth_check(api_auth(), r->authorization, r->method_name, target, digest,
			      now_ms());
}

/* ---------------------------------------------------------------- operations */

static void op_begin(struct guest *g, enum op_kind kind, enum op_stage stage)
{
	memset(&g->op, 0, sizeof(g->op));
	g->op.id = supervisor_next_op_id();
	g->op.kind = kind;
	g->op.stage = stage;
	snprintf(g->op.from_version, sizeof(g->op.from_version), "%s", g->version);
	g->op.started_ms = now_ms();
}

static void op_refuse(struct guest *g, const char *code, const char *reason)
{
	g->op.stage = OP_REFUSED;
	snprintf(g->op.code, sizeof(g->op.code), "%s", code);
	snprintf(g->op.reason, sizeof(g->op.reason), "%s", reason);
	g->op.finished_ms = now_ms();
}

static void put_ms(struct json_writer *j, const char *key, uint64_t at, uint64_t started)
{
	if (at)
		json_uint(j, key, at >= started ? at - started : 0);
}

static void write_operation(struct json_writer *j, const struct guest *g)
{
	const struct guest_operation *op = &g->op;
	json_begin_object(j);
	json_string(j, "guest", g->name);
	json_uint(j, "id", op->id);
	json_string(j, "kind", op_kind_name(op->kind));
	json_string(j, "stage", op_stage_name(op->stage));
	json_bool(j, "final", op_finished(op->stage));
	json_string(j, "version", op->version);
	json_string(j, "from_version", op->from_version);
	json_string(j, "code", op->code);
	json_string(j, "reason", op->reason);
	json_string(j, "mode", op->mode);
	json_uint(j, "bytes", op->bytes);
	json_uint(j, "total", op->total);
	/* Each step in ms after the start; a step not reached is left out. */
	json_key_object(j, "ms");
	put_ms(j, "installed", op->installed_ms, op->started_ms);
	put_ms(j, "built", op->built_ms, op->started_ms);
	put_ms(j, "ready", op->ready_ms, op->started_ms);
	put_ms(j, "healthy", op->healthy_ms, op->started_ms);
	put_ms(j, "switched", op->switched_ms, op->started_ms);
	put_ms(j, "finished", op->finished_ms, op->started_ms);
	json_end_object(j);
	json_uint(j, "gap_ms", op->gap_ms);
	if (op->ram_installed) {
		json_uint(j, "ram_high_water_before", op->ram_before);
		json_uint(j, "ram_high_water_installed", op->ram_installed);
	}
	json_uint(j, "age_ms", op->started_ms ? now_ms() - op->started_ms : 0);
	json_end_object(j);
}

static void respond_operation(struct http_conn *c, int status, const struct guest *g)
{
	char body[1024], location[HTTP_PATH_MAX + 48];
	struct json_writer j;
	json_init(&j, body, sizeof(body));
	write_operation(&j, g);
	if (!json_ok(&j)) {
		http_respond_error(c, 500, "internal", "the operation did not fit its buffer");
		return;
	}
	snprintf(location, sizeof(location), "Location: /v1/guests/%s/operation\r\n", g->name);
	http_respond_headers(c, status, "application/json", status == 202 ? location : NULL, j.buf,
			     j.len);
}

static void respond_busy(struct http_conn *c, const struct guest *g)
{
	char message[160];
	snprintf(message, sizeof(message),
		 "an operation on %s is under way (%s %s, id %" PRIu32 "): wait for it to finish",
		 g->name, op_kind_name(g->op.kind), op_stage_name(g->op.stage), g->op.id);
	http_respond_error(c, 409, "busy", message);
}

/* Another guest's image is being written: the store takes one at a time. */
static bool respond_if_store_busy(struct http_conn *c)
{
	const char *other = installing ? installing->g->name : store_installing();
	if (!other)
		return false;
	char message[160];
	snprintf(message, sizeof(message),
		 "the card is receiving an update of %s: one install at a time, retry after it",
		 other);
	http_respond_error(c, 409, "store_busy", message);
	return true;
}

/* ---------------------------------------------------------------- PUT */

void push_put_begin(struct http_conn *c, const struct http_request *r)
{
	struct guest *g = supervisor_find(r->param);
	if (!g) {
		http_respond_error(c, 404, "no_such_guest",
				   "the board's plan has no guest of that name");
		return;
	}
	uint32_t slot = store_slot_bytes();
	if (!slot) {
		http_respond_error(c, 503, "no-store",
				   "the card's slot store is not usable: updates cannot be kept");
		return;
	}
	if (r->content_length > (uint64_t)slot + OTA_BUNDLE_HEAD_MAX) {
		char message[160];
		snprintf(message, sizeof(message),
			 "the bundle (%" PRIu64
			 " bytes) is larger than a slot on this board (%" PRIu32 " bytes of image)",
			 r->content_length, slot);
		http_respond_error(c, 413, ota_status_name(OTA_E_OVERSIZE), message);
		return;
	}
	if (supervisor_busy(g)) {
		respond_busy(c, g);
		return;
	}
	if (respond_if_store_busy(c))
		return;
	if (!pushes)
		pushes = calloc(API_CONNECTIONS, sizeof(*pushes));
	if (!install)
		install = calloc(1, sizeof(*install));
	struct push *p = NULL;
	for (unsigned i = 0; pushes && i < API_CONNECTIONS && !p; i++)
		if (!pushes[i].conn)
			p = &pushes[i];
	if (!p || !install) {
		http_respond_error(c, 503, "no_memory",
				   "no memory for another upload: retry later");
		return;
	}
	memset(p, 0, sizeof(*p));
	p->conn = c;
	p->g = g;
	p->total = r->content_length;
}

/* Refused before the operator was authenticated: nothing is recorded (an
 * unauthenticated client must not be able to overwrite the operation). */
static void refuse_unauthenticated(struct http_conn *c, struct push *p, int rc)
{
	http_respond_error(c, push_status_for(rc), ota_status_name(rc), ota_strerror(rc));
	release(p);
}

/* Refused after authentication: the operation says why; the card and the
 * running guest are as they were (the install, if begun, is abandoned). */
static void refuse(struct http_conn *c, struct push *p, int rc)
{
	struct guest *g = p->g;
	bool own = p->why_code[0] != '\0';
	const char *code = own ? p->why_code : ota_status_name(rc);
	const char *message = own ? p->why : ota_strerror(rc);
	int status = own ? p->why_status : push_status_for(rc);
	const struct ota_manifest *m = ota_install_manifest(install);
	ota_install_abort(install);
	op_refuse(g, code, message);
	g->op.bytes = p->received;
	store_log_push_refused(g->name, rc, m);
	printf("control: %s: push refused after %" PRIu64 " of %" PRIu64 " bytes: %s (%s)\n",
	       g->name, p->received, p->total, code, message);
	http_respond_error(c, status, code, message);
	release(p);
}

/* The board's own conditions on an authentic manifest (ota_install's check). */
static int check_manifest(void *ctx, const struct ota_manifest *m)
{
	struct push *p = ctx;
	struct guest *g = p->g;
	snprintf(g->op.version, sizeof(g->op.version), "%u.%u.%u", (unsigned)m->version[0],
		 (unsigned)m->version[1], (unsigned)m->version[2]);
	p->why_status = 422;
	if (strcmp(m->name, g->name) != 0) {
		snprintf(p->why_code, sizeof(p->why_code), "wrong-guest");
		snprintf(p->why, sizeof(p->why),
			 "the bundle is signed for guest \"%s\", not \"%s\"", m->name, g->name);
		return OTA_E_INVALID;
	}
	if (g->memory_mb < m->memory_mib || g->vcpus < m->vcpus) {
		snprintf(p->why_code, sizeof(p->why_code), "plan-mismatch");
		snprintf(
		    p->why, sizeof(p->why),
		    "the plan gives %s %u MiB and %u vCPU(s); the bundle asks for %u MiB and %u",
		    g->name, g->memory_mb, g->vcpus, (unsigned)m->memory_mib, (unsigned)m->vcpus);
		return OTA_E_INVALID;
	}
	if (!supervisor_plan_gives_nics(g->nics, m, p->why, sizeof(p->why))) {
		snprintf(p->why_code, sizeof(p->why_code), "plan-mismatch");
		return OTA_E_INVALID;
	}
	/* Content-Length must be exactly the signed bundle: a short or long body
	 * is refused now, before the slot is touched, not after it is written. */
	uint64_t expected = (uint64_t)p->head_len + m->image_size;
	if (p->total != expected) {
		snprintf(
		    p->why_code, sizeof(p->why_code), "%s",
		    ota_status_name(p->total < expected ? OTA_E_TRUNCATED : OTA_E_TRAILING_DATA));
		snprintf(p->why, sizeof(p->why),
			 "Content-Length %" PRIu64 " is not the signed bundle's size %" PRIu64
			 ": send the whole file, unchanged",
			 p->total, expected);
		return p->total < expected ? OTA_E_TRUNCATED : OTA_E_TRAILING_DATA;
	}
	return OTA_OK;
}

/* The head is complete: the operator, then the claim, then the install. */
static bool start_install(struct http_conn *c, struct push *p)
{
	struct guest *g = p->g;
	uint8_t digest[OTA_SHA256_SIZE];
	ota_sha256(p->head, p->head_len, digest);
	struct ota_auth_result a = authenticate(&c->request, digest);
	if (a.status) {
		http_respond_error(c, a.status, a.code, a.message);
		release(p);
		return false;
	}
	/* Authenticated. Something may have started while the head arrived. */
	if (supervisor_busy(g)) {
		respond_busy(c, g);
		release(p);
		return false;
	}
	if (respond_if_store_busy(c)) {
		release(p);
		return false;
	}
	op_begin(g, OP_UPDATE, OP_RECEIVING);
	g->op.ram_before = (uint32_t)memory_high_water();
	g->op.total = p->total;
	g->op.bytes = p->received;
	p->claimed = true;
	installing = p;
	struct ota_verify_policy policy = {0};
	struct slot_store *s = store_for_push(&policy);
	if (!s) {
		ota_install_begin(install, NULL, &policy);
		refuse(c, p, OTA_E_NO_STORE);
		return false;
	}
	ota_install_begin(install, s, &policy);
	ota_install_set_check(install, check_manifest, p);
	printf("control: %s: receiving a pushed bundle (%" PRIu64 " bytes), operator key checked\n",
	       g->name, p->total);
	int rc = ota_install_feed(install, p->head, p->head_len);
	if (rc != OTA_OK) {
		refuse(c, p, rc);
		return false;
	}
	return true;
}

void push_put_body(struct http_conn *c, const uint8_t *data, size_t len)
{
	struct push *p = find(c);
	if (!p)
		return;
	p->received += len;
	while (len && !p->claimed) {
		uint32_t want = p->head_need ? p->head_need : OTA_BUNDLE_HEADER_SIZE;
		size_t take = want - p->head_len < len ? want - p->head_len : len;
		memcpy(p->head + p->head_len, data, take);
		p->head_len += (uint32_t)take;
		data += take;
		len -= take;
		if (p->head_len < want)
			return;
		if (!p->head_need) {
			struct ota_bundle_header h;
			int rc = ota_bundle_header_decode(p->head, &h);
			uint64_t need =
			    (uint64_t)h.header_size + h.manifest_size + h.signature_size;
			if (rc == OTA_OK &&
			    (need > sizeof(p->head) || need < OTA_BUNDLE_HEADER_SIZE))
				rc = OTA_E_MALFORMED_HEADER;
			if (rc == OTA_OK && need > p->total)
				rc = OTA_E_TRUNCATED;
			if (rc != OTA_OK) {
				refuse_unauthenticated(c, p, rc);
				return;
			}
			p->head_need = (uint32_t)need;
			continue;
		}
		if (!start_install(c, p))
			return;
	}
	if (!p->claimed)
		return;
	p->g->op.bytes = p->received;
	if (len) {
		int rc = ota_install_feed(install, data, len);
		if (rc != OTA_OK)
			refuse(c, p, rc);
	}
}

void push_put_end(struct http_conn *c, const struct http_request *r)
{
	(void)r;
	struct push *p = find(c);
	if (!p) {
		if (!c->answered)
			http_respond_error(c, 500, "internal", "no upload for this request");
		return;
	}
	if (!p->claimed) {
		/* The body ended inside the head: too short to be a bundle. */
		refuse_unauthenticated(
		    c, p, p->head_len < OTA_BUNDLE_HEADER_SIZE ? OTA_E_BAD_MAGIC : OTA_E_TRUNCATED);
		return;
	}
	struct guest *g = p->g;
	int rc = ota_install_finish(install);
	const struct ota_manifest *m = ota_install_manifest(install);
	if (rc == OTA_OK)
		rc = store_activate_pushed(g->name, m);
	if (rc != OTA_OK) {
		refuse(c, p, rc);
		return;
	}
	g->op.stage = OP_INSTALLED;
	g->op.installed_ms = now_ms();
	g->op.ram_installed = (uint32_t)memory_high_water();
	printf("control: %s: v%s received and installed as TRIAL in %" PRIu64 " ms; swapping\n",
	       g->name, g->op.version, g->op.installed_ms - g->op.started_ms);
	release(p);
	supervisor_swap_start(g, OP_UPDATE);
	respond_operation(c, 202, g);
}

void push_connection_closed(struct http_conn *c)
{
	struct push *p = find(c);
	if (!p)
		return;
	if (p->claimed) {
		struct guest *g = p->g;
		char reason[128];
		ota_install_abort(install);
		snprintf(reason, sizeof(reason),
			 "the connection was lost after %" PRIu64 " of %" PRIu64
			 " bytes: the bundle was not installed",
			 p->received, p->total);
		op_refuse(g, "aborted", reason);
		g->op.bytes = p->received;
		store_log_push_refused(g->name, OTA_E_TRUNCATED, NULL);
		printf("control: %s: push aborted: %s\n", g->name, reason);
	}
	release(p);
}

/* ---------------------------------------------------------------- the others */

void push_get_operation(struct http_conn *c, const struct http_request *r)
{
	struct guest *g = supervisor_find(r->param);
	if (!g) {
		http_respond_error(c, 404, "no_such_guest",
				   "the board's plan has no guest of that name");
		return;
	}
	respond_operation(c, 200, g);
}

static void post_action(struct http_conn *c, const struct http_request *r, enum op_kind kind)
{
	uint8_t empty[OTA_SHA256_SIZE];
	ota_sha256("", 0, empty);
	struct ota_auth_result a = authenticate(r, empty);
	if (a.status) {
		http_respond_error(c, a.status, a.code, a.message);
		return;
	}
	struct guest *g = supervisor_find(r->param);
	if (!g) {
		http_respond_error(c, 404, "no_such_guest",
				   "the board's plan has no guest of that name");
		return;
	}
	if (supervisor_busy(g)) {
		respond_busy(c, g);
		return;
	}
	op_begin(g, kind, OP_INSTALLED);
	printf("control: %s: %s requested over the device API\n", g->name, op_kind_name(kind));
	int rc = kind == OP_ROLLBACK ? supervisor_rollback(g) : supervisor_restart(g);
	if (rc != 0) {
		const char *code, *message;
		if (kind == OP_RESTART) {
			code = "restart_failed";
			message = "the guest could not be restarted: see the board's console";
		} else if (rc == OTA_E_STATE) {
			code = "no_previous_version";
			message =
			    "there is no previous confirmed version on the card to go back to";
		} else {
			code = ota_status_name(rc);
			message = ota_strerror(rc);
		}
		op_refuse(g, code, message);
		http_respond_error(c, 409, code, message);
		return;
	}
	respond_operation(c, 202, g);
}

void push_post_rollback(struct http_conn *c, const struct http_request *r)
{
	post_action(c, r, OP_ROLLBACK);
}

void push_post_restart(struct http_conn *c, const struct http_request *r)
{
	post_action(c, r, OP_RESTART);
}
