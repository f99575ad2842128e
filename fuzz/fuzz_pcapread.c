/*
 * fuzz_pcapread.c - the fast classic-pcap reader against libpcap on untrusted bytes.
 *
 * The input is written to a file in $TMPDIR (or /tmp) and read by both pcapread and libpcap
 * (pcap_next_ex); abort() when they disagree: a file pcapread takes that libpcap cannot open, the
 * link type, snapshot length, any packet (timestamp, caplen, len, bytes), where the file ends,
 * whether that end is an error, and the error text. A file pcapread declines is left to libpcap
 * and not compared. The first input byte picks options:
 *   bit 0      nanosecond precision
 *   bits 1-2   read buffer: default, 64, 333 or 4096 bytes
 *   bits 3-4   filter: none, "ip", "tcp or udp", "not arp and len > 60"
 *   bit 5      read with pcapread_dispatch() (batches of 3) instead of pcapread_next()
 * Seeds in fuzz/corpus/pcapread/ are that byte followed by a capture file.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/pcapread.h"

static char path[256];

static void remove_file(void)
{
	unlink(path);
}

static void die(const char *what, long long a, long long b)
{
	fprintf(stderr, "fuzz_pcapread: pcapread and libpcap disagree: %s (%lld vs %lld)\n", what,
		a, b);
	abort();
}

static void same_packet(const struct pcap_pkthdr *lh, const u_char *ld,
			const struct pcap_pkthdr *ph, const uint8_t *pd)
{
	if (lh->ts.tv_sec != ph->ts.tv_sec)
		die("tv_sec", (long long)lh->ts.tv_sec, (long long)ph->ts.tv_sec);
	if (lh->ts.tv_usec != ph->ts.tv_usec)
		die("tv_usec", (long long)lh->ts.tv_usec, (long long)ph->ts.tv_usec);
	if (lh->caplen != ph->caplen)
		die("caplen", lh->caplen, ph->caplen);
	if (lh->len != ph->len)
		die("len", lh->len, ph->len);
	if (memcmp(ld, pd, lh->caplen) != 0)
		die("packet bytes", 0, 0);
}

struct lockstep {
	pcap_t *lp;
	long long n;
};

/* pcapread_dispatch() callback: libpcap's next packet must be this one */
static void on_packet(void *user, const struct pcap_pkthdr *h, const uint8_t *data)
{
	struct lockstep *ls = user;
	struct pcap_pkthdr *lh;
	const u_char *ld;
	int lrc = pcap_next_ex(ls->lp, &lh, &ld);
	if (lrc != 1)
		die("libpcap has no packet where pcapread has one", lrc, ls->n);
	same_packet(lh, ld, h, data);
	ls->n++;
}

/* both at their end: the same kind of end and the same message */
static void same_end(pcap_t *lp, int prc, const char *perr)
{
	struct pcap_pkthdr *lh;
	const u_char *ld;
	int lrc = pcap_next_ex(lp, &lh, &ld);
	if (prc == 0 && lrc == PCAP_ERROR_BREAK)
		return;
	if (prc == PCAPREAD_ERR && lrc == PCAP_ERROR) {
		if (strcmp(pcap_geterr(lp), perr) != 0) {
			fprintf(stderr, "libpcap: %s\npcapread: %s\n", pcap_geterr(lp), perr);
			die("error text", 0, 0);
		}
		return;
	}
	die("end of file (libpcap pcap_next_ex, pcapread)", lrc, prc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t bufsizes[] = { 0, 64, 333, 4096 };
	static const char *const filters[] = { NULL, "ip", "tcp or udp", "not arp and len > 60" };
	char ebuf[PCAP_ERRBUF_SIZE], perr[PCAP_ERRBUF_SIZE];
	if (size < 1)
		return 0;
	if (!path[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(path, sizeof path, "%s/fuzz_pcapread-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		int fd = mkstemp(path);
		if (fd < 0)
			abort();
		close(fd);
		atexit(remove_file);
	}
	uint8_t opt = data[0];
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	if (size > 1 && fwrite(data + 1, 1, size - 1, f) != size - 1)
		abort();
	fclose(f);

	int nano = opt & 1;
	const char *filter = filters[(opt >> 3) & 3];
	pcap_t *lp = pcap_open_offline_with_tstamp_precision(
		path, nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	struct pcapread_opts o = { .nano = nano, .bufsize = bufsizes[(opt >> 1) & 3] };
	pcapread_t *pr = pcapread_open(path, &o, perr, sizeof perr);
	if (!lp) {
		if (pr)
			die("pcapread took a file libpcap cannot open", 0, 1);
		return 0;
	}
	if (!pr) { /* declined: libpcap reads it */
		pcap_close(lp);
		return 0;
	}
	if (pcapread_datalink(pr) != pcap_datalink(lp))
		die("datalink", pcap_datalink(lp), pcapread_datalink(pr));
	if (pcapread_datalink_ext(pr) != pcap_datalink_ext(lp))
		die("datalink_ext", pcap_datalink_ext(lp), pcapread_datalink_ext(pr));
	if (pcapread_snapshot(pr) != pcap_snapshot(lp))
		die("snapshot", pcap_snapshot(lp), pcapread_snapshot(pr));
	if (filter) {
		struct bpf_program prog;
		int lrc = pcap_compile(lp, &prog, filter, 1, PCAP_NETMASK_UNKNOWN);
		int prc = pcapread_setfilter(pr, filter, perr, sizeof perr);
		if ((lrc == 0) != (prc == 0))
			die("filter compiles", lrc, prc);
		if (lrc != 0)
			goto out; /* e.g. no "ip" on this link type */
		if (pcap_setfilter(lp, &prog) != 0)
			abort();
		pcap_freecode(&prog);
	}
	if (opt & 0x20) {
		struct lockstep ls = { .lp = lp };
		int prc;
		while ((prc = pcapread_dispatch(pr, 3, on_packet, &ls, perr, sizeof perr)) > 0)
			;
		same_end(lp, prc, perr);
	} else {
		for (long long n = 0;; n++) {
			struct pcap_pkthdr *lh, ph;
			const u_char *ld;
			const uint8_t *pd;
			int prc = pcapread_next(pr, &ph, &pd, perr, sizeof perr);
			if (prc != 1) {
				same_end(lp, prc, perr);
				break;
			}
			int lrc = pcap_next_ex(lp, &lh, &ld);
			if (lrc != 1)
				die("libpcap has no packet where pcapread has one", lrc, n);
			same_packet(lh, ld, &ph, pd);
		}
	}
out:
	pcapread_close(pr);
	pcap_close(lp);
	return 0;
}
