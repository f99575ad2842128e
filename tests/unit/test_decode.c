/*
 * test_decode.c - decode_packet() over hand-built frames: one table row per frame with everything
 * the decoder must report, then truncation sweeps (every caplen of every frame, on an exact-size
 * heap copy so ASan sees any read past caplen) and a few edge cases that need more than a row.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/decode.h"
#include "testhelp.h"

/* Link types by number, as pcap_datalink() returns them on Linux. */
#define T_NULL 0
#define T_EN10MB 1
#define T_PPP 9
#define T_RAW 12
#define T_RAW_BSD 14
#define T_PPP_SERIAL 50
#define T_LT_RAW 101
#define T_C_HDLC 104
#define T_IEEE802_11 105
#define T_LOOP 108
#define T_SLL 113
#define T_IPV4 228
#define T_IPV6 229
#define T_SLL2 276

/* clang-format off */
/* Frames are laid out by hand, one header per line where it fits. */

/* Header pieces. Checksums are zero: the decoder does not verify them. */
#define B2(v) (((v) >> 8) & 0xff), ((v)&0xff)
#define B4(v) (((v) >> 24) & 0xff), (((v) >> 16) & 0xff), (((v) >> 8) & 0xff), ((v)&0xff)
#define MACS 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb
#define ETH(type) MACS, B2(type)
#define IP4_ADDRS 192, 0, 2, 1, 198, 51, 100, 2
#define IP4(tot, id, frag, proto) 0x45, 0x00, B2(tot), B2(id), B2(frag), 64, proto, 0, 0, IP4_ADDRS
#define IP6_ADDRS \
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, \
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2
#define IP6(plen, nh) 0x60, 0x00, 0x00, 0x00, B2(plen), nh, 64, IP6_ADDRS
#define UDP(sp, dp, len) B2(sp), B2(dp), B2(len), 0, 0
#define TCP20(sp, dp, flags) B2(sp), B2(dp), B4(1000), B4(0), 0x50, flags, B2(65535), 0, 0, 0, 0
#define A4 "192.0.2.1", "198.51.100.2"
#define A6 "2001:db8::1", "2001:db8::2"

/* Ethernet + IPv4 + TCP SYN with 20 bytes of options: 74 bytes. */
static const uint8_t f_eth_tcp_syn[] = {
	ETH(0x0800), IP4(60, 0x1c46, 0x4000, 6),
	B2(51000), B2(80), B4(0x11223344), B4(0), 0xa0, 0x02, B2(64240), 0, 0, 0, 0,
	0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, B4(1), B4(0), 0x01, 0x03, 0x03, 0x07,
};

/* 802.1ad VID 100 + 802.1Q VID 200 + IPv4 + UDP with 4 bytes of payload. */
static const uint8_t f_qinq_udp[] = {
	ETH(0x88a8), B2(0x0064), B2(0x8100), B2(0x20c8), B2(0x0800),
	IP4(32, 1, 0, 17), UDP(53, 33000, 12), 'a', 'b', 'c', 'd',
};

/* Linux cooked v1, outgoing, + IPv4 + UDP. */
static const uint8_t f_sll_udp[] = {
	B2(4), B2(1), B2(6), 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0, B2(0x0800),
	IP4(30, 7, 0, 17), UDP(5353, 5353, 10), 1, 2,
};

/* Linux cooked v2 + IPv6 + TCP ACK|PSH with 5 bytes. */
static const uint8_t f_sll2_tcp6[] = {
	B2(0x86dd), 0, 0, B4(2), B2(1), 0, 6, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0,
	IP6(25, 6), TCP20(443, 50000, 0x18), 'h', 'e', 'l', 'l', 'o',
};

/* Raw IPv6, hop-by-hop (PadN) + fragment header (offset 0, M) + UDP + 8 bytes. */
static const uint8_t f_raw6_hbh_frag[] = {
	IP6(32, 0), 44, 0, 0x01, 0x04, 0, 0, 0, 0, 17, 0, B2(0x0001), B4(0xdeadbeef),
	UDP(1000, 2000, 16), 1, 2, 3, 4, 5, 6, 7, 8,
};

/* Raw IPv6 later fragment: offset 1448, last; 16 bytes of data. */
static const uint8_t f_raw6_frag_later[] = {
	IP6(24, 44), 17, 0, B2(1448), B4(0xdeadbeef),
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
};

/* IPv4 with a router alert option (IHL 6) + UDP. */
static const uint8_t f_ip4_opt[] = {
	ETH(0x0800), 0x46, 0, B2(36), B2(9), 0, 0, 1, 17, 0, 0, IP4_ADDRS, 0x94, 0x04, 0, 0,
	UDP(1, 2, 12), 'x', 'y', 'z', 'w',
};

/* IPv4 first fragment (MF, offset 0) of a UDP datagram. */
static const uint8_t f_ip4_frag_first[] = {
	ETH(0x0800), IP4(44, 0x1234, 0x2000, 17), UDP(4000, 53, 1000),
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
};

/* IPv4 later fragment: offset 185 * 8 = 1480, last. */
static const uint8_t f_ip4_frag_later[] = {
	ETH(0x0800), IP4(36, 0x1234, 185, 17),
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
};

/* ICMP echo request with 8 bytes of data. */
static const uint8_t f_icmp_echo[] = {
	ETH(0x0800), IP4(36, 2, 0, 1), 8, 0, 0, 0, B2(0x4242), B2(1), 'p', 'i', 'n', 'g', 0, 0, 0, 0,
};

/* ICMPv6 echo request. */
static const uint8_t f_icmp6_echo[] = {
	ETH(0x86dd), IP6(12, 58), 128, 0, 0, 0, B2(7), B2(1), 'p', 'i', 'n', 'g',
};

/* SCTP common header + a 16-byte INIT chunk. */
static const uint8_t f_sctp[] = {
	ETH(0x0800), IP4(48, 3, 0x4000, 132), B2(2905), B2(2906), B4(0), B4(0),
	1, 0, B2(16), B4(0x01020304), B4(0x10000), B2(10), B2(10),
};

/* ARP request. */
static const uint8_t f_arp[] = {
	ETH(0x0806), B2(1), B2(0x0800), 6, 4, B2(1),
	0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 192, 0, 2, 2,
};

/* IPv4 with IHL 4. */
static const uint8_t f_bad_ihl[] = {
	ETH(0x0800), 0x44, 0, B2(40), B2(1), 0, 0, 64, 6, 0, 0, IP4_ADDRS, TCP20(1, 2, 0x02),
};

/* IPv4 with version 5. */
static const uint8_t f_bad_ver[] = {
	ETH(0x0800), 0x55, 0, B2(40), B2(1), 0, 0, 64, 6, 0, 0, IP4_ADDRS, TCP20(1, 2, 0x02),
};

/* IPv4 total length 19 < IHL 20. */
static const uint8_t f_totlen_short[] = {
	ETH(0x0800), IP4(19, 1, 0, 6), TCP20(1, 2, 0x02),
};

/* IPv4 total length 0 on a small frame (no GSO/BIG TCP excuse). */
static const uint8_t f_totlen_zero[] = {
	ETH(0x0800), IP4(0, 1, 0, 6), TCP20(1, 2, 0x02),
};

/* TCP data offset 4. */
static const uint8_t f_tcp_doff4[] = {
	ETH(0x0800), IP4(40, 1, 0, 6), B2(1), B2(2), B4(0), B4(0), 0x40, 0x02, 0, 0, 0, 0, 0, 0,
};

/* UDP whose header is cut by the IP total length (24), not by caplen. */
static const uint8_t f_udp_iplen_short[] = {
	ETH(0x0800), IP4(24, 1, 0, 17), UDP(1, 2, 8), 0, 0, 0, 0, 0, 0,
};

/* Ethernet padding after a 28-byte IPv4/UDP datagram. */
static const uint8_t f_eth_padding[] = {
	ETH(0x0800), IP4(28, 1, 0, 17), UDP(67, 68, 8),
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* GRE: an IP protocol without transport fields. */
static const uint8_t f_gre[] = {
	ETH(0x0800), IP4(28, 1, 0, 47), 0, 0, B2(0x0800), 0, 0, 0, 0,
};

/* 802.3 length + LLC/SNAP + IPv4 + UDP. */
static const uint8_t f_snap[] = {
	MACS, B2(36), 0xaa, 0xaa, 0x03, 0, 0, 0, B2(0x0800), IP4(28, 1, 0, 17), UDP(1, 2, 8),
};

/* 802.3 length + plain LLC (STP BPDU). */
static const uint8_t f_llc_stp[] = {
	0x01, 0x80, 0xc2, 0, 0, 0, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, B2(38), 0x42, 0x42, 0x03,
	0, 0, 0, 0, 0x80, 0, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0, 0, 0, 0, 0x80, 0, 0x66, 0x77,
	0x88, 0x99, 0xaa, 0xbb, 0x80, 0x01, 0, 0, 0x14, 0, 0x02, 0, 0x0f, 0,
};

/* 5 stacked VLAN tags: more than the decoder follows. */
static const uint8_t f_vlan5[] = {
	ETH(0x8100), B2(1), B2(0x8100), B2(2), B2(0x8100), B2(3), B2(0x8100), B2(4), B2(0x8100),
	B2(5), B2(0x0800), IP4(28, 1, 0, 17), UDP(1, 2, 8),
};

/* PPPoE session + PPP IPv4 + UDP. */
static const uint8_t f_pppoe[] = {
	ETH(0x8864), 0x11, 0x00, B2(0x0001), B2(30), B2(0x0021), IP4(28, 1, 0, 17), UDP(1, 2, 8),
};

/* MPLS, two labels + IPv4 + TCP. */
static const uint8_t f_mpls[] = {
	ETH(0x8847), B4(0x00010040), B4(0x00020140), IP4(40, 1, 0, 6), TCP20(1234, 22, 0x10),
};

/* 802.1Q VID 10 + IPv6 + UDP. */
static const uint8_t f_vlan_ip6_udp[] = {
	ETH(0x8100), B2(0xa00a), B2(0x86dd), IP6(8, 17), UDP(546, 547, 8),
};

/* IPv6 hop-by-hop cut by caplen after 4 of its 8 bytes. */
static const uint8_t f_ip6_ext_cut[] = {
	ETH(0x86dd), IP6(16, 0), 6, 0, 1, 2,
};

/* IPv6 destination options header of 16 bytes in an 8-byte payload. */
static const uint8_t f_ip6_ext_long[] = {
	ETH(0x86dd), IP6(8, 60), 6, 1, 1, 4, 0, 0, 0, 0,
};

/* IPv6 with no next header. */
static const uint8_t f_ip6_nonext[] = {
	ETH(0x86dd), IP6(0, 59),
};

/* IPv6 AH (payload length 4 -> 24 bytes) + TCP. */
static const uint8_t f_ip6_ah[] = {
	ETH(0x86dd), IP6(44, 51), 6, 4, 0, 0, B4(0x100), B4(1), B4(0), B4(0), B4(0),
	TCP20(179, 40000, 0x18),
};

/* DLT_NULL with AF_INET little-endian (capture from an x86 BSD host), + ICMP. */
static const uint8_t f_null_le[] = {
	2, 0, 0, 0, IP4(28, 1, 0, 1), 0, 0, 0, 0, 0, 0, 0, 0,
};

/* DLT_NULL with AF_INET big-endian (capture from a SPARC/PowerPC host), + UDP. */
static const uint8_t f_null_be[] = {
	0, 0, 0, 2, IP4(28, 1, 0, 17), UDP(9, 9, 8),
};

/* DLT_NULL with Darwin's AF_INET6 30, little-endian. */
static const uint8_t f_null_v6_30[] = {
	30, 0, 0, 0, IP6(8, 17), UDP(9, 9, 8),
};

/* DLT_NULL with OpenBSD's AF_INET6 24, big-endian. */
static const uint8_t f_null_v6_24[] = {
	0, 0, 0, 24, IP6(8, 17), UDP(9, 9, 8),
};

/* DLT_NULL with AF 7 (not IP). */
static const uint8_t f_null_other[] = {
	7, 0, 0, 0, 1, 2, 3, 4,
};

/* DLT_LOOP: network order AF_INET + TCP. */
static const uint8_t f_loop[] = {
	0, 0, 0, 2, IP4(40, 1, 0, 6), TCP20(5000, 6000, 0x11),
};

/* DLT_LOOP given a little-endian AF: not what DLT_LOOP means. */
static const uint8_t f_loop_le[] = {
	2, 0, 0, 0, IP4(40, 1, 0, 6), TCP20(5000, 6000, 0x11),
};

/* Raw IPv4 + UDP (DLT_RAW 12, 14, 101, DLT_IPV4). */
static const uint8_t f_raw4_udp[] = {
	IP4(28, 1, 0, 17), UDP(123, 123, 8),
};

/* Raw IPv6 + TCP RST. */
static const uint8_t f_raw6_tcp[] = {
	IP6(20, 6), TCP20(80, 1025, 0x04),
};

/* Raw "IP" with version 0. */
static const uint8_t f_raw_bad[] = {
	0x05, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, IP4_ADDRS,
};

/* PPP with address/control + IPv4 + UDP. */
static const uint8_t f_ppp_ip4[] = {
	0xff, 0x03, B2(0x0021), IP4(28, 1, 0, 17), UDP(53, 53, 8),
};

/* PPP with a compressed (1-byte) protocol field + IPv6 + UDP. */
static const uint8_t f_ppp_pfc_ip6[] = {
	0x57, IP6(8, 17), UDP(53, 53, 8),
};

/* PPP LCP. */
static const uint8_t f_ppp_lcp[] = {
	0xff, 0x03, B2(0xc021), 1, 1, B2(4),
};

/* Cisco HDLC + IPv4 + UDP. */
static const uint8_t f_chdlc[] = {
	0x0f, 0x00, B2(0x0800), IP4(28, 1, 0, 17), UDP(520, 520, 8),
};

struct dcase {
	const char *name;
	int dlt;
	const uint8_t *frame;
	uint32_t len;
	int ret;
	uint16_t flags;
	uint16_t ethertype;
	uint16_t vlan;
	uint8_t ipv;
	uint8_t proto;
	const char *src, *dst;
	uint16_t sport, dport;
	uint8_t tcp_flags;
	uint8_t ttl;
	uint16_t l3_off, l4_off;
	uint32_t ip_len, l4_payload;
	uint32_t frag_id;
	uint16_t frag_off;
};

#define FR(a) a, sizeof(a)
#define F_L4 PKT_F_L4

/*
 * name, dlt, frame, result, flags, ethertype, vlan, ip_version, proto, src, dst, sport, dport,
 * tcp_flags, ttl, l3_off, l4_off, ip_len, l4_payload, frag_id, frag_off
 */
static const struct dcase cases[] = {
	{ "eth_tcp_syn", T_EN10MB, FR(f_eth_tcp_syn), DEC_IP, F_L4, 0x0800, 0, 4, 6, A4, 51000,
	  80, TCPF_SYN, 64, 14, 34, 60, 0, 0x1c46, 0 },
	{ "qinq_udp", T_EN10MB, FR(f_qinq_udp), DEC_IP, F_L4 | PKT_F_VLAN, 0x0800, 100, 4, 17, A4,
	  53, 33000, 0, 64, 22, 42, 32, 4, 1, 0 },
	{ "sll_udp", T_SLL, FR(f_sll_udp), DEC_IP, F_L4, 0x0800, 0, 4, 17, A4, 5353, 5353, 0, 64,
	  16, 36, 30, 2, 7, 0 },
	{ "sll2_tcp6", T_SLL2, FR(f_sll2_tcp6), DEC_IP, F_L4, 0x86dd, 0, 6, 6, A6, 443, 50000,
	  TCPF_PSH | TCPF_ACK, 64, 20, 60, 65, 5, 0, 0 },
	{ "raw6_hbh_frag", T_RAW, FR(f_raw6_hbh_frag), DEC_IP, F_L4 | PKT_F_FRAG | PKT_F_IPOPT,
	  0x86dd, 0, 6, 17, A6, 1000, 2000, 0, 64, 0, 56, 72, 8, 0xdeadbeef, 0 },
	{ "raw6_frag_later", T_RAW, FR(f_raw6_frag_later), DEC_IP,
	  PKT_F_FRAG | PKT_F_FRAG_LATER | PKT_F_IPOPT, 0x86dd, 0, 6, 17, A6, 0, 0, 0, 64, 0, 0, 64,
	  16, 0xdeadbeef, 1448 },
	{ "ip4_options", T_EN10MB, FR(f_ip4_opt), DEC_IP, F_L4 | PKT_F_IPOPT, 0x0800, 0, 4, 17, A4,
	  1, 2, 0, 1, 14, 38, 36, 4, 9, 0 },
	{ "ip4_frag_first", T_EN10MB, FR(f_ip4_frag_first), DEC_IP, F_L4 | PKT_F_FRAG, 0x0800, 0,
	  4, 17, A4, 4000, 53, 0, 64, 14, 34, 44, 16, 0x1234, 0 },
	{ "ip4_frag_later", T_EN10MB, FR(f_ip4_frag_later), DEC_IP,
	  PKT_F_FRAG | PKT_F_FRAG_LATER, 0x0800, 0, 4, 17, A4, 0, 0, 0, 64, 14, 0, 36, 16, 0x1234,
	  1480 },
	{ "icmp_echo", T_EN10MB, FR(f_icmp_echo), DEC_IP, F_L4, 0x0800, 0, 4, 1, A4, 8, 0, 0, 64,
	  14, 34, 36, 8, 2, 0 },
	{ "icmp6_echo", T_EN10MB, FR(f_icmp6_echo), DEC_IP, F_L4, 0x86dd, 0, 6, 58, A6, 128, 0, 0,
	  64, 14, 54, 52, 4, 0, 0 },
	{ "sctp", T_EN10MB, FR(f_sctp), DEC_IP, F_L4, 0x0800, 0, 4, 132, A4, 2905, 2906, 0, 64, 14,
	  34, 48, 16, 3, 0 },
	{ "arp", T_EN10MB, FR(f_arp), DEC_NONIP, 0, 0x0806, 0, 0, 0, NULL, NULL, 0, 0, 0, 0, 14, 0,
	  0, 0, 0, 0 },
	{ "bad_ihl", T_EN10MB, FR(f_bad_ihl), DEC_MALFORMED, 0, 0x0800, 0, 0, 0, NULL, NULL, 0, 0,
	  0, 0, 14, 0, 0, 0, 0, 0 },
	{ "bad_version", T_EN10MB, FR(f_bad_ver), DEC_MALFORMED, 0, 0x0800, 0, 0, 0, NULL, NULL, 0,
	  0, 0, 0, 14, 0, 0, 0, 0, 0 },
	{ "totlen_lt_ihl", T_EN10MB, FR(f_totlen_short), DEC_MALFORMED, 0, 0x0800, 0, 0, 6, A4, 0,
	  0, 0, 64, 14, 0, 0, 0, 1, 0 },
	{ "totlen_zero", T_EN10MB, FR(f_totlen_zero), DEC_MALFORMED, 0, 0x0800, 0, 0, 6, A4, 0, 0,
	  0, 64, 14, 0, 0, 0, 1, 0 },
	{ "tcp_doff4", T_EN10MB, FR(f_tcp_doff4), DEC_MALFORMED, 0, 0x0800, 0, 0, 6, A4, 1, 2, 0,
	  64, 14, 34, 40, 0, 1, 0 },
	{ "udp_cut_by_iplen", T_EN10MB, FR(f_udp_iplen_short), DEC_IP, PKT_F_TRUNC_L4, 0x0800, 0,
	  4, 17, A4, 0, 0, 0, 64, 14, 34, 24, 0, 1, 0 },
	{ "eth_padding", T_EN10MB, FR(f_eth_padding), DEC_IP, F_L4, 0x0800, 0, 4, 17, A4, 67, 68,
	  0, 64, 14, 34, 28, 0, 1, 0 },
	{ "gre", T_EN10MB, FR(f_gre), DEC_IP, 0, 0x0800, 0, 4, 47, A4, 0, 0, 0, 64, 14, 34, 28, 8,
	  1, 0 },
	{ "llc_snap", T_EN10MB, FR(f_snap), DEC_IP, F_L4, 0x0800, 0, 4, 17, A4, 1, 2, 0, 64, 22, 42,
	  28, 0, 1, 0 },
	{ "llc_stp", T_EN10MB, FR(f_llc_stp), DEC_NONIP, 0, 0, 0, 0, 0, NULL, NULL, 0, 0, 0, 0, 14,
	  0, 0, 0, 0, 0 },
	{ "vlan_x5", T_EN10MB, FR(f_vlan5), DEC_NONIP, PKT_F_VLAN, 0x8100, 1, 0, 0, NULL, NULL, 0,
	  0, 0, 0, 30, 0, 0, 0, 0, 0 },
	{ "pppoe", T_EN10MB, FR(f_pppoe), DEC_IP, F_L4, 0x8864, 0, 4, 17, A4, 1, 2, 0, 64, 22, 42,
	  28, 0, 1, 0 },
	{ "mpls", T_EN10MB, FR(f_mpls), DEC_IP, F_L4, 0x8847, 0, 4, 6, A4, 1234, 22, TCPF_ACK, 64,
	  22, 42, 40, 0, 1, 0 },
	{ "vlan_ip6_udp", T_EN10MB, FR(f_vlan_ip6_udp), DEC_IP, F_L4 | PKT_F_VLAN, 0x86dd, 10, 6,
	  17, A6, 546, 547, 0, 64, 18, 58, 48, 0, 0, 0 },
	{ "ip6_ext_cut", T_EN10MB, FR(f_ip6_ext_cut), DEC_IP, PKT_F_IPOPT | PKT_F_TRUNC_L4, 0x86dd,
	  0, 6, 0, A6, 0, 0, 0, 64, 14, 0, 56, 0, 0, 0 },
	{ "ip6_ext_too_long", T_EN10MB, FR(f_ip6_ext_long), DEC_MALFORMED, PKT_F_IPOPT, 0x86dd, 0,
	  0, 0, A6, 0, 0, 0, 64, 14, 0, 48, 0, 0, 0 },
	{ "ip6_no_next", T_EN10MB, FR(f_ip6_nonext), DEC_IP, 0, 0x86dd, 0, 6, 59, A6, 0, 0, 0, 64,
	  14, 54, 40, 0, 0, 0 },
	{ "ip6_ah_tcp", T_EN10MB, FR(f_ip6_ah), DEC_IP, F_L4 | PKT_F_IPOPT, 0x86dd, 0, 6, 6, A6, 179,
	  40000, TCPF_PSH | TCPF_ACK, 64, 14, 78, 84, 0, 0, 0 },
	{ "null_le_icmp", T_NULL, FR(f_null_le), DEC_IP, F_L4, 0x0800, 0, 4, 1, A4, 0, 0, 0, 64, 4,
	  24, 28, 0, 1, 0 },
	{ "null_be_udp", T_NULL, FR(f_null_be), DEC_IP, F_L4, 0x0800, 0, 4, 17, A4, 9, 9, 0, 64, 4,
	  24, 28, 0, 1, 0 },
	{ "null_v6_darwin", T_NULL, FR(f_null_v6_30), DEC_IP, F_L4, 0x86dd, 0, 6, 17, A6, 9, 9, 0,
	  64, 4, 44, 48, 0, 0, 0 },
	{ "null_v6_openbsd_be", T_NULL, FR(f_null_v6_24), DEC_IP, F_L4, 0x86dd, 0, 6, 17, A6, 9, 9,
	  0, 64, 4, 44, 48, 0, 0, 0 },
	{ "null_other_af", T_NULL, FR(f_null_other), DEC_NONIP, 0, 0, 0, 0, 0, NULL, NULL, 0, 0, 0,
	  0, 4, 0, 0, 0, 0, 0 },
	{ "loop_tcp", T_LOOP, FR(f_loop), DEC_IP, F_L4, 0x0800, 0, 4, 6, A4, 5000, 6000,
	  TCPF_FIN | TCPF_ACK, 64, 4, 24, 40, 0, 1, 0 },
	{ "loop_le_af", T_LOOP, FR(f_loop_le), DEC_NONIP, 0, 0, 0, 0, 0, NULL, NULL, 0, 0, 0, 0, 4,
	  0, 0, 0, 0, 0 },
	{ "raw12_udp", T_RAW, FR(f_raw4_udp), DEC_IP, F_L4, 0x0800, 0, 4, 17, A4, 123, 123, 0, 64,
	  0, 20, 28, 0, 1, 0 },
	{ "raw14_udp", T_RAW_BSD, FR(f_raw4_udp), DEC_IP, F_L4, 0x0800, 0, 4, 17, A4, 123, 123, 0,
	  64, 0, 20, 28, 0, 1, 0 },
	{ "raw101_udp", T_LT_RAW, FR(f_raw4_udp), DEC_IP, F_L4, 0x0800, 0, 4, 17, A4, 123, 123, 0,
	  64, 0, 20, 28, 0, 1, 0 },
	{ "ipv4_udp", T_IPV4, FR(f_raw4_udp), DEC_IP, F_L4, 0x0800, 0, 4, 17, A4, 123, 123, 0, 64,
	  0, 20, 28, 0, 1, 0 },
	{ "ipv4_given_v6", T_IPV4, FR(f_raw6_tcp), DEC_MALFORMED, 0, 0x0800, 0, 0, 0, NULL, NULL,
	  0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "ipv6_tcp_rst", T_IPV6, FR(f_raw6_tcp), DEC_IP, F_L4, 0x86dd, 0, 6, 6, A6, 80, 1025,
	  TCPF_RST, 64, 0, 40, 60, 0, 0, 0 },
	{ "raw_tcp6", T_RAW, FR(f_raw6_tcp), DEC_IP, F_L4, 0x86dd, 0, 6, 6, A6, 80, 1025, TCPF_RST,
	  64, 0, 40, 60, 0, 0, 0 },
	{ "raw_bad_version", T_RAW, FR(f_raw_bad), DEC_MALFORMED, 0, 0, 0, 0, 0, NULL, NULL, 0, 0,
	  0, 0, 0, 0, 0, 0, 0, 0 },
	{ "ppp_ip4", T_PPP, FR(f_ppp_ip4), DEC_IP, F_L4, 0x0800, 0, 4, 17, A4, 53, 53, 0, 64, 4, 24,
	  28, 0, 1, 0 },
	{ "ppp_serial_ip4", T_PPP_SERIAL, FR(f_ppp_ip4), DEC_IP, F_L4, 0x0800, 0, 4, 17, A4, 53, 53,
	  0, 64, 4, 24, 28, 0, 1, 0 },
	{ "ppp_pfc_ip6", T_PPP, FR(f_ppp_pfc_ip6), DEC_IP, F_L4, 0x86dd, 0, 6, 17, A6, 53, 53, 0,
	  64, 1, 41, 48, 0, 0, 0 },
	{ "ppp_lcp", T_PPP, FR(f_ppp_lcp), DEC_NONIP, 0, 0, 0, 0, 0, NULL, NULL, 0, 0, 0, 0, 4, 0,
	  0, 0, 0, 0 },
	{ "chdlc_ip4", T_C_HDLC, FR(f_chdlc), DEC_IP, F_L4, 0x0800, 0, 4, 17, A4, 520, 520, 0, 64, 4,
	  24, 28, 0, 1, 0 },
	{ "ppp_serial_chdlc", T_PPP_SERIAL, FR(f_chdlc), DEC_IP, F_L4, 0x0800, 0, 4, 17, A4, 520,
	  520, 0, 64, 4, 24, 28, 0, 1, 0 },
	{ "unsupported_dlt", T_IEEE802_11, FR(f_eth_tcp_syn), DEC_UNSUPPORTED, 0, 0, 0, 0, 0, NULL,
	  NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
};

/* clang-format on */

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* Decodes a copy of exactly caplen bytes, so ASan reports any read past caplen. */
static int decode_copy(int dlt, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
		       struct pkt_meta *m)
{
	uint8_t *copy = malloc(caplen ? caplen : 1);
	int ret;

	if (!copy)
		abort();
	if (caplen)
		memcpy(copy, frame, caplen);
	ret = decode_packet(dlt, caplen ? copy : NULL, caplen, wirelen, m);
	free(copy);
	return ret;
}

static int check_case(const struct dcase *c)
{
	struct pkt_meta m;
	char buf[64];
	int before = th_failed_checks;
	int ret = decode_copy(c->dlt, c->frame, c->len, c->len, &m);

	CHECK_EQ_INT(ret, c->ret);
	CHECK_EQ_INT(m.caplen, c->len);
	CHECK_EQ_INT(m.wirelen, c->len);
	CHECK_EQ_INT(m.flags, c->flags);
	CHECK_EQ_INT(m.ethertype, c->ethertype);
	CHECK_EQ_INT(m.vlan, c->vlan);
	CHECK_EQ_INT(m.ip_version, c->ipv);
	CHECK_EQ_INT(m.proto, c->proto);
	if (c->src) {
		int v = strchr(c->src, ':') ? 6 : 4;
		CHECK_EQ_STR(decode_addr_str(v, m.src, buf, sizeof buf), c->src);
		CHECK_EQ_STR(decode_addr_str(v, m.dst, buf, sizeof buf), c->dst);
	} else {
		static const uint8_t zero[16];
		CHECK(memcmp(m.src, zero, 16) == 0);
		CHECK(memcmp(m.dst, zero, 16) == 0);
	}
	CHECK_EQ_INT(m.sport, c->sport);
	CHECK_EQ_INT(m.dport, c->dport);
	CHECK_EQ_INT(m.tcp_flags, c->tcp_flags);
	CHECK_EQ_INT(m.ttl, c->ttl);
	CHECK_EQ_INT(m.l3_off, c->l3_off);
	CHECK_EQ_INT(m.l4_off, c->l4_off);
	CHECK_EQ_INT(m.ip_len, c->ip_len);
	CHECK_EQ_INT(m.l4_payload, c->l4_payload);
	CHECK_EQ_INT(m.frag_id, c->frag_id);
	CHECK_EQ_INT(m.frag_off, c->frag_off);
	if (th_failed_checks != before)
		fprintf(stdout, "  ... in case %s\n", c->name);
	return th_failed_checks == before;
}

static void test_table(void)
{
	for (size_t i = 0; i < NCASES; i++)
		check_case(&cases[i]);
}

/* Properties that hold for any input. */
static void check_invariants(int ret, const struct pkt_meta *m, uint32_t caplen, const char *name)
{
	int before = th_failed_checks;

	CHECK(ret >= DEC_IP && ret <= DEC_UNSUPPORTED);
	CHECK_EQ_INT(m->caplen, caplen);
	if (ret == DEC_IP) {
		CHECK(m->ip_version == 4 || m->ip_version == 6);
		CHECK(m->l3_off + (m->ip_version == 4 ? 20u : 40u) <= caplen);
	} else {
		CHECK_EQ_INT(m->ip_version, 0);
	}
	if (m->flags & PKT_F_L4) {
		CHECK(!(m->flags & (PKT_F_TRUNC_L4 | PKT_F_FRAG_LATER)));
		CHECK(m->l4_off > m->l3_off);
		CHECK(m->l4_off + 8u <= caplen);
	}
	if (m->flags & PKT_F_FRAG_LATER)
		CHECK(m->flags & PKT_F_FRAG);
	CHECK(m->l4_payload <= m->ip_len);
	if (th_failed_checks != before)
		fprintf(stdout, "  ... in %s at caplen %u\n", name, caplen);
}

/* Every table frame at every caplen: no read past caplen, and the invariants hold. */
static void test_truncation_all(void)
{
	for (size_t i = 0; i < NCASES; i++) {
		const struct dcase *c = &cases[i];
		for (uint32_t cl = 0; cl <= c->len; cl++) {
			struct pkt_meta m;
			int ret = decode_copy(c->dlt, c->frame, cl, c->len, &m);
			check_invariants(ret, &m, cl, c->name);
			if (c->ret == DEC_UNSUPPORTED)
				CHECK_EQ_INT(ret, DEC_UNSUPPORTED);
			if (c->ret == DEC_NONIP && cl == c->len)
				CHECK_EQ_INT(ret, DEC_NONIP);
		}
	}
}

/* Ethernet/IPv4/TCP SYN cut at every length: exactly what is reported where. */
static void test_truncation_tcp(void)
{
	const uint32_t len = sizeof f_eth_tcp_syn;

	for (uint32_t cl = 0; cl <= len; cl++) {
		struct pkt_meta m;
		int ret = decode_copy(T_EN10MB, f_eth_tcp_syn, cl, len, &m);
		int before = th_failed_checks;

		CHECK_EQ_INT(m.wirelen, len);
		if (cl < 14) {
			CHECK_EQ_INT(ret, DEC_MALFORMED);
			CHECK_EQ_INT(m.ethertype, 0);
		} else if (cl < 34) {
			CHECK_EQ_INT(ret, DEC_MALFORMED);
			CHECK_EQ_INT(m.ethertype, 0x0800);
			CHECK_EQ_INT(m.l3_off, 14);
			CHECK_EQ_INT(m.ip_version, 0);
		} else if (cl < 54) {
			CHECK_EQ_INT(ret, DEC_IP);
			CHECK_EQ_INT(m.flags, PKT_F_TRUNC_L4);
			CHECK_EQ_INT(m.proto, 6);
			CHECK_EQ_INT(m.ip_len, 60);
			CHECK_EQ_INT(m.l4_off, 34);
			CHECK_EQ_INT(m.sport, 0);
			CHECK(memcmp(m.src, f_eth_tcp_syn + 26, 4) == 0);
			CHECK(memcmp(m.dst, f_eth_tcp_syn + 30, 4) == 0);
		} else {
			/* options cut: the fixed header is enough */
			CHECK_EQ_INT(ret, DEC_IP);
			CHECK_EQ_INT(m.flags, PKT_F_L4);
			CHECK_EQ_INT(m.sport, 51000);
			CHECK_EQ_INT(m.dport, 80);
			CHECK_EQ_INT(m.tcp_flags, TCPF_SYN);
			CHECK_EQ_INT(m.l4_payload, 0);
		}
		if (th_failed_checks != before)
			fprintf(stdout, "  ... at caplen %u\n", cl);
	}
}

/* IPv6 with hop-by-hop + fragment header cut at every length. */
static void test_truncation_ip6_ext(void)
{
	const uint32_t len = sizeof f_raw6_hbh_frag;

	for (uint32_t cl = 0; cl <= len; cl++) {
		struct pkt_meta m;
		int ret = decode_copy(T_RAW, f_raw6_hbh_frag, cl, len, &m);
		int before = th_failed_checks;

		if (cl < 40) {
			CHECK_EQ_INT(ret, DEC_MALFORMED);
		} else if (cl < 48) { /* hop-by-hop not all there */
			CHECK_EQ_INT(ret, DEC_IP);
			CHECK_EQ_INT(m.flags, PKT_F_IPOPT | PKT_F_TRUNC_L4);
			CHECK_EQ_INT(m.proto, 0);
		} else if (cl < 56) { /* fragment header not all there */
			CHECK_EQ_INT(ret, DEC_IP);
			CHECK_EQ_INT(m.flags, PKT_F_IPOPT | PKT_F_TRUNC_L4);
			CHECK_EQ_INT(m.proto, 44);
		} else if (cl < 64) { /* UDP header not all there */
			CHECK_EQ_INT(ret, DEC_IP);
			CHECK_EQ_INT(m.flags, PKT_F_IPOPT | PKT_F_FRAG | PKT_F_TRUNC_L4);
			CHECK_EQ_INT(m.proto, 17);
			CHECK_EQ_INT(m.frag_id, 0xdeadbeef);
			CHECK_EQ_INT(m.l4_off, 56);
		} else {
			CHECK_EQ_INT(ret, DEC_IP);
			CHECK_EQ_INT(m.flags, PKT_F_IPOPT | PKT_F_FRAG | PKT_F_L4);
		}
		if (th_failed_checks != before)
			fprintf(stdout, "  ... at caplen %u\n", cl);
	}
}

/* IPv4 header cut inside its options: the IP header itself is truncated. */
static void test_ip4_options_cut(void)
{
	struct pkt_meta m;

	CHECK_EQ_INT(decode_copy(T_EN10MB, f_ip4_opt, 36, sizeof f_ip4_opt, &m), DEC_MALFORMED);
	CHECK_EQ_INT(decode_copy(T_EN10MB, f_ip4_opt, 38, sizeof f_ip4_opt, &m), DEC_IP);
	CHECK_EQ_INT(m.flags, PKT_F_IPOPT | PKT_F_TRUNC_L4);
}

/*
 * GSO / BIG TCP: an IPv4 total length of 0 (IPv6 payload length 0) on a frame longer than 64 KiB
 * means "as long as the frame", as tcpdump reads it.
 */
static void test_big_tcp(void)
{
	struct pkt_meta m;
	uint8_t f4[sizeof f_eth_tcp_syn], f6[sizeof f_sll2_tcp6];

	memcpy(f4, f_eth_tcp_syn, sizeof f4);
	f4[16] = 0;
	f4[17] = 0;
	CHECK_EQ_INT(decode_copy(T_EN10MB, f4, sizeof f4, 80066, &m), DEC_IP);
	CHECK_EQ_INT(m.ip_len, 80066 - 14);
	CHECK_EQ_INT(m.l4_payload, 80066 - 14 - 20 - 40);
	CHECK_EQ_INT(m.flags, PKT_F_L4);
	/* the same header on a short frame is just broken */
	CHECK_EQ_INT(decode_copy(T_EN10MB, f4, sizeof f4, sizeof f4, &m), DEC_MALFORMED);

	memcpy(f6, f_sll2_tcp6, sizeof f6);
	f6[20 + 4] = 0;
	f6[20 + 5] = 0;
	CHECK_EQ_INT(decode_copy(T_SLL2, f6, sizeof f6, 80054, &m), DEC_IP);
	CHECK_EQ_INT(m.ip_len, 80054 - 20);
	CHECK_EQ_INT(m.l4_payload, 80054 - 20 - 40 - 20);
	CHECK_EQ_INT(decode_copy(T_SLL2, f6, sizeof f6, sizeof f6, &m), DEC_IP);
	CHECK_EQ_INT(m.ip_len, 40);
	CHECK_EQ_INT(m.flags, PKT_F_TRUNC_L4);
}

/* TCP header longer than the IP payload: payload length clamps at 0, never wraps. */
static void test_tcp_payload_never_negative(void)
{
	struct pkt_meta m;
	uint8_t f[sizeof f_eth_tcp_syn];

	memcpy(f, f_eth_tcp_syn, sizeof f);
	f[17] = 50; /* total length 50: 30 bytes for a 40-byte TCP header */
	CHECK_EQ_INT(decode_copy(T_EN10MB, f, sizeof f, sizeof f, &m), DEC_IP);
	CHECK_EQ_INT(m.flags, PKT_F_L4);
	CHECK_EQ_INT(m.l4_payload, 0);
	CHECK_EQ_INT(m.ip_len, 50);
}

static void test_null_data(void)
{
	struct pkt_meta m;

	memset(&m, 0xa5, sizeof m);
	CHECK_EQ_INT(decode_packet(T_EN10MB, NULL, 0, 60, &m), DEC_MALFORMED);
	CHECK_EQ_INT(m.caplen, 0);
	CHECK_EQ_INT(m.wirelen, 60);
	CHECK_EQ_INT(m.flags, 0);
	CHECK_EQ_INT(decode_packet(T_RAW, NULL, 0, 0, &m), DEC_MALFORMED);
	CHECK_EQ_INT(decode_packet(T_IEEE802_11, NULL, 0, 0, &m), DEC_UNSUPPORTED);
}

/* Every field is zeroed, whatever was in the struct before. */
static void test_zeroes_meta(void)
{
	struct pkt_meta m;

	memset(&m, 0xa5, sizeof m);
	CHECK_EQ_INT(decode_copy(T_EN10MB, f_arp, sizeof f_arp, sizeof f_arp, &m), DEC_NONIP);
	CHECK_EQ_INT(m.flags, 0);
	CHECK_EQ_INT(m.ip_version, 0);
	CHECK_EQ_INT(m.sport, 0);
	CHECK_EQ_INT(m.ip_len, 0);
	CHECK_EQ_INT(m.frag_id, 0);
	CHECK_EQ_INT(m.src[15], 0);
}

static void test_dlt_supported(void)
{
	/* clang-format off */
	static const int yes[] = { T_NULL, T_EN10MB, T_PPP, T_RAW, T_RAW_BSD, T_PPP_SERIAL,
				   T_LT_RAW, T_C_HDLC, T_LOOP, T_SLL, T_IPV4, T_IPV6, T_SLL2 };
	static const int no[] = { -1, 2, 105, 127, 192, 239, 1000, 65536 + 1 };
	/* clang-format on */

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		CHECK(decode_dlt_supported(yes[i]));
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		struct pkt_meta m;
		CHECK(!decode_dlt_supported(no[i]));
		CHECK_EQ_INT(decode_packet(no[i], f_eth_tcp_syn, sizeof f_eth_tcp_syn,
					   sizeof f_eth_tcp_syn, &m),
			     DEC_UNSUPPORTED);
	}
}

static void test_addr_str(void)
{
	/* clang-format off */
	static const uint8_t v4[16] = { 10, 1, 2, 3 };
	static const uint8_t v6[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x11, 0x22, 0xff,
					0xfe, 0x33, 0x44, 0x55 };
	static const uint8_t mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4 };
	/* clang-format on */
	char buf[46], small[8];

	CHECK_EQ_STR(decode_addr_str(4, v4, buf, sizeof buf), "10.1.2.3");
	CHECK_EQ_STR(decode_addr_str(6, v6, buf, sizeof buf), "fe80::211:22ff:fe33:4455");
	CHECK_EQ_STR(decode_addr_str(6, mapped, buf, sizeof buf), "::ffff:1.2.3.4");
	CHECK_EQ_STR(decode_addr_str(0, v4, buf, sizeof buf), "?");
	CHECK_EQ_STR(decode_addr_str(6, v6, small, sizeof small), "?");
	CHECK(decode_addr_str(4, v4, buf, sizeof buf) == buf);
}

/* 802.1Q priority tag (VID 0) and a VLAN-tagged frame inside SLL. */
static void test_vlan_edge(void)
{
	/* clang-format off */
	static const uint8_t prio[] = { ETH(0x8100), B2(0xe000), B2(0x0800), IP4(28, 1, 0, 17),
					UDP(1, 2, 8) };
	static const uint8_t sll_vlan[] = { B2(0), B2(1), B2(6), 0, 1, 2, 3, 4, 5, 0, 0,
					    B2(0x8100), B2(42), B2(0x0800), IP4(28, 1, 0, 17),
					    UDP(1, 2, 8) };
	static const uint8_t vlan_arp[] = { ETH(0x8100), B2(7), B2(0x0806), B2(1), B2(0x0800),
					    6, 4, B2(1) };
	/* clang-format on */
	struct pkt_meta m;

	CHECK_EQ_INT(decode_copy(T_EN10MB, prio, sizeof prio, sizeof prio, &m), DEC_IP);
	CHECK_EQ_INT(m.flags, PKT_F_VLAN | PKT_F_L4);
	CHECK_EQ_INT(m.vlan, 0);
	CHECK_EQ_INT(decode_copy(T_SLL, sll_vlan, sizeof sll_vlan, sizeof sll_vlan, &m), DEC_IP);
	CHECK_EQ_INT(m.vlan, 42);
	CHECK_EQ_INT(m.l3_off, 20);
	CHECK_EQ_INT(decode_copy(T_EN10MB, vlan_arp, sizeof vlan_arp, sizeof vlan_arp, &m),
		     DEC_NONIP);
	CHECK_EQ_INT(m.ethertype, 0x0806);
	CHECK_EQ_INT(m.vlan, 7);
	CHECK_EQ_INT(m.flags, PKT_F_VLAN);
}

/* Unknown IPv6 upper layers and long extension chains end the walk without reading on. */
static void test_ip6_chain_limit(void)
{
	uint8_t f[40 + 17 * 8];
	struct pkt_meta m;

	memcpy(f, f_raw6_tcp, 40);
	f[4] = 0;
	f[5] = 17 * 8;
	f[6] = 60;
	for (int i = 0; i < 17; i++) {
		uint8_t *h = f + 40 + i * 8;
		memset(h, 0, 8);
		h[0] = 60;
	}
	CHECK_EQ_INT(decode_copy(T_RAW, f, sizeof f, sizeof f, &m), DEC_IP);
	CHECK_EQ_INT(m.proto, 60);
	CHECK_EQ_INT(m.flags, PKT_F_IPOPT);
}

int main(void)
{
	th_suite = "unit/decode";
	RUN(test_table);
	RUN(test_truncation_all);
	RUN(test_truncation_tcp);
	RUN(test_truncation_ip6_ext);
	RUN(test_ip4_options_cut);
	RUN(test_big_tcp);
	RUN(test_tcp_payload_never_negative);
	RUN(test_null_data);
	RUN(test_zeroes_meta);
	RUN(test_dlt_supported);
	RUN(test_addr_str);
	RUN(test_vlan_edge);
	RUN(test_ip6_chain_limit);
	return test_main_end();
}
