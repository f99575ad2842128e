/*
 * analyze_file.c - see analyze.h (afile).
 *
 * DESIGN: libpcap reads the file (classic pcap in either byte order and precision, pcapng) and
 * recognises the format by its magic, whatever the extension says. libpcap's errors do not say
 * where the damage is, so after every good packet the position of its stdio stream is kept: when
 * the next read fails, that position is where the bad record (pcapng: block) starts.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analyze/analyze.h"

struct afile {
	pcap_t *p;
	FILE *fp;
	char *path;
	uint64_t size;
	uint64_t good_off;
	uint64_t packets;
	int dlt;
	uint32_t snaplen;
};

static uint64_t af_tell(FILE *fp, uint64_t fallback)
{
	off_t o = fp ? ftello(fp) : -1;
	return o >= 0 ? (uint64_t)o : fallback;
}

afile_t *afile_open(const char *path, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct afile *f = calloc(1, sizeof *f);
	struct stat st;

	if (!f || !(f->path = strdup(path))) {
		snprintf(err, errlen, "%s: out of memory", path);
		free(f);
		return NULL;
	}
	if (strcmp(path, "-") != 0) {
		if (stat(path, &st) != 0) {
			snprintf(err, errlen, "%s: cannot read at byte 0: %s", path,
				 strerror(errno));
			goto fail;
		}
		if (S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "%s: cannot read at byte 0: is a directory", path);
			goto fail;
		}
		if (S_ISREG(st.st_mode))
			f->size = (uint64_t)st.st_size;
	}
	f->p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, ebuf);
	if (!f->p) {
		snprintf(err, errlen, "%s: cannot read at byte 0: %s", path, ebuf);
		goto fail;
	}
	f->fp = pcap_file(f->p);
	f->good_off = af_tell(f->fp, 0);
	f->dlt = pcap_datalink(f->p);
	int snap = pcap_snapshot(f->p);
	f->snaplen = snap > 0 ? (uint32_t)snap : 262144;
	return f;
fail:
	afile_close(f);
	return NULL;
}

int afile_next(afile_t *f, struct apkt *p, char *err, size_t errlen)
{
	struct pcap_pkthdr *h;
	const u_char *d;
	int rc = pcap_next_ex(f->p, &h, &d);

	if (rc == 1) {
		p->ts_ns = (int64_t)h->ts.tv_sec * 1000000000 + (int64_t)h->ts.tv_usec;
		p->caplen = h->caplen;
		p->wirelen = h->len;
		p->data = d;
		p->dlt = f->dlt;
		f->packets++;
		f->good_off = af_tell(f->fp, f->good_off);
		return 1;
	}
	if (rc == PCAP_ERROR_BREAK)
		return 0;
	snprintf(err, errlen,
		 "%s: damaged at byte %llu: %s; the %llu packets before it were analysed", f->path,
		 (unsigned long long)f->good_off, pcap_geterr(f->p),
		 (unsigned long long)f->packets);
	return -1;
}

uint64_t afile_offset(const afile_t *f)
{
	return f->good_off;
}

uint64_t afile_size(const afile_t *f)
{
	return f->size;
}

uint64_t afile_packets(const afile_t *f)
{
	return f->packets;
}

int afile_dlt(const afile_t *f)
{
	return f->dlt;
}

uint32_t afile_snaplen(const afile_t *f)
{
	return f->snaplen;
}

const char *afile_path(const afile_t *f)
{
	return f->path;
}

void afile_close(afile_t *f)
{
	if (!f)
		return;
	if (f->p)
		pcap_close(f->p);
	free(f->path);
	free(f);
}
