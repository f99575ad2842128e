/*
 * test_analyze.c - unit tests of the analyze modules: hash table caps, protocol paths of
 * hand-built frames (table), hierarchy and endpoint counting, the suspicious-traffic rules on
 * synthetic traffic, output helpers, and the byte offset of a damaged file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze/analyze.h"
#include "testhelp.h"

/* --- frame builders --- */

struct fb {
	uint8_t b[2048];
	uint32_t n;
};

static void put(struct fb *f, const void *p, uint32_t n)
{
	memcpy(f->b + f->n, p, n);
	f->n += n;
}

static void put16(struct fb *f, unsigned v)
{
	uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	put(f, x, 2);
}

static void put8(struct fb *f, unsigned v)
{
	uint8_t x = (uint8_t)v;
	put(f, &x, 1);
}

static void eth(struct fb *f, unsigned type)
{
	static const uint8_t macs[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
	put(f, macs, 12);
	put16(f, type);
}

/* IPv4 header for a payload of plen bytes; fo: flags/fragment field. */
static void ip4(struct fb *f, unsigned proto, const uint8_t src[4], const uint8_t dst[4],
		unsigned plen, unsigned id, unsigned fo)
{
	put8(f, 0x45);
	put8(f, 0);
	put16(f, 20 + plen);
	put16(f, id);
	put16(f, fo);
	put8(f, 64);
	put8(f, proto);
	put16(f, 0);
	put(f, src, 4);
	put(f, dst, 4);
}

static void ip6(struct fb *f, unsigned nh, unsigned plen)
{
	static const uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	static const uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
	put8(f, 0x60);
	put8(f, 0);
	put16(f, 0);
	put16(f, plen);
	put8(f, nh);
	put8(f, 64);
	put(f, a, 16);
	put(f, b, 16);
}

static void udp(struct fb *f, unsigned sport, unsigned dport, unsigned plen)
{
	put16(f, sport);
	put16(f, dport);
	put16(f, 8 + plen);
	put16(f, 0);
	for (unsigned i = 0; i < plen; i++)
		put8(f, i);
}

static void tcp(struct fb *f, unsigned sport, unsigned dport, unsigned flags, unsigned plen)
{
	put16(f, sport);
	put16(f, dport);
	put16(f, 0);
	put16(f, 1);
	put16(f, 0);
	put16(f, 0);
	put8(f, 0x50);
	put8(f, flags);
	put16(f, 1000);
	put16(f, 0);
	put16(f, 0);
	for (unsigned i = 0; i < plen; i++)
		put8(f, 'a');
}

static const uint8_t A[4] = {10, 0, 0, 1}, B[4] = {10, 0, 0, 2}, C[4] = {192, 0, 2, 9};

static void path_str(const struct alayers *l, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = 0;
	for (unsigned i = 0; i < l->npath && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "/" : "",
				      alayers_name(l->path[i]));
}

/* --- frames of the path table --- */

static void f_http(struct fb *f)
{
	eth(f, 0x0800);
	ip4(f, 6, A, B, 20 + 10, 1, 0);
	tcp(f, 40000, 80, 0x18, 10);
}

static void f_tcp_ack(struct fb *f)
{
	eth(f, 0x0800);
	ip4(f, 6, A, B, 20, 1, 0);
	tcp(f, 40000, 80, 0x10, 0);
}

static void f_qinq_dns(struct fb *f)
{
	eth(f, 0x8100);
	put16(f, 10);
	put16(f, 0x8100);
	put16(f, 20);
	put16(f, 0x0800);
	ip4(f, 17, A, B, 8 + 12, 1, 0);
	udp(f, 5353 + 1, 53, 12);
}

static void f_dot1ad(struct fb *f)
{
	eth(f, 0x88a8);
	put16(f, 10);
	put16(f, 0x8100);
	put16(f, 20);
	put16(f, 0x0800);
	ip4(f, 1, A, B, 8, 1, 0);
	put8(f, 8);
	put8(f, 0);
	put16(f, 0);
	put16(f, 0);
	put16(f, 0);
}

static void f_arp(struct fb *f)
{
	eth(f, 0x0806);
	for (int i = 0; i < 28; i++)
		put8(f, 0);
}

static void f_stp(struct fb *f)
{
	eth(f, 38);
	put8(f, 0x42);
	put8(f, 0x42);
	put8(f, 3);
	for (int i = 0; i < 35; i++)
		put8(f, 0);
}

static void f_pppoe(struct fb *f)
{
	eth(f, 0x8864);
	put8(f, 0x11);
	put8(f, 0);
	put16(f, 1);
	put16(f, 2 + 20 + 8);
	put16(f, 0x0021);
	ip4(f, 17, A, B, 8, 1, 0);
	udp(f, 1000, 2000, 0);
}

static void f_mpls(struct fb *f)
{
	eth(f, 0x8847);
	put16(f, 0x0001);
	put16(f, 0x00ff); /* label 16, not bottom */
	put16(f, 0x0002);
	put16(f, 0x01ff); /* bottom of stack */
	ip4(f, 1, A, B, 8, 1, 0);
	for (int i = 0; i < 8; i++)
		put8(f, i == 0 ? 8 : 0);
}

static void f_ipip(struct fb *f)
{
	eth(f, 0x0800);
	ip4(f, 4, A, B, 20 + 8, 1, 0);
	ip4(f, 1, C, A, 8, 2, 0);
	for (int i = 0; i < 8; i++)
		put8(f, i == 0 ? 8 : 0);
}

static void f_gre(struct fb *f)
{
	eth(f, 0x0800);
	ip4(f, 47, A, B, 4 + 20 + 8 + 4, 1, 0);
	put16(f, 0);
	put16(f, 0x0800);
	ip4(f, 17, C, A, 8 + 4, 2, 0);
	udp(f, 53, 33000, 4);
}

static void f_raw6(struct fb *f)
{
	ip6(f, 17, 8 + 4);
	udp(f, 40000, 123, 4);
}

static void f_trunc(struct fb *f)
{
	eth(f, 0x0800);
	put8(f, 0x45);
}

static void f_low_port_first(struct fb *f)
{
	eth(f, 0x0800);
	ip4(f, 17, A, B, 8 + 4, 1, 0);
	udp(f, 1900, 53, 4); /* 53 is lower: dns, as tshark tries the lower port first */
}

static void f_vxlan(struct fb *f)
{
	eth(f, 0x0800);
	ip4(f, 17, A, B, 8 + 8 + 14 + 20 + 8, 1, 0);
	udp(f, 50000, 4789, 0);
	put16(f, 0x0800);
	put16(f, 0);
	put16(f, 0);
	put16(f, 0x0100);
	eth(f, 0x0800);
	ip4(f, 1, C, A, 8, 2, 0);
	for (int i = 0; i < 8; i++)
		put8(f, i == 0 ? 8 : 0);
}

static const struct {
	const char *name;
	int dlt;
	void (*build)(struct fb *f);
	const char *path;
	unsigned nip;
} path_cases[] = {
    {"http", 1, f_http, "eth/ip/tcp/http", 1},
    {"tcp-ack", 1, f_tcp_ack, "eth/ip/tcp", 1},
    {"qinq-dns", 1, f_qinq_dns, "eth/vlan/vlan/ip/udp/dns", 1},
    {"dot1ad", 1, f_dot1ad, "eth/ieee8021ad/vlan/ip/icmp", 1},
    {"arp", 1, f_arp, "eth/arp", 0},
    {"stp", 1, f_stp, "eth/llc/stp", 0},
    {"pppoe", 1, f_pppoe, "eth/pppoes/ppp/ip/udp", 1},
    {"mpls", 1, f_mpls, "eth/mpls/mpls/ip/icmp", 1},
    {"ipip", 1, f_ipip, "eth/ip/ip/icmp", 2},
    {"gre", 1, f_gre, "eth/ip/gre/ip/udp/dns", 2},
    {"raw6", 12, f_raw6, "raw/ipv6/udp/ntp", 1},
    {"ipv6-link", 229, f_raw6, "ipv6/udp/ntp", 1},
    {"truncated", 1, f_trunc, "eth/ip", 0},
    {"low-port-first", 1, f_low_port_first, "eth/ip/udp/dns", 1},
    {"vxlan", 1, f_vxlan, "eth/ip/udp/vxlan/eth/ip/icmp", 2},
    {"unknown-link", 147, f_http, "unknown-link", 0},
};

static void test_paths(void)
{
	alayers_ctx_t *c = alayers_new();
	CHECK(c != NULL);
	for (size_t i = 0; c && i < sizeof path_cases / sizeof path_cases[0]; i++) {
		struct fb f = {.n = 0};
		struct alayers l;
		char got[256];
		path_cases[i].build(&f);
		alayers_decode(c, path_cases[i].dlt, f.b, f.n, f.n, &l);
		path_str(&l, got, sizeof got);
		if (strcmp(got, path_cases[i].path) != 0 || l.nip != path_cases[i].nip)
			printf("  case %s: got %s (%u IP layers)\n", path_cases[i].name, got,
			       l.nip);
		CHECK_EQ_STR(got, path_cases[i].path);
		CHECK_EQ_INT(l.nip, path_cases[i].nip);
	}
	alayers_free(c);
}

/* A datagram in two fragments: the first is "data", the last carries udp/dns (tshark's view). */
static void test_fragments(void)
{
	alayers_ctx_t *c = alayers_new();
	struct fb f1 = {.n = 0}, f2 = {.n = 0};
	struct alayers l;
	char got[256];

	eth(&f1, 0x0800);
	ip4(&f1, 17, A, B, 16, 77, 0x2000); /* MF, offset 0: UDP header + 8 bytes */
	udp(&f1, 33000, 53, 8);
	eth(&f2, 0x0800);
	ip4(&f2, 17, A, B, 8, 77, 2); /* offset 16 bytes, last */
	for (int i = 0; i < 8; i++)
		put8(&f2, i);
	alayers_decode(c, 1, f1.b, f1.n, f1.n, &l);
	path_str(&l, got, sizeof got);
	CHECK_EQ_STR(got, "eth/ip/data");
	CHECK_EQ_INT(l.ip[0].frag_more, 1);
	alayers_decode(c, 1, f2.b, f2.n, f2.n, &l);
	path_str(&l, got, sizeof got);
	CHECK_EQ_STR(got, "eth/ip/udp/dns");
	CHECK_EQ_INT(l.ip[0].frag_more, 0);
	/* a last fragment whose first was not seen: the transport only */
	alayers_decode(c, 1, f2.b, f2.n, f2.n, &l);
	path_str(&l, got, sizeof got);
	CHECK_EQ_STR(got, "eth/ip/udp");
	alayers_free(c);
}

static void test_hash_cap(void)
{
	struct ahash h;
	int created;
	CHECK_EQ_INT(ahash_init(&h, 4, 8, 1000), 0);
	for (uint32_t i = 0; i < 1500; i++) {
		uint64_t *v = (void *)ahash_get(&h, &i, 1, &created);
		if (i < 1000) {
			CHECK(v != NULL && created);
			if (v)
				v[ahash_val_off(&h) / 8] = i * 3;
		} else {
			CHECK(v == NULL);
		}
	}
	CHECK_EQ_INT(h.used, 1000);
	CHECK_EQ_INT(h.refused, 500);
	int bad = 0;
	for (uint32_t i = 0; i < 1000; i++) {
		uint64_t *v = (void *)ahash_get(&h, &i, 0, NULL);
		if (!v || v[ahash_val_off(&h) / 8] != i * 3)
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	uint32_t k = 5000;
	CHECK(ahash_get(&h, &k, 0, NULL) == NULL);
	ahash_free(&h);
	ahash_free(&h); /* twice is fine */
}

static void decode_into(alayers_ctx_t *c, struct fb *f, struct alayers *l)
{
	alayers_decode(c, 1, f->b, f->n, f->n, l);
}

static void test_proto_tree(void)
{
	alayers_ctx_t *c = alayers_new();
	aproto_t *a = aproto_new();
	struct alayers l;
	uint64_t fr, by;

	for (int i = 0; i < 3; i++) {
		struct fb f = {.n = 0};
		f_http(&f);
		decode_into(c, &f, &l);
		aproto_add(a, &l, 100);
	}
	struct fb f = {.n = 0};
	f_qinq_dns(&f);
	decode_into(c, &f, &l);
	aproto_add(a, &l, 50);
	aproto_lookup(a, "eth", &fr, &by);
	CHECK_EQ_INT(fr, 4);
	CHECK_EQ_INT(by, 350);
	aproto_lookup(a, "eth/ip/tcp/http", &fr, &by);
	CHECK_EQ_INT(fr, 3);
	CHECK_EQ_INT(by, 300);
	aproto_lookup(a, "eth/vlan/vlan/ip/udp/dns", &fr, &by);
	CHECK_EQ_INT(fr, 1);
	aproto_lookup(a, "eth/ip/udp", &fr, &by);
	CHECK_EQ_INT(fr, 0);
	aproto_free(a);
	alayers_free(c);
}

static void test_endpoints(void)
{
	alayers_ctx_t *c = alayers_new();
	aendp_t *e = aendp_new(2);
	struct alayers l;
	struct aendp_row rows[4];
	struct fb f = {.n = 0};

	f_http(&f); /* A -> B */
	decode_into(c, &f, &l);
	aendp_add(e, &l, 100);
	aendp_add(e, &l, 100);
	f.n = 0;
	f_ipip(&f); /* A -> B outside, C -> A inside; C does not fit (cap 2) */
	decode_into(c, &f, &l);
	aendp_add(e, &l, 60);
	size_t n = aendp_top(e, 4, AENDP_BY_PACKETS, rows, 4);
	CHECK_EQ_INT(n, 2);
	CHECK(memcmp(rows[0].addr, A, 4) == 0); /* 4 packets: 3 sent, 1 received */
	CHECK_EQ_INT(rows[0].tx_pkts, 3);
	CHECK_EQ_INT(rows[0].rx_pkts, 1);
	CHECK_EQ_INT(rows[0].tx_bytes, 260);
	CHECK(memcmp(rows[1].addr, B, 4) == 0);
	CHECK_EQ_INT(rows[1].rx_pkts, 3);
	CHECK_EQ_INT(rows[1].rx_bytes, 260);
	n = aendp_top(e, 6, AENDP_BY_BYTES, rows, 4);
	CHECK_EQ_INT(n, 0);
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	aendp_print(e, m, 1, 10, AENDP_BY_PACKETS);
	fclose(m);
	CHECK(buf && strstr(buf, "\"other\":{\"address\":null,\"packets\":1,"));
	free(buf);
	aendp_free(e);
	alayers_free(c);
}

/* --- suspicious --- */

static void feed(asusp_t *s, alayers_ctx_t *c, struct fb *f, int64_t ts)
{
	struct apkt p = {.ts_ns = ts, .caplen = f->n, .wirelen = f->n, .data = f->b, .dlt = 1};
	struct alayers l;
	alayers_decode(c, 1, f->b, f->n, f->n, &l);
	asusp_add(s, &p, &l);
}

static void tcp_pkt(struct fb *f, const uint8_t *src, const uint8_t *dst, unsigned sp, unsigned dp,
		    unsigned flags)
{
	f->n = 0;
	eth(f, 0x0800);
	ip4(f, 6, src, dst, 20, 1, 0);
	tcp(f, sp, dp, flags, 0);
}

static void types_of(asusp_t *s, enum asusp_severity min, char *buf, size_t len)
{
	asusp_finish(s);
	asusp_types(s, min, buf, len);
}

static void test_syn_flood_vs_scan(void)
{
	alayers_ctx_t *c = alayers_new();
	asusp_t *flood = asusp_new(), *scan = asusp_new(), *ok = asusp_new();
	struct fb f;
	char t[256];

	for (unsigned i = 0; i < 300; i++) {
		uint8_t src[4] = {198, 51, (uint8_t)(i >> 8), (uint8_t)i};
		tcp_pkt(&f, src, B, 1024 + i, 443, 0x02);
		feed(flood, c, &f, 1000000000LL + i * 1000000LL);
		tcp_pkt(&f, A, B, 40000, 1 + i, 0x02); /* one source port, 300 ports */
		feed(scan, c, &f, 1000000000LL + i * 1000000LL);
		/* complete handshakes: not a flood */
		tcp_pkt(&f, A, B, 20000 + i, 443, 0x02);
		feed(ok, c, &f, 1000000000LL + i * 1000000LL);
		tcp_pkt(&f, B, A, 443, 20000 + i, 0x12);
		feed(ok, c, &f, 1000000000LL + i * 1000000LL + 1000);
		tcp_pkt(&f, A, B, 20000 + i, 443, 0x10);
		feed(ok, c, &f, 1000000000LL + i * 1000000LL + 2000);
	}
	types_of(flood, ASUSP_MEDIUM, t, sizeof t);
	CHECK_EQ_STR(t, "syn-flood");
	types_of(scan, ASUSP_MEDIUM, t, sizeof t);
	CHECK_EQ_STR(t, "vertical-scan");
	types_of(ok, ASUSP_LOW, t, sizeof t);
	CHECK_EQ_STR(t, "");

	/* -w: the SYNs of the flood match, an ACK to the same host does not */
	struct apkt p = {.ts_ns = 1000000000LL + 5 * 1000000LL, .dlt = 1};
	struct alayers l;
	uint8_t src[4] = {198, 51, 0, 5};
	tcp_pkt(&f, src, B, 1029, 443, 0x02);
	p.data = f.b;
	p.caplen = p.wirelen = f.n;
	alayers_decode(c, 1, f.b, f.n, f.n, &l);
	CHECK(asusp_match(flood, &p, &l, ASUSP_INFO));
	tcp_pkt(&f, src, B, 1029, 443, 0x10);
	alayers_decode(c, 1, f.b, f.n, f.n, &l);
	CHECK(!asusp_match(flood, &p, &l, ASUSP_INFO));
	asusp_free(flood);
	asusp_free(scan);
	asusp_free(ok);
	alayers_free(c);
}

static void test_amplification(void)
{
	alayers_ctx_t *c = alayers_new();
	asusp_t *s = asusp_new(), *normal = asusp_new();
	struct fb f;
	char t[256];

	for (unsigned i = 0; i < 200; i++) {
		uint8_t refl[4] = {203, 0, 113, (uint8_t)(i % 40)};
		f.n = 0;
		eth(&f, 0x0800);
		ip4(&f, 17, refl, C, 8 + 600, 1, 0);
		udp(&f, 53, 8000 + i, 600);
		feed(s, c, &f, 2000000000LL + i * 100000LL);
		/* a client's own lookups: query, then answer */
		f.n = 0;
		eth(&f, 0x0800);
		ip4(&f, 17, A, B, 8 + 30, 1, 0);
		udp(&f, 30000 + i, 53, 30);
		feed(normal, c, &f, 2000000000LL + i * 100000LL);
		f.n = 0;
		eth(&f, 0x0800);
		ip4(&f, 17, B, A, 8 + 100, 1, 0);
		udp(&f, 53, 30000 + i, 100);
		feed(normal, c, &f, 2000000000LL + i * 100000LL + 5000);
	}
	types_of(s, ASUSP_HIGH, t, sizeof t);
	CHECK_EQ_STR(t, "amplification");
	types_of(normal, ASUSP_LOW, t, sizeof t);
	CHECK_EQ_STR(t, "");
	asusp_free(s);
	asusp_free(normal);
	alayers_free(c);
}

static void test_icmp_sweep_and_flood(void)
{
	alayers_ctx_t *c = alayers_new();
	asusp_t *sweep = asusp_new(), *flood = asusp_new();
	struct fb f;
	char t[256];

	for (unsigned i = 0; i < 1200; i++) {
		uint8_t dst[4] = {10, 1, (uint8_t)(i / 250), (uint8_t)(i % 250)};
		f.n = 0;
		eth(&f, 0x0800);
		ip4(&f, 1, A, dst, 8, 1, 0);
		for (int k = 0; k < 8; k++)
			put8(&f, k == 0 ? 8 : 0);
		if (i < 100)
			feed(sweep, c, &f, 3000000000LL + i * 10000000LL);
		f.n = 0;
		eth(&f, 0x0800);
		ip4(&f, 1, dst, B, 8, 1, 0);
		for (int k = 0; k < 8; k++)
			put8(&f, k == 0 ? 8 : 0);
		feed(flood, c, &f, 3000000000LL + i * 500000LL); /* 2000/s */
	}
	types_of(sweep, ASUSP_MEDIUM, t, sizeof t);
	CHECK_EQ_STR(t, "horizontal-scan");
	types_of(flood, ASUSP_HIGH, t, sizeof t);
	CHECK_EQ_STR(t, "icmp-flood");
	asusp_free(sweep);
	asusp_free(flood);
	alayers_free(c);
}

static void test_out(void)
{
	char b[32];
	CHECK_EQ_STR(aout_bytes(999, b, sizeof b), "999 B");
	CHECK_EQ_STR(aout_bytes(1000, b, sizeof b), "1.0 kB");
	CHECK_EQ_STR(aout_bytes(999999, b, sizeof b), "1.0 MB");
	CHECK_EQ_STR(aout_bytes(642103355, b, sizeof b), "642.1 MB");
	CHECK_EQ_STR(aout_time(0, b, sizeof b), "1970-01-01T00:00:00.000000Z");

	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	aout_json_str(m, "a\"b\\c\n\xff\xc3\xa9");
	fclose(m);
	CHECK_EQ_STR(buf, "\"a\\\"b\\\\c\\u000a\\ufffd\xc3\xa9\"");
	free(buf);

	static const char *const heads[] = {"NAME", "N"};
	static const int right[] = {0, 1};
	aout_table_t *t = aout_table_new(2, heads, right);
	const char *r1[] = {"caf\xc3\xa9", "5"}, *r2[] = {"x", "100"};
	aout_table_add(t, r1);
	aout_table_add(t, r2);
	buf = NULL;
	m = open_memstream(&buf, &len);
	aout_table_print(t, m, "");
	fclose(m);
	CHECK_EQ_STR(buf, "NAME    N\ncaf\xc3\xa9    5\nx     100\n");
	free(buf);
	aout_table_free(t);
}

/* A classic pcap with two packets and a third cut short: the offset is where the third starts. */
static void test_damaged_offset(void)
{
	char path[] = "/tmp/test_analyze_XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	uint8_t hdr[24] = {0xd4, 0xc3, 0xb2, 0xa1, 2,	 0,    4, 0, 0, 0, 0, 0,
			   0,	 0,    0,    0,	   0xff, 0xff, 0, 0, 1, 0, 0, 0};
	uint8_t rec[16 + 60] = {1, 0, 0, 0, 0, 0, 0, 0, 60, 0, 0, 0, 60, 0, 0, 0};
	CHECK(write(fd, hdr, sizeof hdr) == (ssize_t)sizeof hdr);
	CHECK(write(fd, rec, sizeof rec) == (ssize_t)sizeof rec);
	CHECK(write(fd, rec, sizeof rec) == (ssize_t)sizeof rec);
	CHECK(write(fd, rec, 30) == 30); /* header and 14 of 60 bytes */
	close(fd);

	char err[512];
	afile_t *f = afile_open(path, err, sizeof err);
	CHECK(f != NULL);
	if (f) {
		struct apkt p;
		CHECK_EQ_INT(afile_next(f, &p, err, sizeof err), 1);
		CHECK_EQ_INT(p.ts_ns, 1000000000LL);
		CHECK_EQ_INT(afile_next(f, &p, err, sizeof err), 1);
		CHECK_EQ_INT(afile_next(f, &p, err, sizeof err), -1);
		char want[256];
		snprintf(want, sizeof want, "%s: damaged at byte 176: ", path);
		CHECK(strncmp(err, want, strlen(want)) == 0);
		CHECK(strstr(err, "; the 2 packets before it were analysed") != NULL);
		afile_close(f);
	}
	unlink(path);
	CHECK(afile_open(path, err, sizeof err) == NULL);
	CHECK(strstr(err, "cannot read at byte 0") != NULL);
}

int main(void)
{
	th_suite = "unit/test_analyze";
	RUN(test_paths);
	RUN(test_fragments);
	RUN(test_hash_cap);
	RUN(test_proto_tree);
	RUN(test_endpoints);
	RUN(test_syn_flood_vs_scan);
	RUN(test_amplification);
	RUN(test_icmp_sweep_and_flood);
	RUN(test_out);
	RUN(test_damaged_offset);
	printf("%d passed, %d failed\n", th_passed, th_failed);
	return test_main_end();
}
