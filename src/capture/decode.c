/*
 * decode.c - see decode.h.
 *
 * DESIGN: one pass, left to right, no state. A link-layer decoder finds the network protocol and
 * the offset where it starts; ethertype dispatch peels VLAN tags, LLC/SNAP, PPPoE and MPLS; the
 * IPv4/IPv6 decoders check the fixed header once with ex_has() and then read its fields without
 * further checks; the transport decoder does the same for the few bytes it needs. Offsets only
 * grow after a successful bounds check, so base + off never points past the captured bytes.
 * Loops (VLAN tags, MPLS labels, IPv6 extension headers) have small fixed limits so that a hostile
 * frame costs no more than a normal one.
 *
 * Edge cases, decided here (decode.h gives the general rules):
 *  - ethertype is the type field after the VLAN tags as on the wire: 0x8864 for PPPoE and 0x8847
 *    for MPLS even when IP was found inside; the SNAP type for LLC/SNAP; 0 for plain LLC. Links
 *    without an ethertype (raw, NULL/LOOP, PPP, SLL with a non-ethertype protocol) report
 *    0x0800/0x86dd when they carry IP, else 0.
 *  - l3_off is also set for DEC_NONIP (where the network header, e.g. ARP, starts).
 *  - l4_off is where the upper-layer header starts (after IPv4 options / IPv6 extension headers)
 *    for any IP packet that is not a later fragment, even if that protocol is not decoded or its
 *    header was not captured; 0 for later fragments. Without PKT_F_L4, do not read there.
 *  - l4_payload: IP payload minus the transport header (TCP: data offset * 4, UDP 8, SCTP 12,
 *    ICMP/ICMPv6 8), clamped at 0. For later fragments and undecoded protocols it is the whole IP
 *    payload; with PKT_F_TRUNC_L4 it is 0.
 *  - PKT_F_TRUNC_L4 is set when the transport header does not fit in what was captured or in the
 *    IP payload length (a lying length is not worth dropping the packet from flow accounting).
 *    An IPv6 extension header cut by caplen also gives DEC_IP + PKT_F_TRUNC_L4, with proto the
 *    header that could not be read past. An extension header longer than the payload length
 *    is DEC_MALFORMED.
 *  - A TCP data offset below 5 is DEC_MALFORMED (ports read so far are kept, PKT_F_L4 is not set).
 *  - GSO / BIG TCP: an IPv4 total length of 0, or an IPv6 payload length of 0 (jumbogram), is
 *    taken from the frame's wire length, but only when that is longer than 64 KiB (as tcpdump
 *    does); on a normal-size frame IPv4 total length 0 stays DEC_MALFORMED.
 *  - IPv4 frag_id is the identification field of every IPv4 packet, fragmented or not.
 *  - More than DEC_MAX_VLAN tags or DEC_MAX_MPLS labels: DEC_NONIP. More than DEC_MAX_V6EXT
 *    extension headers: DEC_IP without PKT_F_L4, proto the extension header where the walk stopped.
 *  - Extra link types: DLT_PPP (9), DLT_PPP_SERIAL (50, with Cisco HDLC frames), DLT_C_HDLC (104).
 *    PPP protocols 0x0021/0x0057/0x0281 (IPv4/IPv6/MPLS), address/control and PFC handled.
 */
#include "capture/decode.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "capture/extract.h"

/* Link types, as libpcap on Linux numbers them (pcap/dlt.h), plus the BSD/LINKTYPE aliases. */
enum {
	DEC_DLT_NULL = 0,	 /* 4-byte address family in the capturing host's byte order */
	DEC_DLT_EN10MB = 1,	 /* Ethernet */
	DEC_DLT_PPP = 9,	 /* PPP, optional FF 03 address/control */
	DEC_DLT_RAW = 12,	 /* raw IPv4/IPv6 (Linux DLT_RAW) */
	DEC_DLT_RAW_BSD = 14,	 /* raw IPv4/IPv6 (DLT_RAW on some BSDs) */
	DEC_DLT_PPP_SERIAL = 50, /* PPP in HDLC framing, or Cisco HDLC */
	DEC_DLT_LT_RAW = 101,	 /* LINKTYPE_RAW as written in files */
	DEC_DLT_C_HDLC = 104,	 /* Cisco HDLC */
	DEC_DLT_LOOP = 108,	 /* 4-byte address family in network byte order */
	DEC_DLT_LINUX_SLL = 113, /* Linux cooked capture v1 */
	DEC_DLT_IPV4 = 228,	 /* raw IPv4 */
	DEC_DLT_IPV6 = 229,	 /* raw IPv6 */
	DEC_DLT_LINUX_SLL2 = 276 /* Linux cooked capture v2 */
};

enum {
	ET_IPV4 = 0x0800,
	ET_IPV6 = 0x86dd,
	ET_VLAN = 0x8100, /* 802.1Q */
	ET_QINQ = 0x88a8, /* 802.1ad */
	ET_QINQ_OLD = 0x9100,
	ET_PPPOE_SESS = 0x8864,
	ET_MPLS_UC = 0x8847,
	ET_MPLS_MC = 0x8848,
	ET_MIN_TYPE = 0x0600, /* values below are 802.3 lengths */
	ET_MAX_LEN = 1500,
	SLL_P_802_2 = 0x0004, /* Linux ETH_P_802_2: an LLC header follows */
};

enum {
	IPPROTO_HOPOPTS_ = 0,
	IPPROTO_ICMP_ = 1,
	IPPROTO_TCP_ = 6,
	IPPROTO_UDP_ = 17,
	IPPROTO_ROUTING_ = 43,
	IPPROTO_FRAGMENT_ = 44,
	IPPROTO_AH_ = 51,
	IPPROTO_ICMPV6_ = 58,
	IPPROTO_NONE_ = 59,
	IPPROTO_DSTOPTS_ = 60,
	IPPROTO_SCTP_ = 132
};

/* Limits of the loops; a frame past them is reported as described at each use. */
#define DEC_MAX_VLAN 4
#define DEC_MAX_MPLS 8
#define DEC_MAX_V6EXT 16
/* IP lengths of 0 mean "see the frame length" (GSO/BIG TCP) only for frames this long. */
#define DEC_MAX_IPLEN 65535u

/* Per-call context: the frame and the result being filled in. */
struct dec {
	const uint8_t *base;
	const uint8_t *end;
	uint32_t caplen;
	uint32_t wirelen;
	struct pkt_meta *m;
};

static int dec_ethertype(struct dec *d, uint32_t type, uint32_t off);

static inline const uint8_t *dec_at(const struct dec *d, uint32_t off)
{
	return d->base + off;
}

/* Bytes captured from off on (off never exceeds caplen). */
static inline uint32_t dec_left(const struct dec *d, uint32_t off)
{
	return d->caplen - off;
}

/* IP length a GSO/BIG TCP packet has on the wire when its length field is 0. */
static inline uint32_t dec_wire_left(const struct dec *d, uint32_t off)
{
	uint32_t len = d->wirelen > d->caplen ? d->wirelen : d->caplen;
	return len > off ? len - off : 0;
}

/*
 * Transport layer at off; plen is what the IP header says follows it (after IPv6 extension
 * headers). m->proto is set.
 */
static int dec_l4(struct dec *d, uint32_t off, uint32_t plen)
{
	struct pkt_meta *m = d->m;
	uint32_t hlen, have;
	const uint8_t *p;

	if (m->flags & PKT_F_FRAG_LATER) {
		m->l4_payload = plen;
		return DEC_IP;
	}
	m->l4_off = (uint16_t)off;
	switch (m->proto) {
	case IPPROTO_TCP_:
		hlen = 20;
		break;
	case IPPROTO_UDP_:
		hlen = 8;
		break;
	case IPPROTO_SCTP_:
		hlen = 12;
		break;
	case IPPROTO_ICMP_:
	case IPPROTO_ICMPV6_:
		hlen = 8;
		break;
	default:
		m->l4_payload = plen;
		return DEC_IP;
	}
	have = dec_left(d, off);
	if (have > plen)
		have = plen;
	if (have < hlen) {
		m->flags |= PKT_F_TRUNC_L4;
		return DEC_IP;
	}
	p = dec_at(d, off);
	if (m->proto == IPPROTO_ICMP_ || m->proto == IPPROTO_ICMPV6_) {
		m->sport = ex_get_u8(p);     /* type */
		m->dport = ex_get_u8(p + 1); /* code */
	} else {
		m->sport = ex_get_be16(p);
		m->dport = ex_get_be16(p + 2);
	}
	if (m->proto == IPPROTO_TCP_) {
		uint8_t doff = ex_get_u8(p + 12) >> 4;
		if (doff < 5)
			return DEC_MALFORMED;
		m->tcp_flags = ex_get_u8(p + 13);
		hlen = doff * 4u;
	}
	m->flags |= PKT_F_L4;
	m->l4_payload = plen > hlen ? plen - hlen : 0;
	return DEC_IP;
}

static int dec_ipv4(struct dec *d, uint32_t off)
{
	struct pkt_meta *m = d->m;
	const uint8_t *p = dec_at(d, off);
	uint32_t hlen, tot;
	uint16_t fo;

	m->l3_off = (uint16_t)off;
	if (!ex_has(p, d->end, 20) || ex_get_u8(p) >> 4 != 4)
		return DEC_MALFORMED;
	hlen = (ex_get_u8(p) & 0x0fu) * 4u;
	if (hlen < 20 || !ex_has(p, d->end, hlen))
		return DEC_MALFORMED;
	tot = ex_get_be16(p + 2);
	m->frag_id = ex_get_be16(p + 4);
	fo = ex_get_be16(p + 6);
	m->ttl = ex_get_u8(p + 8);
	m->proto = ex_get_u8(p + 9);
	memcpy(m->src, p + 12, 4);
	memcpy(m->dst, p + 16, 4);
	if (tot == 0 && dec_wire_left(d, off) > DEC_MAX_IPLEN)
		tot = dec_wire_left(d, off); /* TSO / BIG TCP: length is the frame's */
	if (tot < hlen)
		return DEC_MALFORMED;
	m->ip_len = tot;
	if (hlen > 20)
		m->flags |= PKT_F_IPOPT;
	m->frag_off = (uint16_t)((fo & 0x1fffu) << 3);
	if (fo & 0x3fffu) {
		m->flags |= PKT_F_FRAG;
		if (fo & 0x1fffu)
			m->flags |= PKT_F_FRAG_LATER;
	}
	m->ip_version = 4;
	return dec_l4(d, off + hlen, tot - hlen);
}

static int dec_ipv6(struct dec *d, uint32_t off)
{
	struct pkt_meta *m = d->m;
	const uint8_t *p = dec_at(d, off);
	uint32_t plen, hlen;
	uint8_t nh;
	int i;

	m->l3_off = (uint16_t)off;
	if (!ex_has(p, d->end, 40) || ex_get_u8(p) >> 4 != 6)
		return DEC_MALFORMED;
	plen = ex_get_be16(p + 4);
	nh = ex_get_u8(p + 6);
	m->ttl = ex_get_u8(p + 7);
	memcpy(m->src, p + 8, 16);
	memcpy(m->dst, p + 24, 16);
	/* jumbogram / BIG TCP: payload length 0, the real one is the frame's */
	if (plen == 0 && dec_wire_left(d, off) > DEC_MAX_IPLEN + 40)
		plen = dec_wire_left(d, off) - 40;
	m->ip_len = 40 + plen;
	m->ip_version = 6;
	off += 40;

	for (i = 0; i < DEC_MAX_V6EXT; i++) {
		if (nh != IPPROTO_HOPOPTS_ && nh != IPPROTO_ROUTING_ && nh != IPPROTO_FRAGMENT_ &&
		    nh != IPPROTO_DSTOPTS_ && nh != IPPROTO_AH_)
			break;
		m->flags |= PKT_F_IPOPT;
		p = dec_at(d, off);
		if (plen < 8)
			return DEC_MALFORMED;
		if (!ex_has(p, d->end, 8)) {
			m->proto = nh; /* the extension header we could not read */
			m->flags |= PKT_F_TRUNC_L4;
			return DEC_IP;
		}
		if (nh == IPPROTO_FRAGMENT_) {
			uint16_t fo = ex_get_be16(p + 2);
			hlen = 8;
			m->flags |= PKT_F_FRAG;
			m->frag_id = ex_get_be32(p + 4);
			m->frag_off = fo & 0xfff8u;
			if (m->frag_off)
				m->flags |= PKT_F_FRAG_LATER;
		} else if (nh == IPPROTO_AH_) {
			hlen = (ex_get_u8(p + 1) + 2u) * 4u;
		} else {
			hlen = (ex_get_u8(p + 1) + 1u) * 8u;
		}
		if (hlen > plen)
			return DEC_MALFORMED;
		nh = ex_get_u8(p);
		plen -= hlen;
		if (!ex_has(p, d->end, hlen)) {
			m->proto = nh; /* known, but its header is past the captured bytes */
			m->l4_off = (uint16_t)(off + hlen);
			m->flags |= PKT_F_TRUNC_L4;
			return DEC_IP;
		}
		off += hlen;
		if (m->flags & PKT_F_FRAG_LATER)
			break;
	}
	m->proto = nh;
	return dec_l4(d, off, plen);
}

/* 802.2 LLC at off: SNAP carries an ethertype, anything else is not IP. */
static int dec_llc(struct dec *d, uint32_t off)
{
	const uint8_t *p = dec_at(d, off);

	d->m->l3_off = (uint16_t)off;
	if (!ex_has(p, d->end, 3))
		return DEC_MALFORMED;
	if (ex_get_u8(p) != 0xaa || ex_get_u8(p + 1) != 0xaa || ex_get_u8(p + 2) != 0x03)
		return DEC_NONIP;
	if (!ex_has(p, d->end, 8))
		return DEC_MALFORMED;
	return dec_ethertype(d, ex_get_be16(p + 6), off + 8);
}

/* Ethernet-style type field at off - 2 with value type: VLAN tags, then LLC or an ethertype. */
static int dec_ether_payload(struct dec *d, uint32_t type, uint32_t off)
{
	struct pkt_meta *m = d->m;
	int i;

	for (i = 0; type == ET_VLAN || type == ET_QINQ || type == ET_QINQ_OLD; i++) {
		const uint8_t *p = dec_at(d, off);
		if (i == DEC_MAX_VLAN) {
			m->ethertype = (uint16_t)type; /* too deep to follow */
			m->l3_off = (uint16_t)off;
			return DEC_NONIP;
		}
		if (!ex_has(p, d->end, 4))
			return DEC_MALFORMED;
		if (i == 0) {
			m->flags |= PKT_F_VLAN;
			m->vlan = ex_get_be16(p) & 0x0fff;
		}
		type = ex_get_be16(p + 2);
		off += 4;
	}
	if (type < ET_MIN_TYPE) {
		if (type <= ET_MAX_LEN)
			return dec_llc(d, off);
		m->l3_off = (uint16_t)off;
		return DEC_NONIP;
	}
	return dec_ethertype(d, type, off);
}

/* PPP protocol number -> the ethertype it carries, 0 if none we decode. */
static uint32_t dec_ppp_ethertype(uint32_t proto)
{
	switch (proto) {
	case 0x0021:
		return ET_IPV4;
	case 0x0057:
		return ET_IPV6;
	case 0x0281:
		return ET_MPLS_UC;
	default:
		return 0;
	}
}

/* PPPoE session header (6 bytes) and the PPP protocol field (2 bytes). */
static int dec_pppoe(struct dec *d, uint32_t off)
{
	const uint8_t *p = dec_at(d, off);
	uint32_t type;

	d->m->l3_off = (uint16_t)off;
	if (!ex_has(p, d->end, 8))
		return DEC_MALFORMED;
	if (ex_get_u8(p) != 0x11 || ex_get_u8(p + 1) != 0x00)
		return DEC_NONIP;
	type = dec_ppp_ethertype(ex_get_be16(p + 6));
	if (type == ET_IPV4)
		return dec_ipv4(d, off + 8);
	if (type == ET_IPV6)
		return dec_ipv6(d, off + 8);
	return DEC_NONIP;
}

/* MPLS label stack; after the bottom label the IP version nibble tells v4 from v6. */
static int dec_mpls(struct dec *d, uint32_t off)
{
	const uint8_t *p;
	int i;

	d->m->l3_off = (uint16_t)off;
	for (i = 0;; i++) {
		p = dec_at(d, off);
		if (i == DEC_MAX_MPLS)
			return DEC_NONIP;
		if (!ex_has(p, d->end, 4))
			return DEC_MALFORMED;
		off += 4;
		if (ex_get_u8(p + 2) & 0x01)
			break;
	}
	p = dec_at(d, off);
	d->m->l3_off = (uint16_t)off;
	if (!ex_has(p, d->end, 1))
		return DEC_MALFORMED;
	switch (ex_get_u8(p) >> 4) {
	case 4:
		return dec_ipv4(d, off);
	case 6:
		return dec_ipv6(d, off);
	default:
		return DEC_NONIP;
	}
}

/* Network layer with ethertype type at off; m->ethertype is set to type. */
static int dec_ethertype(struct dec *d, uint32_t type, uint32_t off)
{
	d->m->ethertype = (uint16_t)type;
	switch (type) {
	case ET_IPV4:
		return dec_ipv4(d, off);
	case ET_IPV6:
		return dec_ipv6(d, off);
	case ET_PPPOE_SESS:
		return dec_pppoe(d, off);
	case ET_MPLS_UC:
	case ET_MPLS_MC:
		return dec_mpls(d, off);
	default:
		d->m->l3_off = (uint16_t)off;
		return DEC_NONIP;
	}
}

static int dec_en10mb(struct dec *d)
{
	if (d->caplen < 14)
		return DEC_MALFORMED;
	return dec_ether_payload(d, ex_get_be16(d->base + 12), 14);
}

/* Linux cooked v1/v2: the protocol is an ethertype, or 0x0004 for LLC, or another ETH_P_*. */
static int dec_sll_proto(struct dec *d, uint32_t proto, uint32_t off)
{
	if (proto >= ET_MIN_TYPE)
		return dec_ether_payload(d, proto, off);
	if (proto == SLL_P_802_2)
		return dec_llc(d, off);
	d->m->l3_off = (uint16_t)off;
	return DEC_NONIP;
}

static int dec_sll(struct dec *d)
{
	if (d->caplen < 16)
		return DEC_MALFORMED;
	return dec_sll_proto(d, ex_get_be16(d->base + 14), 16);
}

static int dec_sll2(struct dec *d)
{
	if (d->caplen < 20)
		return DEC_MALFORMED;
	return dec_sll_proto(d, ex_get_be16(d->base), 20);
}

/* Raw IP at off: the version nibble decides. */
static int dec_raw_at(struct dec *d, uint32_t off)
{
	const uint8_t *p = dec_at(d, off);

	d->m->l3_off = (uint16_t)off;
	if (!ex_has(p, d->end, 1))
		return DEC_MALFORMED;
	switch (ex_get_u8(p) >> 4) {
	case 4:
		d->m->ethertype = ET_IPV4;
		return dec_ipv4(d, off);
	case 6:
		d->m->ethertype = ET_IPV6;
		return dec_ipv6(d, off);
	default:
		return DEC_MALFORMED;
	}
}

/* BSD address families of IPv6 (Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, Darwin 30). */
static inline int dec_af_inet6(uint32_t af)
{
	return af == 10 || af == 24 || af == 28 || af == 30;
}

/* DLT_NULL (either byte order, the file may come from any host) and DLT_LOOP (network order). */
static int dec_null(struct dec *d, int network_order)
{
	uint32_t be, le;

	if (d->caplen < 4)
		return DEC_MALFORMED;
	be = ex_get_be32(d->base);
	le = network_order ? be : ex_get_le32(d->base);
	d->m->l3_off = 4;
	if (be == 2 || le == 2) {
		d->m->ethertype = ET_IPV4;
		return dec_ipv4(d, 4);
	}
	if (dec_af_inet6(be) || dec_af_inet6(le)) {
		d->m->ethertype = ET_IPV6;
		return dec_ipv6(d, 4);
	}
	return DEC_NONIP;
}

/* PPP: optional FF 03, then a 1-byte (compressed, odd) or 2-byte protocol. */
static int dec_ppp(struct dec *d)
{
	const uint8_t *p = d->base;
	uint32_t off = 0, proto, type;

	if (d->caplen >= 2 && ex_get_u8(p) == 0xff && ex_get_u8(p + 1) == 0x03)
		off = 2;
	if (!ex_has(p + off, d->end, 1))
		return DEC_MALFORMED;
	proto = ex_get_u8(p + off);
	if (proto & 1) {
		off += 1;
	} else {
		if (!ex_has(p + off, d->end, 2))
			return DEC_MALFORMED;
		proto = ex_get_be16(p + off);
		off += 2;
	}
	type = dec_ppp_ethertype(proto);
	if (type)
		return dec_ethertype(d, type, off);
	d->m->l3_off = (uint16_t)off;
	return DEC_NONIP;
}

/* Cisco HDLC: address (0x0f unicast, 0x8f broadcast), control, ethertype. */
static int dec_chdlc(struct dec *d)
{
	if (d->caplen < 4)
		return DEC_MALFORMED;
	return dec_ethertype(d, ex_get_be16(d->base + 2), 4);
}

static int dec_ppp_serial(struct dec *d)
{
	if (d->caplen >= 1 && (ex_get_u8(d->base) == 0x0f || ex_get_u8(d->base) == 0x8f))
		return dec_chdlc(d);
	return dec_ppp(d);
}

int decode_dlt_supported(int dlt)
{
	switch (dlt) {
	case DEC_DLT_NULL:
	case DEC_DLT_EN10MB:
	case DEC_DLT_PPP:
	case DEC_DLT_RAW:
	case DEC_DLT_RAW_BSD:
	case DEC_DLT_PPP_SERIAL:
	case DEC_DLT_LT_RAW:
	case DEC_DLT_C_HDLC:
	case DEC_DLT_LOOP:
	case DEC_DLT_LINUX_SLL:
	case DEC_DLT_IPV4:
	case DEC_DLT_IPV6:
	case DEC_DLT_LINUX_SLL2:
		return 1;
	default:
		return 0;
	}
}

int decode_packet(int dlt, const uint8_t *data, uint32_t caplen, uint32_t wirelen,
		  struct pkt_meta *m)
{
	static const uint8_t empty[1];
	struct dec d;
	int ret;

	*m = (struct pkt_meta){0};
	m->caplen = caplen;
	m->wirelen = wirelen;
	if (!data) {
		data = empty; /* no bytes: never offset a NULL pointer */
		caplen = 0;
	}
	d.base = data;
	d.end = data + caplen;
	d.caplen = caplen;
	d.wirelen = wirelen;
	d.m = m;

	switch (dlt) {
	case DEC_DLT_EN10MB:
		ret = dec_en10mb(&d);
		break;
	case DEC_DLT_LINUX_SLL:
		ret = dec_sll(&d);
		break;
	case DEC_DLT_LINUX_SLL2:
		ret = dec_sll2(&d);
		break;
	case DEC_DLT_RAW:
	case DEC_DLT_RAW_BSD:
	case DEC_DLT_LT_RAW:
		ret = dec_raw_at(&d, 0);
		break;
	case DEC_DLT_IPV4:
		m->ethertype = ET_IPV4;
		ret = dec_ipv4(&d, 0);
		break;
	case DEC_DLT_IPV6:
		m->ethertype = ET_IPV6;
		ret = dec_ipv6(&d, 0);
		break;
	case DEC_DLT_NULL:
		ret = dec_null(&d, 0);
		break;
	case DEC_DLT_LOOP:
		ret = dec_null(&d, 1);
		break;
	case DEC_DLT_PPP:
		ret = dec_ppp(&d);
		break;
	case DEC_DLT_PPP_SERIAL:
		ret = dec_ppp_serial(&d);
		break;
	case DEC_DLT_C_HDLC:
		ret = dec_chdlc(&d);
		break;
	default:
		return DEC_UNSUPPORTED;
	}
	if (ret != DEC_IP)
		m->ip_version = 0;
	return ret;
}

const char *decode_addr_str(int ip_version, const uint8_t addr[16], char *buf, unsigned len)
{
	int af = ip_version == 4 ? AF_INET : ip_version == 6 ? AF_INET6 : 0;

	if (!buf || !len)
		return buf;
	buf[0] = '\0';
	if (!af || !addr || !inet_ntop(af, addr, buf, (socklen_t)len)) {
		if (len >= 2) {
			buf[0] = '?';
			buf[1] = '\0';
		}
	}
	return buf;
}
