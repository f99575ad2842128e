/*
 * analyze_endpoints.c - see analyze.h (aendp).
 *
 * DESIGN: one ahash of addresses (IPv4 and IPv6, the version is part of the key) with four
 * counters each, counted as tshark's endpoints,ip and endpoints,ipv6 taps count: every IP layer
 * of a frame (tunnels too, but not the copy of a header quoted inside an ICMP error) adds the
 * frame length to its source's transmit and its destination's receive counters (an IPv6 fragment
 * with more to come is left out: tshark's IPv6 tap runs after reassembly). Addresses that
 * arrive after the table is full are added up per version in a row "other".
 */
#include <stdlib.h>
#include <string.h>

#include "analyze/analyze.h"

#define AE_KEYLEN 20 /* version, 16 address bytes, 3 bytes of zero padding */

struct ae_val {
	uint64_t tx_pkts, tx_bytes, rx_pkts, rx_bytes;
};

struct aendp {
	struct ahash h;
	struct ae_val other[2]; /* [0] IPv4, [1] IPv6: addresses that did not fit */
	uint64_t naddr[2];
	uint32_t max_entries;
};

aendp_t *aendp_new(uint32_t max_entries)
{
	struct aendp *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	if (ahash_init(&e->h, AE_KEYLEN, sizeof(struct ae_val), max_entries) != 0) {
		free(e);
		return NULL;
	}
	e->max_entries = max_entries;
	return e;
}

void aendp_free(aendp_t *e)
{
	if (!e)
		return;
	ahash_free(&e->h);
	free(e);
}

static struct ae_val *ae_get(struct aendp *e, uint8_t ver, const uint8_t addr[16])
{
	uint8_t key[AE_KEYLEN];
	int created;

	memset(key, 0, sizeof key);
	key[0] = ver;
	memcpy(key + 1, addr, ver == 4 ? 4 : 16);
	uint8_t *ent = ahash_get(&e->h, key, 1, &created);
	if (!ent)
		return &e->other[ver == 6];
	if (created)
		e->naddr[ver == 6]++;
	return (struct ae_val *)(void *)(ent + ahash_val_off(&e->h));
}

void aendp_add(aendp_t *e, const struct alayers *l, uint32_t wirelen)
{
	for (unsigned i = 0; i < l->nip; i++) {
		const struct alayers_ip *ip = &l->ip[i];
		if (ip->ver == 6 && ip->frag_more)
			continue;
		struct ae_val *v = ae_get(e, ip->ver, ip->src);
		v->tx_pkts++;
		v->tx_bytes += wirelen;
		v = ae_get(e, ip->ver, ip->dst);
		v->rx_pkts++;
		v->rx_bytes += wirelen;
	}
}

struct ae_sort {
	enum aendp_sort by;
};

static int ae_cmp(const void *x, const void *y, void *arg)
{
	const struct aendp_row *a = x, *b = y;
	const struct ae_sort *s = arg;
	uint64_t ap = a->tx_pkts + a->rx_pkts, bp = b->tx_pkts + b->rx_pkts;
	uint64_t ab = a->tx_bytes + a->rx_bytes, bb = b->tx_bytes + b->rx_bytes;
	uint64_t a1 = s->by == AENDP_BY_BYTES ? ab : ap, b1 = s->by == AENDP_BY_BYTES ? bb : bp;
	uint64_t a2 = s->by == AENDP_BY_BYTES ? ap : ab, b2 = s->by == AENDP_BY_BYTES ? bp : bb;

	if (a1 != b1)
		return a1 > b1 ? -1 : 1;
	if (a2 != b2)
		return a2 > b2 ? -1 : 1;
	return memcmp(a->addr, b->addr, 16);
}

size_t aendp_top(const aendp_t *e, int ver, enum aendp_sort by, struct aendp_row *rows, size_t n)
{
	size_t total = e->naddr[ver == 6], k = 0;
	struct aendp_row *all;
	struct ae_sort s = {by};

	if (!n || !total)
		return 0;
	all = malloc(total * sizeof *all);
	if (!all)
		return 0;
	for (uint32_t i = 0; i < e->h.nslots && k < total; i++) {
		const uint8_t *ent = ahash_slot(&e->h, i);
		if (!ent || ent[0] != ver)
			continue;
		const struct ae_val *v = (const void *)(ent + ahash_val_off(&e->h));
		all[k].ver = (uint8_t)ver;
		memcpy(all[k].addr, ent + 1, 16);
		all[k].tx_pkts = v->tx_pkts;
		all[k].tx_bytes = v->tx_bytes;
		all[k].rx_pkts = v->rx_pkts;
		all[k].rx_bytes = v->rx_bytes;
		k++;
	}
	qsort_r(all, k, sizeof *all, ae_cmp, &s);
	if (n > k)
		n = k;
	memcpy(rows, all, n * sizeof *rows);
	free(all);
	return n;
}

static void ae_json_row(FILE *out, const char *addr, const struct ae_val *v)
{
	fprintf(out, "{\"address\":");
	if (addr)
		aout_json_str(out, addr);
	else
		fputs("null", out);
	fprintf(out,
		",\"packets\":%llu,\"bytes\":%llu,\"tx_packets\":%llu,\"tx_bytes\":%llu,"
		"\"rx_packets\":%llu,\"rx_bytes\":%llu}",
		(unsigned long long)(v->tx_pkts + v->rx_pkts),
		(unsigned long long)(v->tx_bytes + v->rx_bytes), (unsigned long long)v->tx_pkts,
		(unsigned long long)v->tx_bytes, (unsigned long long)v->rx_pkts,
		(unsigned long long)v->rx_bytes);
}

static void ae_text_row(aout_table_t *t, const char *addr, const struct ae_val *v)
{
	char c[6][24];
	snprintf(c[0], sizeof c[0], "%llu", (unsigned long long)(v->tx_pkts + v->rx_pkts));
	snprintf(c[1], sizeof c[1], "%llu", (unsigned long long)(v->tx_bytes + v->rx_bytes));
	snprintf(c[2], sizeof c[2], "%llu", (unsigned long long)v->tx_pkts);
	snprintf(c[3], sizeof c[3], "%llu", (unsigned long long)v->tx_bytes);
	snprintf(c[4], sizeof c[4], "%llu", (unsigned long long)v->rx_pkts);
	snprintf(c[5], sizeof c[5], "%llu", (unsigned long long)v->rx_bytes);
	const char *cells[] = {addr, c[0], c[1], c[2], c[3], c[4], c[5]};
	aout_table_add(t, cells);
}

void aendp_print(const aendp_t *e, FILE *out, int json, size_t n, enum aendp_sort by)
{
	static const char *const heads[] = {"ADDRESS",	"PACKETS",    "BYTES",	 "TX PACKETS",
					    "TX BYTES", "RX PACKETS", "RX BYTES"};
	static const int right[] = {0, 1, 1, 1, 1, 1, 1};
	struct aendp_row *rows = n ? calloc(n, sizeof *rows) : NULL;
	const char *byname = by == AENDP_BY_BYTES ? "bytes" : "packets";

	if (json)
		fprintf(out, "{\"sort\":\"%s\",\"top\":%zu", byname, n);
	for (int vi = 0; vi < 2; vi++) {
		int ver = vi ? 6 : 4;
		size_t k = rows ? aendp_top(e, ver, by, rows, n) : 0;
		const struct ae_val *other = &e->other[vi];
		int has_other = other->tx_pkts || other->rx_pkts;
		char addr[64];

		if (json) {
			fprintf(out, ",\"ipv%d\":{\"addresses\":%llu,\"rows\":[", ver,
				(unsigned long long)e->naddr[vi]);
			for (size_t i = 0; i < k; i++) {
				struct ae_val v = {rows[i].tx_pkts, rows[i].tx_bytes,
						   rows[i].rx_pkts, rows[i].rx_bytes};
				fputs(i ? ",\n" : "\n", out);
				ae_json_row(out, aout_addr(ver, rows[i].addr, addr, sizeof addr),
					    &v);
			}
			fputs("],\"other\":", out);
			if (has_other)
				ae_json_row(out, NULL, other);
			else
				fputs("null", out);
			fputs("}", out);
			continue;
		}
		fprintf(out, "%sIPv%d endpoints: %llu addresses", vi ? "\n" : "", ver,
			(unsigned long long)e->naddr[vi]);
		if (e->naddr[vi] > k)
			fprintf(out, " (top %zu by %s)", k, byname);
		fputc('\n', out);
		if (!k && !has_other)
			continue;
		aout_table_t *t = aout_table_new(7, heads, right);
		if (!t)
			continue;
		for (size_t i = 0; i < k; i++) {
			struct ae_val v = {rows[i].tx_pkts, rows[i].tx_bytes, rows[i].rx_pkts,
					   rows[i].rx_bytes};
			ae_text_row(t, aout_addr(ver, rows[i].addr, addr, sizeof addr), &v);
		}
		if (has_other)
			ae_text_row(t, "(other: table full)", other);
		aout_table_print(t, out, "");
		aout_table_free(t);
	}
	if (json)
		fputs("}\n", out);
	free(rows);
}
