/*
 * extract.h - bounds-checked reads of big- and little-endian integers from packet bytes
 * (after tcpdump's extract.h and zmap's get_*_header()).
 *
 * DESIGN: packet bytes are read one byte at a time and assembled with shifts, so there are no
 * unaligned loads, no pointer casts to header structs and no dependence on host byte order (the
 * compiler turns the shifts into a load plus a byte swap). Every buffer is a pair (p, end) where
 * end points one past the last captured byte; p may equal end (nothing left) but never exceed it.
 * Three layers, all inline:
 *
 *   ex_has(p, end, n)            nonzero if n bytes can be read at p. Check once per header ...
 *   ex_get_be16(p) and friends   ... then read its fields without further checks.
 *   ex_be16(p, end, &v) ...      checked single reads: 0 and *v set, or -1 and *v untouched.
 *   struct ex_cur                a cursor that reads and advances; a short read returns -1,
 *                                leaves the cursor where it was and sets its sticky error flag.
 *
 * Nothing here forms a pointer past end: lengths are compared as (size_t)(end - p).
 */
#ifndef RINGCAP_EXTRACT_H
#define RINGCAP_EXTRACT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Bytes left between p and end (0 if p is past end, which callers must not allow anyway). */
static inline size_t ex_left(const uint8_t *p, const uint8_t *end)
{
	return p < end ? (size_t)(end - p) : 0;
}

/* Nonzero if n bytes can be read at p. */
static inline int ex_has(const uint8_t *p, const uint8_t *end, size_t n)
{
	return ex_left(p, end) >= n;
}

/*
 * Unchecked reads: only after ex_has(p, end, off + width) said the bytes are there.
 */
static inline uint8_t ex_get_u8(const uint8_t *p)
{
	return p[0];
}

static inline uint16_t ex_get_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t ex_get_be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static inline uint32_t ex_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t ex_get_be64(const uint8_t *p)
{
	return (uint64_t)ex_get_be32(p) << 32 | ex_get_be32(p + 4);
}

static inline uint16_t ex_get_le16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[1] << 8 | p[0]);
}

static inline uint32_t ex_get_le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static inline uint64_t ex_get_le64(const uint8_t *p)
{
	return (uint64_t)ex_get_le32(p + 4) << 32 | ex_get_le32(p);
}

/*
 * Checked reads at p: return 0 and store the value, or -1 (nothing stored) if the bytes are not
 * all before end.
 */
static inline int ex_u8(const uint8_t *p, const uint8_t *end, uint8_t *v)
{
	if (!ex_has(p, end, 1))
		return -1;
	*v = ex_get_u8(p);
	return 0;
}

static inline int ex_be16(const uint8_t *p, const uint8_t *end, uint16_t *v)
{
	if (!ex_has(p, end, 2))
		return -1;
	*v = ex_get_be16(p);
	return 0;
}

static inline int ex_be24(const uint8_t *p, const uint8_t *end, uint32_t *v)
{
	if (!ex_has(p, end, 3))
		return -1;
	*v = ex_get_be24(p);
	return 0;
}

static inline int ex_be32(const uint8_t *p, const uint8_t *end, uint32_t *v)
{
	if (!ex_has(p, end, 4))
		return -1;
	*v = ex_get_be32(p);
	return 0;
}

static inline int ex_be64(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	if (!ex_has(p, end, 8))
		return -1;
	*v = ex_get_be64(p);
	return 0;
}

static inline int ex_le16(const uint8_t *p, const uint8_t *end, uint16_t *v)
{
	if (!ex_has(p, end, 2))
		return -1;
	*v = ex_get_le16(p);
	return 0;
}

static inline int ex_le32(const uint8_t *p, const uint8_t *end, uint32_t *v)
{
	if (!ex_has(p, end, 4))
		return -1;
	*v = ex_get_le32(p);
	return 0;
}

static inline int ex_le64(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	if (!ex_has(p, end, 8))
		return -1;
	*v = ex_get_le64(p);
	return 0;
}

/* Copies n bytes at p to dst. Returns 0, or -1 (dst untouched) if they are not all there. */
static inline int ex_bytes(const uint8_t *p, const uint8_t *end, void *dst, size_t n)
{
	if (!ex_has(p, end, n))
		return -1;
	if (n)
		memcpy(dst, p, n);
	return 0;
}

/*
 * A read cursor over [p, end). Every ex_cur_* read either succeeds and advances, or fails with -1,
 * leaves p alone and sets err, so a parser can do a run of reads and test err once at the end.
 */
struct ex_cur {
	const uint8_t *p;
	const uint8_t *end;
	int err;
};

static inline void ex_cur_init(struct ex_cur *c, const uint8_t *buf, size_t len)
{
	c->p = buf;
	c->end = buf ? buf + len : buf;
	c->err = 0;
}

static inline size_t ex_cur_left(const struct ex_cur *c)
{
	return ex_left(c->p, c->end);
}

static inline int ex_cur_fail(struct ex_cur *c)
{
	c->err = 1;
	return -1;
}

static inline int ex_cur_skip(struct ex_cur *c, size_t n)
{
	if (!ex_has(c->p, c->end, n))
		return ex_cur_fail(c);
	if (n)
		c->p += n;
	return 0;
}

static inline int ex_cur_u8(struct ex_cur *c, uint8_t *v)
{
	if (ex_u8(c->p, c->end, v))
		return ex_cur_fail(c);
	c->p += 1;
	return 0;
}

static inline int ex_cur_be16(struct ex_cur *c, uint16_t *v)
{
	if (ex_be16(c->p, c->end, v))
		return ex_cur_fail(c);
	c->p += 2;
	return 0;
}

static inline int ex_cur_be32(struct ex_cur *c, uint32_t *v)
{
	if (ex_be32(c->p, c->end, v))
		return ex_cur_fail(c);
	c->p += 4;
	return 0;
}

static inline int ex_cur_be64(struct ex_cur *c, uint64_t *v)
{
	if (ex_be64(c->p, c->end, v))
		return ex_cur_fail(c);
	c->p += 8;
	return 0;
}

static inline int ex_cur_le16(struct ex_cur *c, uint16_t *v)
{
	if (ex_le16(c->p, c->end, v))
		return ex_cur_fail(c);
	c->p += 2;
	return 0;
}

static inline int ex_cur_le32(struct ex_cur *c, uint32_t *v)
{
	if (ex_le32(c->p, c->end, v))
		return ex_cur_fail(c);
	c->p += 4;
	return 0;
}

static inline int ex_cur_le64(struct ex_cur *c, uint64_t *v)
{
	if (ex_le64(c->p, c->end, v))
		return ex_cur_fail(c);
	c->p += 8;
	return 0;
}

static inline int ex_cur_bytes(struct ex_cur *c, void *dst, size_t n)
{
	if (ex_bytes(c->p, c->end, dst, n))
		return ex_cur_fail(c);
	if (n)
		c->p += n;
	return 0;
}

#endif
