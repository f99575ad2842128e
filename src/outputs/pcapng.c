/*
 * pcapng.c - one pcapng file written by hand with pwrite(2); see pcapng.h.
 *
 * DESIGN: as pcapfile.c. The object remembers `good', the size of the file made of the header
 * blocks and every packet block written so far, and only ever writes at that offset with
 * pwrite(), never through a file offset. A failed or short write is undone by cutting the file
 * back to `good' with ftruncate(); even if that cut fails, the next write lands at `good' and a
 * later successful write retries the cut. The buffer holds whole blocks only; a block larger than
 * the buffer is written directly (after the buffer) with pwritev() from its pieces.
 *
 * Layout (pcapng, draft-ietf-opsawg-pcapng): every block is type u32, total length u32, body,
 * total length u32 again, a multiple of 4 bytes. Options are code u16, length u16, value padded
 * with zeros to 4 bytes, closed by opt_endofopt (code 0, length 0).
 *   SHB  0x0A0D0D0A len  magic 0x1A2B3C4D  major 1 minor 0  section length -1  options  len
 *   IDB  1 len  linktype u16, reserved u16  snaplen  options  len
 *   EPB  6 len  interface 0  ts high  ts low  caplen  wirelen  data+pad  options  len
 */
#include "outputs/pcapng.h"

#include "base/files.h"
#include "base/fdio.h"

#include "outputs/pcapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define PCAPNG_DEFAULT_BUF (1u << 20)

#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 0x00000001u
#define BT_EPB 0x00000006u
#define BYTE_ORDER_MAGIC 0x1A2B3C4Du

#define OPT_ENDOFOPT 0
#define OPT_COMMENT 1
#define OPT_SHB_OS 3
#define OPT_SHB_USERAPPL 4
#define OPT_IF_NAME 2
#define OPT_IF_TSRESOL 9
#define OPT_IF_FCSLEN 13

#define EPB_HDR_LEN 28u	 /* type, length, interface, ts high, ts low, caplen, wirelen */
#define BLOCK_TRAILER 4u /* the total length again */

struct pcapng {
	int fd;
	int nano;
	uint32_t snaplen;  /* the IDB's; 0: none */
	int trunc_pending; /* a cut-back failed: bytes past `good' may be left-overs */
	uint8_t *buf;
	size_t bufsize;
	size_t buflen;
	uint64_t buf_records;
	uint64_t good; /* bytes on disk known whole: header blocks and flushed packet blocks */
	struct pcapng_stats st;
};

static size_t pad4(size_t n)
{
	return (4 - (n & 3)) & 3;
}

static void put_u16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof v);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof v);
}


/* ---- header blocks: built in memory once, sized by a first pass with b == NULL ------------ */

/* Appends option code (value v, len bytes, zero padded) at b + *off; b NULL only counts. */
static void opt_put(uint8_t *b, size_t *off, uint16_t code, const void *v, size_t len)
{
	if (b) {
		put_u16(b + *off, code);
		put_u16(b + *off + 2, (uint16_t)len);
		if (len)
			memcpy(b + *off + 4, v, len);
		memset(b + *off + 4 + len, 0, pad4(len));
	}
	*off += 4 + len + pad4(len);
}

/*
 * Length of the next piece of s (left bytes) for one option: all of it if it fits, else at most
 * PCAPNG_OPT_MAX bytes ending before a UTF-8 continuation byte, so no character is split (bytes
 * that are not UTF-8 are cut anywhere after three tries).
 */
static size_t utf8_piece(const char *s, size_t left)
{
	if (left <= PCAPNG_OPT_MAX)
		return left;
	size_t n = PCAPNG_OPT_MAX;
	while (n > PCAPNG_OPT_MAX - 3 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* A string option (none for NULL or ""), or a comment cut into as many as it needs. */
static void opt_str(uint8_t *b, size_t *off, uint16_t code, const char *s, int many)
{
	size_t left = s ? strlen(s) : 0;
	while (left > 0) {
		size_t n = many ? utf8_piece(s, left) : left;
		opt_put(b, off, code, s, n);
		s += n;
		left -= n;
	}
}

/* Closes a block at b + start whose options ended at *off: endofopt if any, trailer, lengths. */
static void block_end(uint8_t *b, size_t start, size_t opts_start, size_t *off)
{
	if (*off > opts_start)
		opt_put(b, off, OPT_ENDOFOPT, NULL, 0);
	*off += BLOCK_TRAILER;
	if (b) {
		uint32_t len = (uint32_t)(*off - start);
		put_u32(b + start + 4, len);
		put_u32(b + *off - BLOCK_TRAILER, len);
	}
}

/* The SHB and the IDB into b (b NULL: counts only). Returns their length. */
static size_t header_blocks(uint8_t *b, const struct pcapng_opts *o, uint16_t linktype)
{
	size_t off = 0, opts;

	if (b) {
		put_u32(b, BT_SHB);
		put_u32(b + 8, BYTE_ORDER_MAGIC);
		put_u16(b + 12, 1);	 /* major */
		put_u16(b + 14, 0);	 /* minor */
		memset(b + 16, 0xff, 8); /* section length: not known */
	}
	off = opts = 24;
	opt_str(b, &off, OPT_COMMENT, o->shb_comment, 1);
	opt_str(b, &off, OPT_SHB_OS, o->shb_os, 0);
	opt_str(b, &off, OPT_SHB_USERAPPL, o->shb_userappl, 0);
	block_end(b, 0, opts, &off);

	size_t idb = off;
	if (b) {
		put_u32(b + idb, BT_IDB);
		put_u16(b + idb + 8, linktype);
		put_u16(b + idb + 10, 0);
		put_u32(b + idb + 12, o->snaplen);
	}
	off = opts = idb + 16;
	opt_str(b, &off, OPT_IF_NAME, o->if_name, 0);
	uint8_t tsresol = o->nano ? 9 : 6;
	opt_put(b, &off, OPT_IF_TSRESOL, &tsresol, 1);
	if (LT_FCS_LENGTH_PRESENT(o->linktype_ext)) {
		/* the pcap header holds it in 16-bit units, if_fcslen in bits */
		uint8_t fcs_bits = (uint8_t)(LT_FCS_LENGTH(o->linktype_ext) * 16);
		opt_put(b, &off, OPT_IF_FCSLEN, &fcs_bits, 1);
	}
	block_end(b, idb, opts, &off);
	return off;
}

/* NULL if every string fits, else the name of the first that does not (its length in *len). */
static const char *too_long(const struct pcapng_opts *o, size_t *len)
{
	const struct {
		const char *s;
		size_t max;
		const char *name;
	} strs[] = {
	    {o->shb_comment, PCAPNG_SHB_COMMENT_MAX, "comment"},
	    {o->shb_userappl, PCAPNG_STR_MAX, "shb_userappl"},
	    {o->shb_os, PCAPNG_STR_MAX, "shb_os"},
	    {o->if_name, PCAPNG_STR_MAX, "if_name"},
	};
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		*len = strs[i].s ? strlen(strs[i].s) : 0;
		if (*len > strs[i].max)
			return strs[i].name;
	}
	return NULL;
}

pcapng_t *pcapng_create(const char *path, const struct pcapng_opts *o, char *err, size_t errlen)
{
	pcapng_t *f = NULL, *ret = NULL;
	uint8_t *hdr = NULL;
	int created = 0, saved = EINVAL;

	if (!path || !o) {
		snprintf(err, errlen, "pcapng file: no path or options");
		goto out;
	}
	int lt = pcapfile_linktype_from_dlt(o->linktype);
	if (lt < 0 || lt > 65535) {
		const char *dn = pcap_datalink_val_to_name(o->linktype);
		snprintf(err, errlen, "cannot create `%s': link-layer type %d (%s) has no LINKTYPE",
			 path, o->linktype, dn ? dn : "unknown");
		goto out;
	}
	size_t slen;
	const char *bad = too_long(o, &slen);
	if (bad) {
		snprintf(err, errlen,
			 "cannot create `%s': the %s of %zu bytes is too long (max %u)", path, bad,
			 slen,
			 strcmp(bad, "comment") == 0 ? PCAPNG_SHB_COMMENT_MAX : PCAPNG_STR_MAX);
		goto out;
	}
	f = calloc(1, sizeof *f);
	size_t hlen = header_blocks(NULL, o, (uint16_t)lt);
	hdr = f ? malloc(hlen) : NULL;
	if (!f || !hdr) {
		saved = ENOMEM;
		snprintf(err, errlen, "cannot create `%s': out of memory", path);
		goto out;
	}
	f->fd = -1;
	f->nano = o->nano != 0;
	f->snaplen = o->snaplen;
	f->bufsize = o->bufsize ? o->bufsize : PCAPNG_DEFAULT_BUF;
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

	header_blocks(hdr, o, (uint16_t)lt);
	struct iovec iov = {.iov_base = hdr, .iov_len = hlen};
	int r = fdio_pwrite_all(f->fd, &iov, 1, 0);
	if (r < 0) {
		saved = -r;
		snprintf(err, errlen, "cannot write the header of `%s': %s", path, strerror(saved));
		goto out;
	}
	f->good = hlen;
	ret = f;
	f = NULL;
out:
	if (f) {
		if (f->fd >= 0)
			close(f->fd);
		if (created)
			unlink(path);
		free(f->buf);
		free(f);
	}
	free(hdr);
	if (!ret)
		errno = saved;
	return ret;
}

/* ---- packet blocks ------------------------------------------------------------------------ */

/* Undoes a failed write: drops the buffer (and `extra' unbuffered blocks), cuts the file back. */
static int pcapng_fail(pcapng_t *f, int err, uint64_t extra)
{
	f->st.write_errors++;
	f->st.packets -= f->buf_records;
	f->st.packets_dropped += f->buf_records + extra;
	f->buflen = 0;
	f->buf_records = 0;
	f->trunc_pending = ftruncate(f->fd, (off_t)f->good) != 0;
	return err;
}

static void pcapng_written_ok(pcapng_t *f, uint64_t bytes)
{
	f->good += bytes;
	if (f->trunc_pending)
		f->trunc_pending = ftruncate(f->fd, (off_t)f->good) != 0;
}

static int pcapng_flush_buf(pcapng_t *f)
{
	if (f->buflen == 0)
		return 0;
	struct iovec iov = {.iov_base = f->buf, .iov_len = f->buflen};
	int r = fdio_pwrite_all(f->fd, &iov, 1, f->good);
	if (r < 0)
		return pcapng_fail(f, r, 0);
	pcapng_written_ok(f, f->buflen);
	f->buflen = 0;
	f->buf_records = 0;
	return 0;
}

int pcapng_write_ns(pcapng_t *f, int64_t ts_ns, uint32_t caplen, uint32_t wirelen,
		    const uint8_t *data, const char *comment)
{
	int64_t sec;
	uint32_t frac;
	if (!f)
		return -EINVAL;
	pcapfile_split_ns(ts_ns, f->nano, &sec, &frac);
	return pcapng_write(f, sec, frac, caplen, wirelen, data, comment);
}

int pcapng_write(pcapng_t *f, int64_t sec, uint32_t frac, uint32_t caplen, uint32_t wirelen,
		 const uint8_t *data, const char *comment)
{
	static const uint8_t zeros[4];
	if (!f)
		return -EINVAL;
	size_t clen = comment ? strlen(comment) : 0;
	if ((caplen && !data) || clen > PCAPNG_COMMENT_MAX) {
		f->st.packets_dropped++;
		return -EINVAL;
	}
	/* libpcap refuses a whole file at a packet longer than the IDB's snaplen */
	if (f->snaplen && caplen > f->snaplen)
		caplen = f->snaplen;

	/* pieces: header, data, data padding + the comment option's header, comment, the rest */
	uint8_t hdr[EPB_HDR_LEN], mid[3 + 4], end[3 + 4 + BLOCK_TRAILER];
	size_t dpad = pad4(caplen), midlen = dpad, endlen = 0;
	memcpy(mid, zeros, dpad);
	if (clen) {
		put_u16(mid + midlen, OPT_COMMENT);
		put_u16(mid + midlen + 2, (uint16_t)clen);
		midlen += 4;
		endlen = pad4(clen);
		memcpy(end, zeros, endlen);
		put_u32(end + endlen, 0); /* opt_endofopt */
		endlen += 4;
	}
	uint64_t blk = EPB_HDR_LEN + (uint64_t)caplen + midlen + clen + endlen + BLOCK_TRAILER;
	if (blk > UINT32_MAX) {
		f->st.packets_dropped++;
		return -EINVAL;
	}
	put_u32(end + endlen, (uint32_t)blk);
	endlen += BLOCK_TRAILER;

	uint64_t ts = (uint64_t)sec * (f->nano ? 1000000000u : 1000000u) + frac;
	put_u32(hdr, BT_EPB);
	put_u32(hdr + 4, (uint32_t)blk);
	put_u32(hdr + 8, 0); /* interface 0, the one IDB */
	put_u32(hdr + 12, (uint32_t)(ts >> 32));
	put_u32(hdr + 16, (uint32_t)ts);
	put_u32(hdr + 20, caplen);
	put_u32(hdr + 24, wirelen);

	struct iovec iov[5] = {
	    {.iov_base = hdr, .iov_len = sizeof hdr},
	    {.iov_base = (void *)(uintptr_t)data, .iov_len = caplen},
	    {.iov_base = mid, .iov_len = midlen},
	    {.iov_base = (void *)(uintptr_t)comment, .iov_len = clen},
	    {.iov_base = end, .iov_len = endlen},
	};
	if (f->buflen + blk > f->bufsize) {
		int r = pcapng_flush_buf(f);
		if (r < 0) {
			f->st.packets_dropped++;
			return r;
		}
	}
	if (blk > f->bufsize) {
		/* the buffer is empty now: write this one directly */
		int r = fdio_pwrite_all(f->fd, iov, 5, f->good);
		if (r < 0)
			return pcapng_fail(f, r, 1);
		pcapng_written_ok(f, blk);
		f->st.packets++;
		return 0;
	}
	for (int i = 0; i < 5; i++) {
		if (iov[i].iov_len)
			memcpy(f->buf + f->buflen, iov[i].iov_base, iov[i].iov_len);
		f->buflen += iov[i].iov_len;
	}
	f->buf_records++;
	f->st.packets++;
	return 0;
}

int pcapng_flush(pcapng_t *f)
{
	if (!f)
		return -EINVAL;
	return pcapng_flush_buf(f);
}

int pcapng_sync(pcapng_t *f)
{
	if (!f)
		return -EINVAL;
	int r = pcapng_flush_buf(f);
	if (r < 0)
		return r;
	if (fsync(f->fd) != 0) {
		f->st.write_errors++;
		return -errno;
	}
	return 0;
}

uint64_t pcapng_size(const pcapng_t *f)
{
	return f ? f->good + f->buflen : 0;
}

uint64_t pcapng_written(const pcapng_t *f)
{
	return f ? f->good : 0;
}

void pcapng_stats(const pcapng_t *f, struct pcapng_stats *st)
{
	if (f)
		*st = f->st;
	else
		memset(st, 0, sizeof *st);
}

int pcapng_close(pcapng_t *f, int do_sync)
{
	if (!f)
		return 0;
	int ret = do_sync ? pcapng_sync(f) : pcapng_flush_buf(f);
	if (close(f->fd) != 0 && ret == 0)
		ret = -errno;
	free(f->buf);
	free(f);
	return ret;
}
