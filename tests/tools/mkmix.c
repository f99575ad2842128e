/*
 * mkmix - benchmark input generator: cycles through real Ethernet captures until it has written N
 * packets of mixed traffic, as one classic pcap with monotonic timestamps.
 *
 *   mkmix -n PACKETS -o OUT.pcap IN.pcap...
 *
 * Round k of the cycle adds k to the second byte of every IPv4 and IPv6 address (both directions
 * alike), so each round adds new flows instead of repeating the old ones, and shifts time so that
 * packets keep their original spacing (gaps capped at 50 ms). Inputs of other link types are
 * skipped.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void shift_addrs(u_char *d, uint32_t caplen, unsigned k)
{
	if (caplen < 14)
		return;
	unsigned et = (unsigned)d[12] << 8 | d[13];
	if (et == 0x0800 && caplen >= 34) {
		d[14 + 12 + 1] = (u_char)(d[14 + 12 + 1] + k);
		d[14 + 16 + 1] = (u_char)(d[14 + 16 + 1] + k);
	} else if (et == 0x86dd && caplen >= 54) {
		d[14 + 8 + 1] = (u_char)(d[14 + 8 + 1] + k);
		d[14 + 24 + 1] = (u_char)(d[14 + 24 + 1] + k);
	}
}

int main(int argc, char **argv)
{
	long want = 1000000;
	const char *out = NULL;
	int c;
	while ((c = getopt(argc, argv, "n:o:")) != -1) {
		if (c == 'n')
			want = strtol(optarg, NULL, 10);
		else if (c == 'o')
			out = optarg;
		else
			return 2;
	}
	if (!out || optind >= argc || want <= 0) {
		fprintf(stderr, "usage: mkmix -n PACKETS -o OUT.pcap IN.pcap...\n");
		return 2;
	}
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 262144);
	pcap_dumper_t *dump = pcap_dump_open(dead, out);
	if (!dump) {
		fprintf(stderr, "mkmix: %s\n", pcap_geterr(dead));
		return 1;
	}
	u_char *buf = malloc(262144);
	long n = 0;
	int64_t now_us = 1700000000LL * 1000000; /* 2023-11-14 */
	for (unsigned round = 0; n < want; round++) {
		int used = 0;
		for (int i = optind; i < argc && n < want; i++) {
			char eb[PCAP_ERRBUF_SIZE];
			pcap_t *p = pcap_open_offline(argv[i], eb);
			if (!p)
				continue;
			if (pcap_datalink(p) != DLT_EN10MB) {
				pcap_close(p);
				continue;
			}
			used = 1;
			struct pcap_pkthdr *h;
			const u_char *d;
			int64_t prev = -1;
			while (n < want && pcap_next_ex(p, &h, &d) == 1) {
				int64_t t = (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec;
				int64_t gap = prev < 0 ? 1000 : t - prev;
				if (gap < 0)
					gap = 0;
				if (gap > 50000)
					gap = 50000;
				prev = t;
				now_us += gap;
				uint32_t cl = h->caplen > 262144 ? 262144 : h->caplen;
				memcpy(buf, d, cl);
				shift_addrs(buf, cl, round);
				struct pcap_pkthdr oh = { .caplen = cl, .len = h->len };
				oh.ts.tv_sec = now_us / 1000000;
				oh.ts.tv_usec = now_us % 1000000;
				pcap_dump((u_char *)dump, &oh, buf);
				n++;
			}
			pcap_close(p);
		}
		if (!used) {
			fprintf(stderr, "mkmix: no Ethernet input\n");
			return 1;
		}
	}
	pcap_dump_close(dump);
	pcap_close(dead);
	free(buf);
	fprintf(stderr, "mkmix: %ld packets -> %s\n", n, out);
	return 0;
}
