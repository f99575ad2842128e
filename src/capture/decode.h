/*
 * decode.h - link, network and transport headers of one captured frame -> struct pkt_meta.
 *
 * DESIGN: the decoder never trusts packet bytes. Every read goes through extract.h against the
 * captured length; a frame that ends early or carries impossible lengths is reported as
 * DEC_MALFORMED with as much as could be read filled in, and never read past caplen.
 * It allocates nothing and keeps no state: one call per frame, safe from any thread.
 */
#ifndef RINGCAP_DECODE_H
#define RINGCAP_DECODE_H

#include <stdint.h>

/* Result of decode_packet(). */
enum dec_result {
	DEC_IP = 0,        /* IPv4/IPv6 decoded (transport fields valid if PKT_F_L4 is set) */
	DEC_NONIP = 1,     /* a well-formed frame that is not IP (ARP, STP, LLDP, ...) */
	DEC_MALFORMED = 2, /* truncated or inconsistent headers; fields decoded so far are kept */
	DEC_UNSUPPORTED = 3 /* the link type is not one the decoder knows */
};

/* pkt_meta.flags */
#define PKT_F_VLAN      0x0001 /* at least one 802.1Q/802.1ad tag */
#define PKT_F_L4        0x0002 /* sport/dport (or ICMP type/code) and tcp_flags are valid */
#define PKT_F_FRAG      0x0004 /* an IP fragment (IPv4 MF/offset or IPv6 fragment header) */
#define PKT_F_FRAG_LATER 0x0008 /* a fragment with offset > 0: no transport header in it */
#define PKT_F_IPOPT     0x0010 /* IPv4 options or IPv6 extension headers were present */
#define PKT_F_TRUNC_L4  0x0020 /* IP header fine, transport header cut by caplen */

/* TCP flag bits as on the wire (byte 13 of the TCP header). */
#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_PSH 0x08
#define TCPF_ACK 0x10
#define TCPF_URG 0x20
#define TCPF_ECE 0x40
#define TCPF_CWR 0x80

struct pkt_meta {
	uint32_t caplen;     /* bytes captured */
	uint32_t wirelen;    /* bytes on the wire */
	uint16_t flags;      /* PKT_F_* */
	uint16_t vlan;       /* VID of the outermost 802.1Q/802.1ad tag, 0 if none */
	uint16_t ethertype;  /* ethertype of the network layer after any VLAN tags, 0 if unknown */
	uint8_t ip_version;  /* 4 or 6 when DEC_IP, else 0 */
	uint8_t proto;       /* transport protocol (after IPv6 extension headers) */
	uint8_t src[16];     /* source address: IPv4 in the first 4 bytes, rest zero */
	uint8_t dst[16];     /* destination address, same layout */
	uint16_t sport;      /* TCP/UDP/SCTP source port; ICMP/ICMPv6: type */
	uint16_t dport;      /* TCP/UDP/SCTP destination port; ICMP/ICMPv6: code */
	uint8_t tcp_flags;   /* TCPF_* of this segment */
	uint8_t ttl;         /* IPv4 TTL / IPv6 hop limit */
	uint32_t frag_id;    /* IPv4 identification or IPv6 fragment identification */
	uint16_t frag_off;   /* fragment offset in bytes */
	uint16_t l3_off;     /* offset of the IP header in the frame */
	uint16_t l4_off;     /* offset of the transport header, 0 if none */
	uint32_t ip_len;     /* IP total length from the header (IPv6: 40 + payload length) */
	uint32_t l4_payload; /* transport payload length from IP lengths (TCP: like tcp.len) */
};

/*
 * Decodes one frame captured on a link of type dlt (a DLT_* value as pcap_datalink() returns).
 * Fills *m (zeroing it first) and returns an enum dec_result. Never fails otherwise.
 */
int decode_packet(int dlt, const uint8_t *data, uint32_t caplen, uint32_t wirelen,
		  struct pkt_meta *m);

/* Nonzero if decode_packet() knows the link type dlt. */
int decode_dlt_supported(int dlt);

/*
 * Formats an address of pkt_meta (ip_version 4 or 6) into buf (at least 46 bytes), the way
 * inet_ntop does. Returns buf.
 */
const char *decode_addr_str(int ip_version, const uint8_t addr[16], char *buf, unsigned len);

#endif
