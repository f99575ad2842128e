/*
 * mkflood - test tool: writes a synthetic Ethernet capture made of phases, each a number of
 * packets at a steady rate, so that incident tests know exactly where a flood starts and ends.
 *
 *   mkflood -o OUT.pcap PHASE...
 *   PHASE = KIND:PACKETS:PPS     KIND: quiet (a mix of TCP data, UDP and DNS between a few hosts),
 *                                 syn (TCP SYN to 10.9.9.9:80 from many sources), udp (UDP to
 *                                 10.9.9.9), icmp (echo requests to 10.9.9.9), dnsamp (large DNS
 *                                 responses from port 53 to 10.9.9.9), gap (no packets: PACKETS
 *                                 is the number of milliseconds)
 * Every packet carries its index in its payload, so all packets differ. Time starts at
 * 2024-01-01T00:00:00Z. For each phase it prints "phase KIND first=INDEX start=SEC.USEC
 * end=SEC.USEC" on stdout (index 1-based, as `sed -n Np` counts).
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static unsigned csum(const uint8_t *p, unsigned n)
{
	uint32_t s = 0;
	for (unsigned i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s & 0xffff;
}

/* Builds one frame of the given kind; returns its length. */
static unsigned frame(uint8_t *f, const char *kind, uint32_t idx)
{
	unsigned proto, l4len, paylen = 16;
	uint32_t src = 0x0a000001 + (idx % 7), dst = 0x0a090909;
	uint16_t sport = (uint16_t)(1024 + idx % 50000), dport = 80;
	uint8_t flags = 0x18;
	memset(f, 0, 1514);
	memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
	if (strcmp(kind, "quiet") == 0) {
		src = 0x0a000001 + idx % 3;
		dst = 0x0a000064 + idx % 2;
		switch (idx % 3) {
		case 0:
			proto = 6, dport = 443, paylen = 200;
			break;
		case 1:
			proto = 17, dport = 53, paylen = 40;
			break;
		default:
			proto = 6, dport = 22, paylen = 60, flags = 0x10;
			break;
		}
		sport = (uint16_t)(40000 + idx % 5);
	} else if (strcmp(kind, "syn") == 0) {
		proto = 6, flags = 0x02, paylen = 4;
		src = 0xc0000000 + (idx * 2654435761u) % 0xffffff;
	} else if (strcmp(kind, "udp") == 0) {
		proto = 17, dport = 9999, paylen = 64;
	} else if (strcmp(kind, "icmp") == 0) {
		proto = 1, paylen = 56;
	} else { /* dnsamp */
		proto = 17, sport = 53, dport = (uint16_t)(1024 + idx % 60000), paylen = 1200;
		src = 0x08000000 + (idx * 40503u) % 0xffff;
	}
	l4len = proto == 6 ? 20 : 8;
	uint8_t *ip = f + 14, *l4 = ip + 20, *pay = l4 + l4len;
	unsigned iplen = 20 + l4len + paylen;
	ip[0] = 0x45;
	put16(ip + 2, iplen);
	put16(ip + 4, idx & 0xffff);
	ip[8] = 64;
	ip[9] = (uint8_t)proto;
	put32(ip + 12, src);
	put32(ip + 16, dst);
	put16(ip + 10, csum(ip, 20));
	if (proto == 6) {
		put16(l4, sport);
		put16(l4 + 2, dport);
		put32(l4 + 4, idx);
		l4[12] = 0x50;
		l4[13] = flags;
		put16(l4 + 14, 65535);
	} else if (proto == 17) {
		put16(l4, sport);
		put16(l4 + 2, dport);
		put16(l4 + 4, 8 + paylen);
	} else {
		l4[0] = 8;
		put16(l4 + 4, 0x1234);
		put16(l4 + 6, idx & 0xffff);
	}
	put32(pay, idx);
	for (unsigned i = 4; i < paylen; i++)
		pay[i] = (uint8_t)(idx + i);
	return 14 + iplen;
}

int main(int argc, char **argv)
{
	const char *out = NULL;
	int first = 1;
	if (argc >= 3 && strcmp(argv[1], "-o") == 0) {
		out = argv[2];
		first = 3;
	}
	if (!out || first >= argc) {
		fprintf(stderr, "usage: mkflood -o OUT.pcap KIND:PACKETS:PPS...\n");
		return 2;
	}
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *d = pcap_dump_open(dead, out);
	if (!d) {
		fprintf(stderr, "mkflood: %s\n", pcap_geterr(dead));
		return 1;
	}
	uint8_t f[1514];
	uint32_t idx = 0;
	int64_t t_ns = 1704067200LL * 1000000000LL;
	for (int i = first; i < argc; i++) {
		char kind[16];
		unsigned long n, pps = 1;
		if (sscanf(argv[i], "%15[a-z]:%lu:%lu", kind, &n, &pps) < 2 || pps == 0) {
			fprintf(stderr, "mkflood: bad phase `%s'\n", argv[i]);
			return 2;
		}
		if (strcmp(kind, "gap") == 0) {
			t_ns += (int64_t)n * 1000000;
			continue;
		}
		int64_t step = 1000000000LL / (int64_t)pps, start = t_ns;
		for (unsigned long k = 0; k < n; k++) {
			unsigned len = frame(f, kind, idx);
			struct pcap_pkthdr h = { .caplen = len, .len = len };
			h.ts.tv_sec = t_ns / 1000000000LL;
			h.ts.tv_usec = (t_ns % 1000000000LL) / 1000;
			pcap_dump((u_char *)d, &h, f);
			idx++;
			if (k + 1 < n)
				t_ns += step;
		}
		printf("phase %s first=%u start=%lld.%06lld end=%lld.%06lld\n", kind,
		       idx - (uint32_t)n + 1, (long long)(start / 1000000000LL),
		       (long long)(start % 1000000000LL / 1000), (long long)(t_ns / 1000000000LL),
		       (long long)(t_ns % 1000000000LL / 1000));
		t_ns += step;
	}
	pcap_dump_close(d);
	pcap_close(dead);
	return 0;
}
