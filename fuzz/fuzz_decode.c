/*
 * fuzz_decode.c - libFuzzer target for decode_packet().
 *
 * Input format (also the format of fuzz/corpus/decode/): one selector byte, then the frame.
 *   selector & 0x7f, modulo the table size, picks the link type from fuzz_dlts[];
 *   selector & 0x80 makes the frame claim a wire length of 80000 bytes (GSO / BIG TCP paths),
 *   otherwise the wire length is the frame length.
 * Besides crashes and sanitizer reports it aborts when the result breaks a property every
 * decode must keep (see fuzz_check()).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Selector value -> link type. Keep the order: seed files depend on it. */
/* clang-format off */
static const int fuzz_dlts[] = {
	1,   /* 0 DLT_EN10MB */
	113, /* 1 DLT_LINUX_SLL */
	276, /* 2 DLT_LINUX_SLL2 */
	12,  /* 3 DLT_RAW (Linux) */
	14,  /* 4 DLT_RAW (BSD) */
	101, /* 5 LINKTYPE_RAW */
	228, /* 6 DLT_IPV4 */
	229, /* 7 DLT_IPV6 */
	0,   /* 8 DLT_NULL */
	108, /* 9 DLT_LOOP */
	9,   /* 10 DLT_PPP */
	50,  /* 11 DLT_PPP_SERIAL */
	104, /* 12 DLT_C_HDLC */
	105, /* 13 DLT_IEEE802_11: unsupported */
};
/* clang-format on */

#define FUZZ_NDLTS (sizeof(fuzz_dlts) / sizeof(fuzz_dlts[0]))

static void fuzz_check(int ret, const struct pkt_meta *m, uint32_t caplen, uint32_t wirelen)
{
	if (ret < DEC_IP || ret > DEC_UNSUPPORTED)
		abort();
	if (m->caplen != caplen || m->wirelen != wirelen)
		abort();
	if (ret == DEC_IP) {
		if (m->ip_version != 4 && m->ip_version != 6)
			abort();
		if ((uint32_t)m->l3_off + (m->ip_version == 4 ? 20u : 40u) > caplen)
			abort();
	} else if (m->ip_version != 0) {
		abort();
	}
	if (m->flags & PKT_F_L4) {
		if (m->flags & (PKT_F_TRUNC_L4 | PKT_F_FRAG_LATER))
			abort();
		if (m->l4_off <= m->l3_off || (uint32_t)m->l4_off + 8u > caplen)
			abort();
	}
	if ((m->flags & PKT_F_FRAG_LATER) && !(m->flags & PKT_F_FRAG))
		abort();
	if (m->l4_payload > m->ip_len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkt_meta m;
	char src[64], dst[64];
	uint32_t caplen, wirelen;
	int dlt, ret;

	if (size < 1)
		return 0;
	dlt = fuzz_dlts[(data[0] & 0x7f) % FUZZ_NDLTS];
	caplen = size - 1 > 262144 ? 262144 : (uint32_t)(size - 1);
	wirelen = data[0] & 0x80 ? 80000 : caplen;
	ret = decode_packet(dlt, caplen ? data + 1 : NULL, caplen, wirelen, &m);
	fuzz_check(ret, &m, caplen, wirelen);
	decode_addr_str(m.ip_version, m.src, src, sizeof src);
	decode_addr_str(m.ip_version, m.dst, dst, sizeof dst);
	if (!src[0] || !dst[0] || !memchr(src, '\0', sizeof src))
		abort();
	return 0;
}
