/*
 * pcapfile.c - one classic pcap file written by hand with pwrite(2); see pcapfile.h.
 *
 * DESIGN: the object remembers `good', the size of the file made of the header and every record
 * written so far, and only ever writes at that offset with pwrite(), never through a file offset.
 * A failed or short write is undone by cutting the file back to `good' with ftruncate(); even if
 * that cut fails, the next write lands at `good' and a later successful write retries the cut, so
 * a reader never sees a torn record in the middle of the file. The buffer holds whole records
 * only; a record larger than the buffer is written directly (after the buffer) with pwritev().
 */
#include "outputs/pcapfile.h"

#include "base/clock.h"
#include "base/files.h"
#include "base/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define PCAPFILE_DEFAULT_BUF (1u << 20)
#define PCAPFILE_MAGIC_US 0xa1b2c3d4u
#define PCAPFILE_MAGIC_NS 0xa1b23c4du

/* repair: a caplen above max(snaplen, libpcap's MAXIMUM_SNAPLEN) but never above 256 MiB ends the
 * walk */
#define REPAIR_CAPLEN_FLOOR 262144u
#define REPAIR_CAPLEN_CEIL (256u << 20)
#define REPAIR_BUF (1u << 20)

struct pcapfile {
	int fd;
	int nano;
	int trunc_pending; /* a cut-back failed: bytes past `good' may be left-overs */
	uint8_t *buf;
	size_t bufsize;
	size_t buflen;
	uint64_t buf_records;
	uint64_t good; /* bytes on disk known whole: header and flushed records */
	struct pcapfile_stats st;

	/*
	 * opts.async: full buffers are written by a thread of the file's own while the caller fills
	 * the other buffer. The writer owns `good' and `trunc_pending' while a job is in flight;
	 * the caller learns the outcome in pf_wait(), under mu.
	 */
	int async;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv_job, cv_done;
	int has_job, stop;
	uint8_t *jbuf, *spare;
	size_t jlen;
	uint64_t jrecs;
	int jerr;			  /* a failed job's -errno, not yet reported */
	uint64_t adj_recs, adj_bytes, adj_errors; /* failed jobs, not yet counted */
	uint64_t total;			  /* caller's view: header + records accepted */
	uint64_t good_seen;		  /* `good' as of the last pf_wait() */
	uint64_t kicked;		  /* writer: bytes before this offset were handed to
					     writeback (sync_file_range) */
};

/*
 * DLT -> LINKTYPE, after libpcap pcap-common.c dlt_to_linktype(): the DLT_ values below differ
 * between platforms, so pcap files use fixed LINKTYPE_ values for them. The LINKTYPE_ constants
 * are private to libpcap, hence the numbers.
 */
/* clang-format off */
static const struct {
	int dlt;
	int linktype;
} pcapfile_dlt_map[] = {
	{ DLT_PFSYNC,		246 },	/* LINKTYPE_PFSYNC (DLT 18 on some BSDs) */
	{ DLT_PKTAP,		258 },	/* LINKTYPE_PKTAP (DLT_USER2 on macOS) */
	{ DLT_NULL,		0 },
	{ DLT_EN10MB,		1 },
	{ DLT_EN3MB,		2 },
	{ DLT_AX25,		3 },
	{ DLT_PRONET,		4 },
	{ DLT_CHAOS,		5 },
	{ DLT_IEEE802,		6 },
	{ DLT_ARCNET,		7 },
	{ DLT_SLIP,		8 },
	{ DLT_PPP,		9 },
	{ DLT_FDDI,		10 },
	{ DLT_SYMANTEC_FIREWALL, 99 },
#ifdef DLT_FR
	{ DLT_FR,		107 },	/* LINKTYPE_FRELAY (BSD/OS) */
#endif
	{ DLT_ATM_RFC1483,	100 },	/* LINKTYPE_ATM_RFC1483 */
	{ DLT_RAW,		101 },	/* LINKTYPE_RAW: DLT 12, or 14 on OpenBSD */
	{ DLT_SLIP_BSDOS,	102 },
	{ DLT_PPP_BSDOS,	103 },
	{ DLT_C_HDLC,		104 },
	{ DLT_ATM_CLIP,		106 },
	{ DLT_PPP_SERIAL,	50 },
	{ DLT_PPP_ETHER,	51 },
};
/* clang-format on */

int pcapfile_linktype_from_dlt(int dlt)
{
	for (size_t i = 0; i < sizeof pcapfile_dlt_map / sizeof pcapfile_dlt_map[0]; i++)
		if (pcapfile_dlt_map[i].dlt == dlt)
			return pcapfile_dlt_map[i].linktype;
	/* the "matching" range: DLT_ and LINKTYPE_ values are equal from DLT_MATCHING_MIN up */
	if (dlt >= DLT_MATCHING_MIN && dlt <= 65535)
		return dlt;
	/* beyond the known range (e.g. reserved bits set in a file's header): kept as it came */
	if (dlt > DLT_MATCHING_MAX)
		return dlt;
	return -1;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof v);
}

static uint32_t get_u32(const uint8_t *p, int swap)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return swap ? __builtin_bswap32(v) : v;
}

/* Undoes a failed write: drops the buffer (and `extra' unbuffered records), cuts the file back. */
static int pcapfile_fail(pcapfile_t *f, int err, uint64_t extra)
{
	f->st.write_errors++;
	f->st.packets -= f->buf_records;
	f->st.packets_dropped += f->buf_records + extra;
	f->buflen = 0;
	f->buf_records = 0;
	f->trunc_pending = ftruncate(f->fd, (off_t)f->good) != 0;
	return err;
}

static void pcapfile_written_ok(pcapfile_t *f, uint64_t bytes)
{
	f->good += bytes;
	if (f->trunc_pending)
		f->trunc_pending = ftruncate(f->fd, (off_t)f->good) != 0;
}

#define WRITEBACK_KICK (8u << 20)

static void *pf_writer(void *arg)
{
	pcapfile_t *f = arg;
	pthread_setname_np(pthread_self(), "ringcap-write");
	pthread_mutex_lock(&f->mu);
	for (;;) {
		while (!f->has_job && !f->stop)
			pthread_cond_wait(&f->cv_job, &f->mu);
		if (!f->has_job)
			break;
		uint8_t *b = f->jbuf;
		size_t n = f->jlen;
		uint64_t recs = f->jrecs;
		pthread_mutex_unlock(&f->mu);
		struct iovec iov = { .iov_base = b, .iov_len = n };
		int r = fdio_pwrite_all(f->fd, &iov, 1, f->good);
		if (r < 0)
			f->trunc_pending = ftruncate(f->fd, (off_t)f->good) != 0;
		else
			pcapfile_written_ok(f, n);
		if (r >= 0 && f->good - f->kicked >= WRITEBACK_KICK) {
			/* start writeback of what is written (without waiting for it), so that the
			 * fsync at the end of the file finds little left to do and dirty pages do
			 * not pile up; advisory: an error here is the fsync's to report */
			(void)sync_file_range(f->fd, (off64_t)f->kicked, (off64_t)(f->good - f->kicked),
					      SYNC_FILE_RANGE_WRITE);
			f->kicked = f->good;
		}
		pthread_mutex_lock(&f->mu);
		if (r < 0) {
			f->adj_recs += recs;
			f->adj_bytes += n;
			f->adj_errors++;
			if (!f->jerr)
				f->jerr = r;
		}
		f->spare = b;
		f->has_job = 0;
		pthread_cond_broadcast(&f->cv_done);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

/* Waits for the writer to be idle and takes the outcome of its jobs. Returns 0 or -errno. */
static int pf_wait(pcapfile_t *f)
{
	if (!f->async)
		return 0;
	pthread_mutex_lock(&f->mu);
	while (f->has_job)
		pthread_cond_wait(&f->cv_done, &f->mu);
	int err = f->jerr;
	f->jerr = 0;
	f->st.packets -= f->adj_recs;
	f->st.packets_dropped += f->adj_recs;
	f->st.write_errors += f->adj_errors;
	f->total -= f->adj_bytes;
	f->adj_recs = f->adj_bytes = f->adj_errors = 0;
	f->good_seen = f->good;
	pthread_mutex_unlock(&f->mu);
	return err;
}

/* async: hands the buffer to the writer (after the previous job) and takes the other one. */
static int pf_submit(pcapfile_t *f)
{
	int err = pf_wait(f);
	if (f->buflen == 0)
		return err;
	pthread_mutex_lock(&f->mu);
	f->jbuf = f->buf;
	f->jlen = f->buflen;
	f->jrecs = f->buf_records;
	f->has_job = 1;
	f->buf = f->spare;
	f->spare = NULL;
	pthread_cond_signal(&f->cv_job);
	pthread_mutex_unlock(&f->mu);
	f->buflen = 0;
	f->buf_records = 0;
	return err;
}

/* async: waits for everything handed over, stops the writer thread. */
static int pf_stop(pcapfile_t *f)
{
	if (!f->async)
		return 0;
	int r1 = pf_submit(f);
	int r2 = pf_wait(f);
	pthread_mutex_lock(&f->mu);
	f->stop = 1;
	pthread_cond_signal(&f->cv_job);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->th, NULL);
	f->async = 0;
	free(f->spare);
	f->spare = NULL;
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv_job);
	pthread_cond_destroy(&f->cv_done);
	return r1 ? r1 : r2;
}

static int pcapfile_flush_buf(pcapfile_t *f)
{
	if (f->async)
		return pf_submit(f);
	if (f->buflen == 0)
		return 0;
	struct iovec iov = {.iov_base = f->buf, .iov_len = f->buflen};
	int r = fdio_pwrite_all(f->fd, &iov, 1, f->good);
	if (r < 0)
		return pcapfile_fail(f, r, 0);
	pcapfile_written_ok(f, f->buflen);
	f->buflen = 0;
	f->buf_records = 0;
	return 0;
}

pcapfile_t *pcapfile_create(const char *path, const struct pcapfile_opts *o, char *err,
			    size_t errlen)
{
	pcapfile_t *f = NULL, *ret = NULL;
	int created = 0, saved = EINVAL;

	if (!path || !o) {
		snprintf(err, errlen, "pcap file: no path or options");
		goto out;
	}
	f = calloc(1, sizeof *f);
	if (!f) {
		saved = ENOMEM;
		snprintf(err, errlen, "cannot create `%s': out of memory", path);
		goto out;
	}
	f->fd = -1;
	f->nano = o->nano != 0;
	f->bufsize = o->bufsize ? o->bufsize : PCAPFILE_DEFAULT_BUF;
	f->buf = malloc(f->bufsize);
	if (!f->buf) {
		saved = ENOMEM;
		snprintf(err, errlen, "cannot create `%s': no memory for a %zu-byte buffer", path,
			 f->bufsize);
		goto out;
	}
	f->fd = files_create_at(AT_FDCWD, path, O_WRONLY | O_EXCL);
	if (f->fd < 0) {
		saved = errno;
		snprintf(err, errlen, "cannot create `%s': %s", path, strerror(saved));
		goto out;
	}
	created = 1;

	uint8_t hdr[PCAPFILE_HDR_LEN];
	put_u32(hdr, f->nano ? PCAPFILE_MAGIC_NS : PCAPFILE_MAGIC_US);
	uint16_t ver[2] = {2, 4};
	memcpy(hdr + 4, ver, sizeof ver);
	put_u32(hdr + 8, 0);  /* thiszone */
	put_u32(hdr + 12, 0); /* sigfigs */
	put_u32(hdr + 16, o->snaplen);
	put_u32(hdr + 20, (uint32_t)o->linktype | o->linktype_ext);
	struct iovec iov = {.iov_base = hdr, .iov_len = sizeof hdr};
	int r = fdio_pwrite_all(f->fd, &iov, 1, 0);
	if (r < 0) {
		saved = -r;
		snprintf(err, errlen, "cannot write the header of `%s': %s", path, strerror(saved));
		goto out;
	}
	f->good = PCAPFILE_HDR_LEN;
	f->total = f->good_seen = PCAPFILE_HDR_LEN;
	if (o->async) {
		f->spare = malloc(f->bufsize);
		if (!f->spare) {
			saved = ENOMEM;
			snprintf(err, errlen, "cannot create `%s': out of memory", path);
			goto out;
		}
		pthread_mutex_init(&f->mu, NULL);
		pthread_cond_init(&f->cv_job, NULL);
		pthread_cond_init(&f->cv_done, NULL);
		int e = pthread_create(&f->th, NULL, pf_writer, f);
		if (e != 0) {
			saved = e;
			snprintf(err, errlen, "cannot start a writer thread for `%s': %s", path,
				 strerror(e));
			goto out;
		}
		f->async = 1;
	}
	ret = f;
	f = NULL;
out:
	if (f) {
		free(f->spare);
		if (f->fd >= 0)
			close(f->fd);
		if (created)
			unlink(path);
		free(f->buf);
		free(f);
	}
	if (!ret)
		errno = saved;
	return ret;
}

void pcapfile_split_ns(int64_t ts_ns, int nano, int64_t *sec, uint32_t *frac)
{
	int64_t s = ts_ns / NS_PER_S, fr = ts_ns % NS_PER_S;
	if (fr < 0) {
		fr += NS_PER_S;
		s--;
	}
	*sec = s;
	*frac = (uint32_t)(nano ? fr : fr / 1000);
}

int pcapfile_write_ns(pcapfile_t *f, int64_t ts_ns, uint32_t caplen, uint32_t wirelen,
		      const uint8_t *data)
{
	int64_t sec;
	uint32_t frac;
	if (!f)
		return -EINVAL;
	pcapfile_split_ns(ts_ns, f->nano, &sec, &frac);
	return pcapfile_write(f, sec, frac, caplen, wirelen, data);
}

int pcapfile_write(pcapfile_t *f, int64_t sec, uint32_t frac, uint32_t caplen, uint32_t wirelen,
		   const uint8_t *data)
{
	if (!f)
		return -EINVAL;
	if (caplen && !data) {
		f->st.packets_dropped++;
		return -EINVAL;
	}

	uint8_t hdr[PCAPFILE_REC_HDR_LEN];
	put_u32(hdr, (uint32_t)sec);
	put_u32(hdr + 4, (uint32_t)frac);
	put_u32(hdr + 8, caplen);
	put_u32(hdr + 12, wirelen);

	uint64_t rec = PCAPFILE_REC_HDR_LEN + (uint64_t)caplen;
	int ret = 0;
	if (f->buflen + rec > f->bufsize) {
		int r = pcapfile_flush_buf(f);
		if (r < 0 && !f->async) {
			f->st.packets_dropped++;
			return r;
		}
		ret = r; /* async: an earlier buffer failed; this record is still taken */
	}
	if (rec > f->bufsize) {
		/* the buffer is empty now: write this one directly */
		int r = pf_wait(f);
		if (r < 0 && !ret)
			ret = r;
		struct iovec iov[2] = {
		    {.iov_base = hdr, .iov_len = sizeof hdr},
		    {.iov_base = (void *)(uintptr_t)data, .iov_len = caplen},
		};
		r = fdio_pwrite_all(f->fd, iov, 2, f->good);
		if (r < 0)
			return pcapfile_fail(f, r, 1);
		pcapfile_written_ok(f, rec);
		f->good_seen = f->good;
		f->total += rec;
		f->st.packets++;
		return ret;
	}
	memcpy(f->buf + f->buflen, hdr, sizeof hdr);
	if (caplen)
		memcpy(f->buf + f->buflen + sizeof hdr, data, caplen);
	f->buflen += (size_t)rec;
	f->buf_records++;
	f->st.packets++;
	f->total += rec;
	return ret;
}

int pcapfile_flush(pcapfile_t *f)
{
	if (!f)
		return -EINVAL;
	int r1 = pcapfile_flush_buf(f);
	int r2 = pf_wait(f);
	return r1 ? r1 : r2;
}

int pcapfile_sync(pcapfile_t *f)
{
	if (!f)
		return -EINVAL;
	int r = pcapfile_flush(f);
	if (r < 0)
		return r;
	if (fsync(f->fd) != 0) {
		f->st.write_errors++;
		return -errno;
	}
	return 0;
}

uint64_t pcapfile_size(const pcapfile_t *f)
{
	if (!f)
		return 0;
	return f->async ? f->total : f->good + f->buflen;
}

uint64_t pcapfile_written(const pcapfile_t *f)
{
	if (!f)
		return 0;
	return f->async ? f->good_seen : f->good;
}

void pcapfile_stats(const pcapfile_t *f, struct pcapfile_stats *st)
{
	if (!f) {
		memset(st, 0, sizeof *st);
		return;
	}
	*st = f->st;
	if (f->async) {
		pthread_mutex_t *mu = (pthread_mutex_t *)&f->mu;
		pthread_mutex_lock(mu);
		st->packets -= f->adj_recs;
		st->packets_dropped += f->adj_recs;
		st->write_errors += f->adj_errors;
		pthread_mutex_unlock(mu);
	}
}

int pcapfile_close(pcapfile_t *f, int do_sync)
{
	if (!f)
		return 0;
	int ret = do_sync ? pcapfile_sync(f) : pcapfile_flush(f);
	int r = pf_stop(f);
	if (r < 0 && ret == 0)
		ret = r;
	if (close(f->fd) != 0 && ret == 0)
		ret = -errno;
	free(f->buf);
	free(f);
	return ret;
}

int pcapfile_detach(pcapfile_t *f, int *fd)
{
	int ret = pcapfile_flush(f);
	int r = pf_stop(f);
	if (r < 0 && ret == 0)
		ret = r;
	*fd = f->fd;
	free(f->buf);
	free(f);
	return ret;
}

long pcapfile_repair(const char *path, uint64_t *cut_bytes, char *err, size_t errlen)
{
	long ret = -1;
	int fd = -1;
	uint8_t *buf = NULL;
	uint8_t hdr[PCAPFILE_HDR_LEN];
	struct stat st;

	if (cut_bytes)
		*cut_bytes = 0;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open `%s': %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "cannot stat `%s': %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "`%s' is not a regular file", path);
		goto out;
	}
	uint64_t size = (uint64_t)st.st_size;
	ssize_t n = fdio_pread_all(fd, hdr, sizeof hdr, 0);
	if (n < 0) {
		snprintf(err, errlen, "cannot read `%s': %s", path, strerror((int)-n));
		goto out;
	}
	if ((size_t)n < sizeof hdr) {
		snprintf(err, errlen, "`%s' is too short for a pcap header (%zd bytes)", path, n);
		goto out;
	}
	uint32_t magic = get_u32(hdr, 0);
	int swap;
	if (magic == PCAPFILE_MAGIC_US || magic == PCAPFILE_MAGIC_NS) {
		swap = 0;
	} else if (__builtin_bswap32(magic) == PCAPFILE_MAGIC_US ||
		   __builtin_bswap32(magic) == PCAPFILE_MAGIC_NS) {
		swap = 1;
	} else {
		snprintf(err, errlen, "`%s' is not a classic pcap file (magic 0x%08x)", path,
			 magic);
		goto out;
	}
	uint32_t limit = get_u32(hdr + 16, swap);
	if (limit < REPAIR_CAPLEN_FLOOR)
		limit = REPAIR_CAPLEN_FLOOR;
	if (limit > REPAIR_CAPLEN_CEIL)
		limit = REPAIR_CAPLEN_CEIL;

	size_t bufsize = size < REPAIR_BUF ? (size_t)size : REPAIR_BUF;
	buf = malloc(bufsize);
	if (!buf) {
		snprintf(err, errlen, "cannot repair `%s': out of memory", path);
		goto out;
	}
	/* the window buf[0..wlen) holds the file's bytes from woff */
	uint64_t off = PCAPFILE_HDR_LEN, woff = 0, wlen = 0;
	long count = 0;
	while (size - off >= PCAPFILE_REC_HDR_LEN) {
		if (off < woff || off + PCAPFILE_REC_HDR_LEN > woff + wlen) {
			uint64_t want = size - off < bufsize ? size - off : bufsize;
			n = fdio_pread_all(fd, buf, (size_t)want, off);
			if (n < 0) {
				snprintf(err, errlen, "cannot read `%s': %s", path,
					 strerror((int)-n));
				goto out;
			}
			woff = off;
			wlen = (uint64_t)n;
			if (wlen < PCAPFILE_REC_HDR_LEN)
				break; /* the file shrank under us */
		}
		const uint8_t *rh = buf + (off - woff);
		static const uint8_t zero[PCAPFILE_REC_HDR_LEN];
		/* blocks a file system allocated but never wrote before a crash read as zeros */
		if (memcmp(rh, zero, sizeof zero) == 0)
			break;
		uint32_t caplen = get_u32(rh + 8, swap);
		if (caplen > limit || caplen > size - off - PCAPFILE_REC_HDR_LEN)
			break;
		off += PCAPFILE_REC_HDR_LEN + caplen;
		count++;
	}
	if (off < size) {
		if (ftruncate(fd, (off_t)off) != 0) {
			snprintf(err, errlen, "cannot truncate `%s' to %llu bytes: %s", path,
				 (unsigned long long)off, strerror(errno));
			goto out;
		}
		if (cut_bytes)
			*cut_bytes = size - off;
	}
	if (fsync(fd) != 0) {
		snprintf(err, errlen, "cannot fsync `%s': %s", path, strerror(errno));
		goto out;
	}
	ret = count;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}
