/*
 * analyze_layers.c - see analyze.h (alayers).
 *
 * DESIGN: decode_packet() finds the outermost IP layer, its addresses and transport ports; this
 * module adds what a protocol hierarchy needs on top: the names of the layers on the way there
 * (VLAN tags, LLC, PPPoE, MPLS labels, each as tshark names them) and the inner layers of tunnels
 * (IP in IP, GRE, VXLAN), whose IP headers are decoded again with decode_packet(DLT_RAW) at their
 * offset. Every read goes through extract.h against the captured length; loops and tunnel depth
 * have small fixed limits, so a hostile frame costs no more than a normal one.
 *
 * Where tshark's names are matched (so that counts can be compared with io,phs):
 *  - eth, vlan (802.1Q and 0x9100), ieee8021ad, llc, stp, cdp, arp (ARP and RARP), pppoes, ppp,
 *    mpls (one per label), sll (v1 and v2), null, raw (DLT_RAW; LINKTYPE_IPV4/IPV6 have no link
 *    layer name), ip, ipv6, tcp, udp, icmp, icmpv6, sctp, gre, igmp, esp, ah, vxlan.
 *  - IP fragments: tshark reassembles, so every fragment but the last is "data" and the last one
 *    carries the transport protocol; the ports of a first fragment are remembered (a 4096-slot
 *    map) to name the application of the last one. Frame counts then match tshark's whenever the
 *    datagram was complete.
 *  - Application protocols by well-known port, the lower port tried first (tshark's UDP rule).
 *    tshark also uses heuristics and conversations, so a UDP payload we call "data" may have a
 *    name there; and for TCP it names reassembled messages, not segments, so TCP application
 *    counts are ours only (segments with payload on the port).
 */
#include <stdlib.h>
#include <string.h>

#include "analyze/analyze.h"
#include "capture/extract.h"

#define AL_DLT_NULL 0
#define AL_DLT_EN10MB 1
#define AL_DLT_PPP 9
#define AL_DLT_RAW 12
#define AL_DLT_RAW_BSD 14
#define AL_DLT_PPP_SERIAL 50
#define AL_DLT_LT_RAW 101
#define AL_DLT_C_HDLC 104
#define AL_DLT_LOOP 108
#define AL_DLT_LINUX_SLL 113
#define AL_DLT_IPV4 228
#define AL_DLT_IPV6 229
#define AL_DLT_LINUX_SLL2 276

#define AL_MAX_VLAN 4
#define AL_MAX_MPLS 8
#define AL_MAX_V6EXT 16
#define AL_MAX_DEPTH 3 /* tunnels inside the outer layer */
#define AL_FRAG_SLOTS 4096

/* clang-format off */
static const char *const al_names[AP__COUNT] = {
	[AP_NONE] = "none", [AP_ETH] = "eth", [AP_VLAN] = "vlan", [AP_8021AD] = "ieee8021ad",
	[AP_LLC] = "llc", [AP_STP] = "stp", [AP_CDP] = "cdp", [AP_ARP] = "arp", [AP_LLDP] = "lldp",
	[AP_EAPOL] = "eapol", [AP_PPPOED] = "pppoed", [AP_PPPOES] = "pppoes", [AP_PPP] = "ppp",
	[AP_MPLS] = "mpls", [AP_SLL] = "sll", [AP_NULL] = "null", [AP_RAW] = "raw",
	[AP_CHDLC] = "chdlc", [AP_LOOP] = "loop", [AP_SLOW] = "slow", [AP_PTP] = "ptp",
	[AP_UNKNOWN_LINK] = "unknown-link", [AP_IP] = "ip", [AP_IPV6] = "ipv6", [AP_TCP] = "tcp",
	[AP_UDP] = "udp", [AP_ICMP] = "icmp", [AP_ICMPV6] = "icmpv6", [AP_SCTP] = "sctp",
	[AP_GRE] = "gre", [AP_IGMP] = "igmp", [AP_ESP] = "esp", [AP_AH] = "ah", [AP_OSPF] = "ospf",
	[AP_EIGRP] = "eigrp", [AP_PIM] = "pim", [AP_VRRP] = "vrrp", [AP_VXLAN] = "vxlan",
	[AP_DNS] = "dns", [AP_HTTP] = "http", [AP_TLS] = "tls", [AP_NTP] = "ntp", [AP_SSDP] = "ssdp",
	[AP_MEMCACHE] = "memcache", [AP_SNMP] = "snmp", [AP_CLDAP] = "cldap", [AP_LDAP] = "ldap",
	[AP_DHCP] = "dhcp", [AP_DHCPV6] = "dhcpv6", [AP_MDNS] = "mdns", [AP_LLMNR] = "llmnr",
	[AP_NBNS] = "nbns", [AP_NBDGM] = "nbdgm", [AP_NBSS] = "nbss", [AP_SSH] = "ssh",
	[AP_SMTP] = "smtp", [AP_FTP] = "ftp", [AP_TELNET] = "telnet", [AP_POP] = "pop",
	[AP_IMAP] = "imap", [AP_QUIC] = "quic", [AP_STUN] = "stun", [AP_SYSLOG] = "syslog",
	[AP_TFTP] = "tftp", [AP_SIP] = "sip", [AP_BGP] = "bgp", [AP_KERBEROS] = "kerberos",
	[AP_PGSQL] = "pgsql", [AP_MYSQL] = "mysql", [AP_MBTCP] = "mbtcp", [AP_TPKT] = "tpkt",
	[AP_CHARGEN] = "chargen", [AP_WSD] = "wsd", [AP_RIP] = "rip", [AP_ISAKMP] = "isakmp",
	[AP_OPENVPN] = "openvpn", [AP_RADIUS] = "radius", [AP_DATA] = "data",
};
/* clang-format on */

const char *alayers_name(int id)
{
	if (id <= AP_NONE || id >= AP__COUNT || !al_names[id])
		return "?";
	return al_names[id];
}

/* clang-format off */
/* Well-known ports: TCP and UDP protocol of one port, AP_NONE if none. */
static int al_port(int tcp, unsigned port)
{
	switch (port) {
	case 19: return AP_CHARGEN;
	case 21: return tcp ? AP_FTP : AP_NONE;
	case 22: return tcp ? AP_SSH : AP_NONE;
	case 23: return tcp ? AP_TELNET : AP_NONE;
	case 25: case 587: return tcp ? AP_SMTP : AP_NONE;
	case 53: return AP_DNS;
	case 67: case 68: return tcp ? AP_NONE : AP_DHCP;
	case 69: return tcp ? AP_NONE : AP_TFTP;
	case 80: case 8080: return tcp ? AP_HTTP : AP_NONE;
	case 88: return AP_KERBEROS;
	case 102: return tcp ? AP_TPKT : AP_NONE;
	case 110: return tcp ? AP_POP : AP_NONE;
	case 123: return tcp ? AP_NONE : AP_NTP;
	case 137: return tcp ? AP_NONE : AP_NBNS;
	case 138: return tcp ? AP_NONE : AP_NBDGM;
	case 139: case 445: return tcp ? AP_NBSS : AP_NONE;
	case 143: return tcp ? AP_IMAP : AP_NONE;
	case 161: case 162: return tcp ? AP_NONE : AP_SNMP;
	case 179: return tcp ? AP_BGP : AP_NONE;
	case 389: return tcp ? AP_LDAP : AP_CLDAP;
	case 443: return tcp ? AP_TLS : AP_QUIC;
	case 500: return tcp ? AP_NONE : AP_ISAKMP;
	case 502: return tcp ? AP_MBTCP : AP_NONE;
	case 514: return tcp ? AP_NONE : AP_SYSLOG;
	case 520: return tcp ? AP_NONE : AP_RIP;
	case 546: case 547: return tcp ? AP_NONE : AP_DHCPV6;
	case 636: case 853: case 993: case 995: return tcp ? AP_TLS : AP_NONE;
	case 1194: return AP_OPENVPN;
	case 1812: case 1813: return tcp ? AP_NONE : AP_RADIUS;
	case 1900: return tcp ? AP_NONE : AP_SSDP;
	case 3306: return tcp ? AP_MYSQL : AP_NONE;
	case 3389: return tcp ? AP_TPKT : AP_NONE;
	case 3478: return AP_STUN;
	case 3702: return tcp ? AP_NONE : AP_WSD;
	case 5060: return AP_SIP;
	case 5353: return tcp ? AP_NONE : AP_MDNS;
	case 5355: return tcp ? AP_NONE : AP_LLMNR;
	case 5432: return tcp ? AP_PGSQL : AP_NONE;
	case 11211: return AP_MEMCACHE;
	default: return AP_NONE;
	}
}
/* clang-format on */

/* IP protocols that end the path with their name (the others are handled one by one). */
static const struct {
	uint8_t proto, id;
} al_ipproto[] = {
    {1, AP_ICMP}, {58, AP_ICMPV6}, {132, AP_SCTP}, {2, AP_IGMP},  {50, AP_ESP},
    {51, AP_AH},  {89, AP_OSPF},   {88, AP_EIGRP}, {103, AP_PIM}, {112, AP_VRRP},
};

/* Ethertypes that end the path with their name. */
static const struct {
	uint16_t type;
	uint8_t id;
} al_ethertypes[] = {
    {0x0806, AP_ARP},	{0x8035, AP_ARP},  {0x8863, AP_PPPOED}, {0x88cc, AP_LLDP},
    {0x888e, AP_EAPOL}, {0x9000, AP_LOOP}, {0x8809, AP_SLOW},	{0x88f7, AP_PTP},
};

int alayers_app(uint8_t proto, uint16_t sport, uint16_t dport)
{
	int tcp = proto == 6;
	unsigned lo = sport < dport ? sport : dport, hi = sport < dport ? dport : sport;
	int a = AP_NONE;

	if (proto != 6 && proto != 17)
		return AP_NONE;
	if (lo)
		a = al_port(tcp, lo);
	if (a == AP_NONE && hi)
		a = al_port(tcp, hi);
	return a;
}

struct al_frag {
	uint64_t key; /* hash of version, addresses, id and protocol; 0 empty */
	uint16_t sport, dport;
	uint8_t proto, has_ports;
};

struct alayers_ctx {
	struct al_frag frag[AL_FRAG_SLOTS];
};

alayers_ctx_t *alayers_new(void)
{
	return calloc(1, sizeof(struct alayers_ctx));
}

void alayers_free(alayers_ctx_t *c)
{
	free(c);
}

/* One frame being walked. */
struct al_walk {
	alayers_ctx_t *c;
	struct alayers *o;
	const uint8_t *base, *end;
	uint32_t caplen, wirelen;
	int depth;
	int outer_used; /* the frame's own decode has been used for an IP layer */
};

static void al_push(struct al_walk *w, int id)
{
	if (w->o->npath < ALAYERS_MAX_PATH)
		w->o->path[w->o->npath++] = (uint8_t)id;
}

static const uint8_t *al_at(const struct al_walk *w, uint32_t off)
{
	return off <= w->caplen ? w->base + off : w->end;
}

static void al_link(struct al_walk *w, int dlt, uint32_t off);
static void al_ethertype(struct al_walk *w, uint32_t type, uint32_t off);
static void al_ip(struct al_walk *w, uint32_t off, int want_ver);

/* Nonzero if more fragments follow the IP datagram at off (IPv4 MF bit, IPv6 M flag). */
static int al_more_frags(const struct al_walk *w, uint32_t off, int ver)
{
	const uint8_t *p = al_at(w, off);
	uint8_t nh;

	if (ver == 4)
		return ex_has(p, w->end, 8) && (ex_get_u8(p + 6) & 0x20);
	if (!ex_has(p, w->end, 40))
		return 0;
	nh = ex_get_u8(p + 6);
	p += 40;
	for (int i = 0; i < AL_MAX_V6EXT; i++) {
		size_t hlen;
		if (!ex_has(p, w->end, 8))
			return 0;
		if (nh == 44)
			return ex_get_u8(p + 3) & 1;
		if (nh == 0 || nh == 43 || nh == 60)
			hlen = (ex_get_u8(p + 1) + 1u) * 8u;
		else if (nh == 51)
			hlen = (ex_get_u8(p + 1) + 2u) * 4u;
		else
			return 0;
		if (!ex_has(p, w->end, hlen))
			return 0;
		nh = ex_get_u8(p);
		p += hlen;
	}
	return 0;
}

static struct al_frag *al_frag_slot(alayers_ctx_t *c, const struct pkt_meta *m, uint64_t *key)
{
	uint8_t k[40];

	memset(k, 0, sizeof k);
	k[0] = m->ip_version;
	k[1] = m->proto;
	memcpy(k + 2, m->src, 16);
	memcpy(k + 18, m->dst, 16);
	memcpy(k + 34, &m->frag_id, 4);
	*key = ahash_bytes(k, sizeof k, 0x5bd1e995u) | 1;
	return &c->frag[*key % AL_FRAG_SLOTS];
}

static void al_app(struct al_walk *w, uint8_t proto, uint16_t sport, uint16_t dport)
{
	int a = alayers_app(proto, sport, dport);
	al_push(w, a != AP_NONE ? a : AP_DATA);
}

static void al_gre(struct al_walk *w, uint32_t off)
{
	const uint8_t *p = al_at(w, off);
	uint32_t hlen = 4;
	uint16_t flags, type;

	if (!ex_has(p, w->end, 4))
		return;
	flags = ex_get_be16(p);
	type = ex_get_be16(p + 2);
	if ((flags & 7) == 0) {
		if (flags & 0x4000) /* routing present: rare, not followed */
			return;
		if (flags & 0x8000)
			hlen += 4;
		if (flags & 0x2000)
			hlen += 4;
		if (flags & 0x1000)
			hlen += 4;
	} else if ((flags & 7) == 1) { /* enhanced GRE (PPTP): key always, seq and ack optional */
		hlen += 4;
		if (flags & 0x1000)
			hlen += 4;
		if (flags & 0x0080)
			hlen += 4;
	} else {
		return;
	}
	if (!ex_has(p, w->end, hlen) || w->depth >= AL_MAX_DEPTH)
		return;
	w->depth++;
	switch (type) {
	case 0x0800:
		al_ip(w, off + hlen, 4);
		break;
	case 0x86dd:
		al_ip(w, off + hlen, 6);
		break;
	case 0x880b:
		al_link(w, AL_DLT_PPP, off + hlen);
		break;
	case 0x6558:
		al_link(w, AL_DLT_EN10MB, off + hlen);
		break;
	case 0x8847:
	case 0x0806:
		al_ethertype(w, type, off + hlen);
		break;
	default:
		break;
	}
	w->depth--;
}

/* The transport layer of an IP layer whose decode is m, with offsets relative to moff. */
static void al_transport(struct al_walk *w, const struct pkt_meta *m, uint32_t moff)
{
	int l4 = (m->flags & PKT_F_L4) != 0;
	uint32_t l4off = moff + m->l4_off;
	int can_follow = m->l4_off && !(m->flags & PKT_F_TRUNC_L4) && w->depth < AL_MAX_DEPTH;

	switch (m->proto) {
	case 6:
		al_push(w, AP_TCP);
		if (l4 && m->l4_payload > 0)
			al_app(w, 6, m->sport, m->dport);
		return;
	case 17:
		al_push(w, AP_UDP);
		if (!l4 || m->l4_payload == 0)
			return;
		if ((m->dport == 4789 || m->sport == 4789) && can_follow) {
			al_push(w, AP_VXLAN);
			if (m->l4_payload >= 8) {
				w->depth++;
				al_link(w, AL_DLT_EN10MB, l4off + 16);
				w->depth--;
			}
			return;
		}
		al_app(w, 17, m->sport, m->dport);
		return;
	case 47:
		al_push(w, AP_GRE);
		if (can_follow)
			al_gre(w, l4off);
		return;
	case 4:
	case 41:
		if (can_follow) {
			w->depth++;
			al_ip(w, l4off, m->proto == 4 ? 4 : 6);
			w->depth--;
		}
		return;
	case 59: /* IPv6 no next header */
		return;
	default:
		for (size_t i = 0; i < sizeof al_ipproto / sizeof al_ipproto[0]; i++) {
			if (al_ipproto[i].proto == m->proto) {
				al_push(w, al_ipproto[i].id);
				return;
			}
		}
		if (m->l4_payload > 0)
			al_push(w, AP_DATA);
		return;
	}
}

/* An IP layer at off; want_ver is what the layer below announced (0: by the version nibble). */
static void al_ip(struct al_walk *w, uint32_t off, int want_ver)
{
	struct pkt_meta mm;
	const struct pkt_meta *m;
	uint32_t moff;
	int dec, ver;
	const uint8_t *p = al_at(w, off);

	if (!want_ver) {
		uint8_t b;
		if (ex_u8(p, w->end, &b) != 0)
			return;
		want_ver = b >> 4 == 6 ? 6 : 4;
	}
	if (!w->outer_used && w->o->dec != DEC_UNSUPPORTED && w->o->m.l3_off == off &&
	    (w->o->dec == DEC_IP || w->o->m.l4_off)) {
		m = &w->o->m;
		dec = w->o->dec;
		moff = 0;
	} else {
		uint32_t wl = w->wirelen > off ? w->wirelen - off : 0;
		dec = decode_packet(AL_DLT_RAW, p, w->caplen - (uint32_t)(p - w->base), wl, &mm);
		m = &mm;
		moff = off;
	}
	w->outer_used = 1;
	ver = dec == DEC_IP ? m->ip_version : 0;
	if (!ver && dec == DEC_MALFORMED && m->l4_off) {
		/* IP header fine, transport header inconsistent (TCP data offset < 5) */
		uint8_t b = 0;
		ex_u8(p, w->end, &b);
		ver = b >> 4 == 4 ? 4 : b >> 4 == 6 ? 6 : 0;
	}
	if (!ver) {
		al_push(w, want_ver == 6 ? AP_IPV6 : AP_IP);
		return;
	}
	al_push(w, ver == 4 ? AP_IP : AP_IPV6);
	int more = (m->flags & PKT_F_FRAG) ? al_more_frags(w, off, ver) : 0;
	if (w->o->nip < ALAYERS_MAX_IP) {
		struct alayers_ip *ip = &w->o->ip[w->o->nip++];
		ip->ver = (uint8_t)ver;
		ip->frag_more = (uint8_t)more;
		memcpy(ip->src, m->src, 16);
		memcpy(ip->dst, m->dst, 16);
	}
	if (dec == DEC_MALFORMED) {
		al_push(w, m->proto == 6 ? AP_TCP : AP_DATA);
		return;
	}
	if (m->flags & PKT_F_FRAG) {
		uint64_t key;
		struct al_frag *f = al_frag_slot(w->c, m, &key);
		if (!(m->flags & PKT_F_FRAG_LATER)) {
			if (more) {
				f->key = key;
				f->proto = m->proto;
				f->has_ports = (m->flags & PKT_F_L4) != 0;
				f->sport = m->sport;
				f->dport = m->dport;
				al_push(w, AP_DATA);
				return;
			}
			/* offset 0 and no more: an atomic fragment, a whole datagram */
		} else {
			if (more) {
				al_push(w, AP_DATA);
				return;
			}
			/* the last fragment: named as tshark names the reassembled datagram */
			int hit = f->key == key && f->proto == m->proto;
			struct pkt_meta t = *m;
			t.flags = (uint16_t)(t.flags & ~(PKT_F_L4 | PKT_F_FRAG | PKT_F_FRAG_LATER));
			t.l4_off = 0;
			if (hit && f->has_ports && (m->proto == 6 || m->proto == 17)) {
				t.flags |= PKT_F_L4;
				t.sport = f->sport;
				t.dport = f->dport;
				t.l4_payload = 1;
			}
			if (hit)
				f->key = 0;
			al_transport(w, &t, moff);
			return;
		}
	}
	al_transport(w, m, moff);
}

static void al_ppp_proto(struct al_walk *w, uint32_t proto, uint32_t off)
{
	switch (proto) {
	case 0x0021:
		al_ip(w, off, 4);
		break;
	case 0x0057:
		al_ip(w, off, 6);
		break;
	case 0x0281:
		al_ethertype(w, 0x8847, off);
		break;
	default:
		break;
	}
}

static void al_ppp(struct al_walk *w, uint32_t off)
{
	const uint8_t *p = al_at(w, off);
	uint8_t b0;

	al_push(w, AP_PPP);
	if (ex_has(p, w->end, 2) && ex_get_u8(p) == 0xff && ex_get_u8(p + 1) == 0x03) {
		p += 2;
		off += 2;
	}
	if (ex_u8(p, w->end, &b0) != 0)
		return;
	if (b0 & 1) {
		al_ppp_proto(w, b0, off + 1);
	} else if (ex_has(p, w->end, 2)) {
		al_ppp_proto(w, ex_get_be16(p), off + 2);
	}
}

static void al_llc(struct al_walk *w, uint32_t off)
{
	const uint8_t *p = al_at(w, off);

	al_push(w, AP_LLC);
	if (!ex_has(p, w->end, 3))
		return;
	if (ex_get_u8(p) == 0x42 && ex_get_u8(p + 1) == 0x42) {
		al_push(w, AP_STP);
		return;
	}
	if (ex_get_u8(p) != 0xaa || ex_get_u8(p + 1) != 0xaa || !ex_has(p, w->end, 8))
		return;
	uint32_t oui = ex_get_be24(p + 3);
	uint16_t type = ex_get_be16(p + 6);
	if (oui == 0x00000c && type == 0x2000)
		al_push(w, AP_CDP);
	else if (oui == 0)
		al_ethertype(w, type, off + 8);
}

/* The payload of an ethertype-like field: VLAN tags, LLC, then al_ethertype(). */
static void al_ether_payload(struct al_walk *w, uint32_t type, uint32_t off)
{
	for (int i = 0; type == 0x8100 || type == 0x88a8 || type == 0x9100; i++) {
		const uint8_t *p = al_at(w, off);
		if (i == AL_MAX_VLAN || !ex_has(p, w->end, 4))
			return;
		al_push(w, type == 0x88a8 ? AP_8021AD : AP_VLAN);
		type = ex_get_be16(p + 2);
		off += 4;
	}
	if (type <= 1500) {
		al_llc(w, off);
		return;
	}
	if (type < 0x0600) {
		al_push(w, AP_DATA);
		return;
	}
	al_ethertype(w, type, off);
}

static void al_ethertype(struct al_walk *w, uint32_t type, uint32_t off)
{
	const uint8_t *p = al_at(w, off);

	switch (type) {
	case 0x0800:
		al_ip(w, off, 4);
		return;
	case 0x86dd:
		al_ip(w, off, 6);
		return;
	case 0x8864:
		al_push(w, AP_PPPOES);
		if (!ex_has(p, w->end, 8) || ex_get_u8(p) != 0x11 || ex_get_u8(p + 1) != 0)
			return;
		al_push(w, AP_PPP);
		al_ppp_proto(w, ex_get_be16(p + 6), off + 8);
		return;
	case 0x8847:
	case 0x8848:
		for (int i = 0;; i++) {
			p = al_at(w, off);
			if (i == AL_MAX_MPLS || !ex_has(p, w->end, 4))
				return;
			al_push(w, AP_MPLS);
			off += 4;
			if (ex_get_u8(p + 2) & 1)
				break;
		}
		p = al_at(w, off);
		if (ex_has(p, w->end, 1) && (ex_get_u8(p) >> 4 == 4 || ex_get_u8(p) >> 4 == 6))
			al_ip(w, off, 0);
		return;
	default:
		for (size_t i = 0; i < sizeof al_ethertypes / sizeof al_ethertypes[0]; i++) {
			if (al_ethertypes[i].type == type) {
				al_push(w, al_ethertypes[i].id);
				return;
			}
		}
		al_push(w, AP_DATA);
		return;
	}
}

static int al_af_inet6(uint32_t af)
{
	return af == 10 || af == 24 || af == 28 || af == 30;
}

static void al_link(struct al_walk *w, int dlt, uint32_t off)
{
	const uint8_t *p = al_at(w, off);

	switch (dlt) {
	case AL_DLT_EN10MB:
		al_push(w, AP_ETH);
		if (ex_has(p, w->end, 14))
			al_ether_payload(w, ex_get_be16(p + 12), off + 14);
		return;
	case AL_DLT_LINUX_SLL:
	case AL_DLT_LINUX_SLL2: {
		uint32_t hl = dlt == AL_DLT_LINUX_SLL ? 16 : 20;
		al_push(w, AP_SLL);
		if (!ex_has(p, w->end, hl))
			return;
		uint16_t proto = ex_get_be16(p + (dlt == AL_DLT_LINUX_SLL ? 14 : 0));
		if (proto >= 0x0600)
			al_ether_payload(w, proto, off + hl);
		else if (proto == 4)
			al_llc(w, off + hl);
		return;
	}
	case AL_DLT_RAW:
	case AL_DLT_RAW_BSD:
	case AL_DLT_LT_RAW:
		al_push(w, AP_RAW);
		al_ip(w, off, 0);
		return;
	case AL_DLT_IPV4:
		al_ip(w, off, 4);
		return;
	case AL_DLT_IPV6:
		al_ip(w, off, 6);
		return;
	case AL_DLT_NULL:
	case AL_DLT_LOOP: {
		al_push(w, AP_NULL);
		if (!ex_has(p, w->end, 4))
			return;
		uint32_t be = ex_get_be32(p), le = dlt == AL_DLT_LOOP ? be : ex_get_le32(p);
		if (be == 2 || le == 2)
			al_ip(w, off + 4, 4);
		else if (al_af_inet6(be) || al_af_inet6(le))
			al_ip(w, off + 4, 6);
		return;
	}
	case AL_DLT_PPP:
		al_ppp(w, off);
		return;
	case AL_DLT_PPP_SERIAL:
		if (ex_has(p, w->end, 1) && (ex_get_u8(p) == 0x0f || ex_get_u8(p) == 0x8f)) {
			al_link(w, AL_DLT_C_HDLC, off);
			return;
		}
		al_ppp(w, off);
		return;
	case AL_DLT_C_HDLC:
		al_push(w, AP_CHDLC);
		if (ex_has(p, w->end, 4))
			al_ethertype(w, ex_get_be16(p + 2), off + 4);
		return;
	default:
		al_push(w, AP_UNKNOWN_LINK);
		return;
	}
}

void alayers_decode(alayers_ctx_t *c, int dlt, const uint8_t *data, uint32_t caplen,
		    uint32_t wirelen, struct alayers *out)
{
	static const uint8_t empty[1];
	struct al_walk w;

	if (!data) {
		data = empty;
		caplen = 0;
	}
	out->dec = decode_packet(dlt, data, caplen, wirelen, &out->m);
	out->npath = 0;
	out->nip = 0;
	w.c = c;
	w.o = out;
	w.base = data;
	w.end = data + caplen;
	w.caplen = caplen;
	w.wirelen = wirelen;
	w.depth = 0;
	w.outer_used = 0;
	al_link(&w, dlt, 0);
}
