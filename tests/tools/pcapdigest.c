/*
 * pcapdigest - test tool: reads capture files in order with libpcap and prints what they hold.
 *
 *   pcapdigest [--nano] FILE...          "<packets> <digest>" over every record's timestamp,
 *                                         captured length, wire length and bytes, across the files
 *   pcapdigest --list FILE...             one line per packet: "<digest of its bytes> <caplen>"
 *                                         (no timestamps: for comparing what was sent with what
 *                                         a live capture saw)
 * A file that ends with damage stops there with a message on stderr (as ringcap run does) and the
 * next file is read. Exit status 1 only if a file cannot be opened at all.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

int main(int argc, char **argv)
{
	int nano = 0, list = 0, ret = 0;
	uint64_t h = 0xcbf29ce484222325ULL, count = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--nano") == 0) {
			nano = 1;
			continue;
		}
		if (strcmp(argv[i], "--list") == 0) {
			list = 1;
			continue;
		}
		char ebuf[PCAP_ERRBUF_SIZE];
		pcap_t *p = pcap_open_offline_with_tstamp_precision(
			argv[i], nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO, ebuf);
		if (!p) {
			fprintf(stderr, "pcapdigest: %s: %s\n", argv[i], ebuf);
			ret = 1;
			continue;
		}
		struct pcap_pkthdr *hdr;
		const u_char *data;
		int rc;
		while ((rc = pcap_next_ex(p, &hdr, &data)) == 1) {
			count++;
			if (list) {
				uint64_t ph = fnv(0xcbf29ce484222325ULL, data, hdr->caplen);
				printf("%016llx %u\n", (unsigned long long)ph, hdr->caplen);
				continue;
			}
			/* seconds as classic pcap holds them: 32 bits */
			uint64_t rec[4] = { (uint32_t)hdr->ts.tv_sec, (uint64_t)hdr->ts.tv_usec,
					    hdr->caplen, hdr->len };
			h = fnv(h, rec, sizeof rec);
			h = fnv(h, data, hdr->caplen);
		}
		if (rc == PCAP_ERROR)
			fprintf(stderr, "pcapdigest: %s: %s\n", argv[i], pcap_geterr(p));
		pcap_close(p);
	}
	if (!list)
		printf("%llu %016llx\n", (unsigned long long)count, (unsigned long long)h);
	return ret;
}
