/*
 * analyze_proto.c - see analyze.h (aproto).
 *
 * DESIGN: a tree in one preallocated array of nodes; a frame adds its frame length to every node
 * on its protocol path, so (like tshark's io,phs) a protocol is counted once per frame at each
 * place it appears under its parent. Children are found by walking a sibling list: paths are
 * short and a level rarely has more than a dozen protocols. When the array is full, frames whose
 * path needs a new node are counted up to the deepest node that exists and in `overflow'.
 */
#include <stdlib.h>
#include <string.h>

#include "analyze/analyze.h"

#define APROTO_MAX_NODES 4096
#define AP_NIL 0xffffu

struct ap_node {
	uint64_t frames, bytes;
	uint16_t parent, first_child, next_sibling;
	uint8_t id, depth;
};

struct aproto {
	struct ap_node n[APROTO_MAX_NODES]; /* n[0] is the root (all frames) */
	uint32_t used;
	uint64_t overflow;
};

aproto_t *aproto_new(void)
{
	struct aproto *a = calloc(1, sizeof *a);
	if (!a)
		return NULL;
	a->n[0].first_child = AP_NIL;
	a->n[0].next_sibling = AP_NIL;
	a->n[0].parent = AP_NIL;
	a->used = 1;
	return a;
}

void aproto_free(aproto_t *a)
{
	free(a);
}

static uint16_t ap_child(struct aproto *a, uint16_t parent, uint8_t id, int create)
{
	uint16_t c;

	for (c = a->n[parent].first_child; c != AP_NIL; c = a->n[c].next_sibling)
		if (a->n[c].id == id)
			return c;
	if (!create || a->used >= APROTO_MAX_NODES)
		return AP_NIL;
	c = (uint16_t)a->used++;
	a->n[c] = (struct ap_node){.parent = parent,
				   .first_child = AP_NIL,
				   .next_sibling = a->n[parent].first_child,
				   .id = id,
				   .depth = (uint8_t)(a->n[parent].depth + (parent ? 1 : 0))};
	a->n[parent].first_child = c;
	return c;
}

void aproto_add(aproto_t *a, const struct alayers *l, uint32_t wirelen)
{
	uint16_t node = 0;

	a->n[0].frames++;
	a->n[0].bytes += wirelen;
	for (unsigned i = 0; i < l->npath; i++) {
		uint16_t c = ap_child(a, node, l->path[i], 1);
		if (c == AP_NIL) {
			a->overflow++;
			return;
		}
		a->n[c].frames++;
		a->n[c].bytes += wirelen;
		node = c;
	}
}

void aproto_lookup(const aproto_t *a, const char *path, uint64_t *frames, uint64_t *bytes)
{
	uint16_t node = 0;
	const char *p = path;

	*frames = *bytes = 0;
	while (*p) {
		size_t len = strcspn(p, "/");
		uint16_t c;
		for (c = a->n[node].first_child; c != AP_NIL; c = a->n[c].next_sibling) {
			const char *nm = alayers_name(a->n[c].id);
			if (strlen(nm) == len && strncmp(nm, p, len) == 0)
				break;
		}
		if (c == AP_NIL)
			return;
		node = c;
		p += len;
		if (*p == '/')
			p++;
	}
	if (node) {
		*frames = a->n[node].frames;
		*bytes = a->n[node].bytes;
	}
}

/* Children of a node sorted: frames, then bytes (both descending), then name. */
static int ap_cmp(const void *x, const void *y, void *tree)
{
	const struct aproto *t = tree;
	const struct ap_node *a = &t->n[*(const uint16_t *)x];
	const struct ap_node *b = &t->n[*(const uint16_t *)y];
	if (a->frames != b->frames)
		return a->frames > b->frames ? -1 : 1;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	return strcmp(alayers_name(a->id), alayers_name(b->id));
}

/*
 * Appends the nodes below node in print order (depth first, sorted siblings) to order.
 * Iterative with an explicit stack of sibling lists, bounded by the node count.
 */
static size_t ap_order(const struct aproto *a, uint16_t *order)
{
	uint16_t *kids = malloc(APROTO_MAX_NODES * sizeof *kids);
	uint32_t *start = malloc(APROTO_MAX_NODES * sizeof *start); /* kid list of each node */
	uint32_t *count = malloc(APROTO_MAX_NODES * sizeof *count);
	uint16_t *stack = malloc(APROTO_MAX_NODES * sizeof *stack);
	size_t n = 0, k = 0, sp = 0;

	if (!kids || !start || !count || !stack)
		goto out;
	for (uint32_t i = 0; i < a->used; i++) {
		start[i] = (uint32_t)k;
		count[i] = 0;
		for (uint16_t c = a->n[i].first_child; c != AP_NIL; c = a->n[c].next_sibling)
			kids[k + count[i]++] = c;
		qsort_r(kids + k, count[i], sizeof *kids, ap_cmp, (void *)a);
		k += count[i];
	}
	/* push the root's children in reverse so the first comes out first */
	for (uint32_t j = count[0]; j-- > 0;)
		stack[sp++] = kids[start[0] + j];
	while (sp) {
		uint16_t c = stack[--sp];
		order[n++] = c;
		for (uint32_t j = count[c]; j-- > 0;)
			stack[sp++] = kids[start[c] + j];
	}
out:
	free(kids);
	free(start);
	free(count);
	free(stack);
	return n;
}

static void ap_path(const struct aproto *a, uint16_t node, char *buf, size_t len)
{
	uint16_t chain[256];
	size_t n = 0, off = 0;

	for (uint16_t c = node; c && c != AP_NIL && n < 256; c = a->n[c].parent)
		chain[n++] = c;
	buf[0] = 0;
	while (n-- > 0 && off < len) {
		int w = snprintf(buf + off, len - off, "%s%s", off ? "/" : "",
				 alayers_name(a->n[chain[n]].id));
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

static double ap_pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

void aproto_print(const aproto_t *a, FILE *out, int json)
{
	uint16_t *order = malloc(APROTO_MAX_NODES * sizeof *order);
	size_t n = order ? ap_order(a, order) : 0;
	uint64_t tf = a->n[0].frames, tb = a->n[0].bytes;
	char path[2048];

	if (json) {
		fprintf(out,
			"{\"frames\":%llu,\"bytes\":%llu,\"overflow_frames\":%llu,\"protocols\":[",
			(unsigned long long)tf, (unsigned long long)tb,
			(unsigned long long)a->overflow);
		for (size_t i = 0; i < n; i++) {
			const struct ap_node *d = &a->n[order[i]];
			ap_path(a, order[i], path, sizeof path);
			fprintf(out, "%s\n{\"path\":", i ? "," : "");
			aout_json_str(out, path);
			fprintf(out,
				",\"name\":\"%s\",\"depth\":%u,\"frames\":%llu,\"bytes\":%llu}",
				alayers_name(d->id), d->depth, (unsigned long long)d->frames,
				(unsigned long long)d->bytes);
		}
		fprintf(out, "%s]}\n", n ? "\n" : "");
		free(order);
		return;
	}
	static const char *const heads[] = {"PROTOCOL", "FRAMES", "%", "BYTES", "%"};
	static const int right[] = {0, 1, 1, 1, 1};
	aout_table_t *t = aout_table_new(5, heads, right);
	fprintf(out, "Protocol hierarchy: %llu frames, %llu bytes\n", (unsigned long long)tf,
		(unsigned long long)tb);
	for (size_t i = 0; t && i < n; i++) {
		const struct ap_node *d = &a->n[order[i]];
		char name[128], f[32], fp[16], b[32], bp[16];
		snprintf(name, sizeof name, "%*s%s", 2 * d->depth, "", alayers_name(d->id));
		snprintf(f, sizeof f, "%llu", (unsigned long long)d->frames);
		snprintf(fp, sizeof fp, "%.1f", ap_pct(d->frames, tf));
		snprintf(b, sizeof b, "%llu", (unsigned long long)d->bytes);
		snprintf(bp, sizeof bp, "%.1f", ap_pct(d->bytes, tb));
		const char *cells[] = {name, f, fp, b, bp};
		aout_table_add(t, cells);
	}
	if (t && n)
		aout_table_print(t, out, "");
	else if (!n)
		fprintf(out, "  (no frames)\n");
	if (a->overflow)
		fprintf(out, "(%llu frames only partly counted: more than %d distinct paths)\n",
			(unsigned long long)a->overflow, APROTO_MAX_NODES);
	aout_table_free(t);
	free(order);
}
