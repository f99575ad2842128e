/*
 * pcapw.c - the continuous recorder: rotated pcap files; see pcapw.h.
 *
 * DESIGN: at most one file is open, NAME.pcap.part, created at the first packet that needs it.
 * Finishing it (rotation or close) is flush + fsync + close + rename to NAME.pcap + fsync of the
 * folder, then retention. Errors never reach the packet path as anything but a return code and a
 * count: the first failure of an episode logs one warning, later ones are counted silently, and
 * the first write that reaches the disk again logs that writing resumed. When a file cannot be
 * created, packets are dropped and creation is retried at the next packet, at most once a second
 * (CLOCK_MONOTONIC), so a full or read-only disk costs one failed open(2) a second.
 */
#include "outputs/pcapw.h"

#include "base/clock.h"
#include "base/files.h"
#include "base/log.h"
#include "outputs/pcapfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PCAPW_NAME_MAX 64 /* longest valid name is 44 characters with ".part" */
#define PCAPW_RETRY_MS 1000
#define PCAPW_FLUSH_MS 1000
#define PCAPW_BUF_DEFAULT (1u << 20)

struct pcapw {
	char *dir;
	int dirfd;
	uint64_t rotate_bytes;
	uint32_t retention;
	struct pcapfile_opts fopts;

	pcapfile_t *cur; /* the open .part, or NULL */
	struct pcapw_fileid cur_id;
	char cur_name[PCAPW_NAME_MAX]; /* its final name */
	uint64_t next_seq;

	int failing;	   /* inside an error episode: warned once, now counting */
	int create_err;	   /* errno of the last failed create, 0 after a success */
	int64_t create_ms; /* when that create was tried */
	int64_t flush_ms;  /* last tick flush (or file creation) */

	struct pcapfile_stats done; /* sums over the files already closed */
	uint64_t create_dropped;    /* packets lost because no file could be created */
	uint64_t create_errors;
	uint32_t files_written, files_deleted, files_repaired;
	void (*on_finished)(void *ud, const char *name);
	void *on_finished_ud;

	/* background finisher (cfg.async); lock guards the queue and the two counters above */
	pthread_mutex_t lock;
	pthread_cond_t cond;      /* a job was queued, or stop */
	pthread_cond_t idle;      /* the queue became empty and no job runs */
	pthread_t thread;
	int async, stop, busy;
	struct pcapw_job *jobs;   /* circular queue */
	unsigned qhead, qlen;
};

#define PCAPW_QUEUE 64

/* A finished file handed to the background thread: its fd, still open, and its final name. */
struct pcapw_job {
	int fd;
	char name[PCAPW_NAME_MAX];
};

struct pcapw_entry {
	struct pcapw_fileid id;
	char name[PCAPW_NAME_MAX];
};

static int64_t pcapw_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t pcapw_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

const char *pcapw_file_name(const struct pcapw_fileid *id, char *buf, size_t len)
{
	struct tm tm;
	time_t t = (time_t)id->start_s;
	if (!gmtime_r(&t, &tm)) {
		memset(&tm, 0, sizeof tm);
		tm.tm_year = 70;
		tm.tm_mday = 1;
	}
	snprintf(buf, len, "capture_%04d%02d%02d_%02d%02d%02d_%04" PRIu32 ".pcap",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 id->seq);
	return buf;
}

/* Reads exactly n decimal digits from s. Returns 1 and the value, or 0. */
static int pcapw_digits(const char *s, int n, uint64_t *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return 1;
}

int pcapw_parse_name(const char *name, struct pcapw_fileid *id, int *part)
{
	static const char prefix[] = "capture_";
	uint64_t ymd, hms, seq = 0;
	int nd = 0, is_part;

	if (!name || strncmp(name, prefix, sizeof prefix - 1) != 0)
		return 0;
	const char *p = name + sizeof prefix - 1;
	if (!pcapw_digits(p, 8, &ymd) || p[8] != '_' || !pcapw_digits(p + 9, 6, &hms) ||
	    p[15] != '_')
		return 0;
	p += 16;
	while (p[nd] >= '0' && p[nd] <= '9') {
		if (nd == 10)
			return 0; /* more than a uint32 can hold */
		seq = seq * 10 + (uint64_t)(p[nd] - '0');
		nd++;
	}
	if (nd < 4 || seq > UINT32_MAX)
		return 0;
	p += nd;
	if (strcmp(p, ".pcap") == 0)
		is_part = 0;
	else if (strcmp(p, ".pcap.part") == 0)
		is_part = 1;
	else
		return 0;

	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int64_t y = (int64_t)(ymd / 10000);
	unsigned mo = (unsigned)(ymd / 100 % 100), d = (unsigned)(ymd % 100);
	unsigned h = (unsigned)(hms / 10000), mi = (unsigned)(hms / 100 % 100),
		 s = (unsigned)(hms % 100);
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || s > 59)
		return 0;
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo == 2 && d == 29 && !leap)
		return 0;

	if (id) {
		id->start_s = pcapw_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
		id->seq = (uint32_t)seq;
	}
	if (part)
		*part = is_part;
	return 1;
}

/* dir/name into buf. Returns buf; pcapw_open checked that every name fits. */
static const char *pcapw_path(const pcapw_t *w, const char *name, const char *suffix, char *buf,
			      size_t len)
{
	snprintf(buf, len, "%s/%s%s", w->dir, name, suffix);
	return buf;
}

static void pcapw_sync_dir(pcapw_t *w)
{
	if (fsync(w->dirfd) != 0)
		log_warn("cannot fsync folder `%s': %s", w->dir, strerror(errno));
}

/* Starts an error episode (one warning) or, inside one, stays quiet. */
static void pcapw_episode_error(pcapw_t *w, const char *what, const char *path, int err)
{
	if (w->failing)
		return;
	w->failing = 1;
	log_warn("%s `%s': %s; dropping and counting packets until writing works again", what, path,
		 strerror(err));
}

static void pcapw_episode_ok(pcapw_t *w, const char *path)
{
	if (!w->failing)
		return;
	w->failing = 0;
	struct pcapw_stats st;
	pcapw_stats(w, &st);
	log_info("writing to `%s' resumed (%" PRIu64 " packets dropped so far)", path,
		 st.packets_dropped);
}

/* After a flush-like call on the open file: returned r, file had `before' bytes written. */
static void pcapw_note(pcapw_t *w, int r, uint64_t before)
{
	char path[PATH_MAX];
	if (r >= 0 && (!w->failing || pcapfile_written(w->cur) <= before))
		return; /* the usual case: nothing to say, no path to format */
	pcapw_path(w, w->cur_name, ".part", path, sizeof path);
	if (r < 0)
		pcapw_episode_error(w, "cannot write", path, -r);
	else
		pcapw_episode_ok(w, path);
}

static int pcapw_entry_cmp(const void *a, const void *b)
{
	const struct pcapw_entry *x = a, *y = b;
	if (x->id.seq != y->id.seq)
		return x->id.seq < y->id.seq ? -1 : 1;
	if (x->id.start_s != y->id.start_s)
		return x->id.start_s < y->id.start_s ? -1 : 1;
	return strcmp(x->name, y->name);
}

/*
 * Lists the regular files of the folder whose names match the pattern, finished (part = 0) or
 * .part (part = 1), into a malloc'd array the caller frees. *max_seq (may be NULL) receives the
 * highest sequence number of any matching name, either kind, or -1. Returns the count or -errno.
 */
static long pcapw_scan(pcapw_t *w, int want_part, struct pcapw_entry **out, int64_t *max_seq)
{
	long n = 0, ret = -ENOMEM;
	size_t cap = 0;
	struct pcapw_entry *v = NULL;
	DIR *d = NULL;
	int fd = -1;

	*out = NULL;
	if (max_seq)
		*max_seq = -1;
	fd = openat(w->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		ret = -errno;
		goto out;
	}
	fd = -1; /* owned by d now */
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		struct pcapw_fileid id;
		int part;
		if (!pcapw_parse_name(e->d_name, &id, &part))
			continue;
		if (e->d_type != DT_REG) {
			struct stat st;
			if (e->d_type != DT_UNKNOWN ||
			    fstatat(w->dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
			    !S_ISREG(st.st_mode))
				continue;
		}
		if (max_seq && (int64_t)id.seq > *max_seq)
			*max_seq = id.seq;
		if (part != want_part)
			continue;
		if ((size_t)n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct pcapw_entry *nv = realloc(v, ncap * sizeof *nv);
			if (!nv)
				goto out;
			v = nv;
			cap = ncap;
		}
		size_t len = strlen(e->d_name); /* a matching name has at most 44 characters */
		if (len >= sizeof v[n].name)
			continue;
		v[n].id = id;
		memcpy(v[n].name, e->d_name, len + 1);
		n++;
	}
	if (n)
		qsort(v, (size_t)n, sizeof *v, pcapw_entry_cmp);
	*out = v;
	v = NULL;
	ret = n;
out:
	if (d)
		closedir(d);
	if (fd >= 0)
		close(fd);
	free(v);
	return ret;
}

/* Deletes the oldest finished files (by sequence number) beyond the retention count. */
static void pcapw_retention(pcapw_t *w)
{
	struct pcapw_entry *v;
	if (!w->retention)
		return;
	long n = pcapw_scan(w, 0, &v, NULL);
	if (n < 0) {
		log_warn("cannot list folder `%s' for retention: %s", w->dir, strerror((int)-n));
		return;
	}
	for (long i = 0; i + (long)w->retention < n; i++) {
		if (unlinkat(w->dirfd, v[i].name, 0) == 0) {
			pthread_mutex_lock(&w->lock);
			w->files_deleted++;
			pthread_mutex_unlock(&w->lock);
			log_debug("deleted `%s/%s' (retention %" PRIu32 ")", w->dir, v[i].name,
				  w->retention);
		} else if (errno != ENOENT) {
			log_warn("cannot delete `%s/%s': %s", w->dir, v[i].name, strerror(errno));
		}
	}
	free(v);
}

/* fsync, close, rename to the final name, fsync the folder, retention. Any thread. */
static int pcapw_complete(pcapw_t *w, int fd, const char *name)
{
	char part[PCAPW_NAME_MAX + 8];
	int ret = 0;
	snprintf(part, sizeof part, "%s.part", name);
	/* EINVAL/EROFS: a file system without fsync; nothing is lost by going on */
	if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS) {
		ret = -errno;
		log_warn("cannot fsync `%s/%s': %s", w->dir, part, strerror(errno));
	}
	if (close(fd) != 0 && ret == 0)
		ret = -errno;
	if (renameat(w->dirfd, part, w->dirfd, name) != 0) {
		int e = errno;
		log_warn("cannot rename `%s/%s' to `%s': %s (it will be repaired at the next start)",
			 w->dir, part, name, strerror(e));
		if (ret == 0)
			ret = -e;
	} else {
		pthread_mutex_lock(&w->lock);
		w->files_written++;
		pthread_mutex_unlock(&w->lock);
		pcapw_sync_dir(w);
		if (w->on_finished)
			w->on_finished(w->on_finished_ud, name);
	}
	pcapw_retention(w);
	return ret;
}

static void *pcapw_finisher(void *arg)
{
	pcapw_t *w = arg;
	pthread_setname_np(pthread_self(), "ringcap-finish");
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->qlen && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (!w->qlen)
			break;
		struct pcapw_job job = w->jobs[w->qhead];
		w->qhead = (w->qhead + 1) % PCAPW_QUEUE;
		w->qlen--;
		w->busy = 1;
		pthread_mutex_unlock(&w->lock);
		pcapw_complete(w, job.fd, job.name);
		pthread_mutex_lock(&w->lock);
		w->busy = 0;
		if (!w->qlen)
			pthread_cond_broadcast(&w->idle);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Waits until the background thread has finished every file handed to it. */
static void pcapw_drain(pcapw_t *w)
{
	if (!w->async)
		return;
	pthread_mutex_lock(&w->lock);
	while (w->qlen || w->busy)
		pthread_cond_wait(&w->idle, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

/*
 * Finishes the open file: flush, then fsync, close, rename, fsync folder, retention - here, or
 * on the background thread when async (waiting for room when PCAPW_QUEUE files are pending).
 */
static int pcapw_finish(pcapw_t *w)
{
	char part[PATH_MAX];
	struct pcapfile_stats st;
	int ret, fd;

	pcapw_path(w, w->cur_name, ".part", part, sizeof part);
	uint64_t before = pcapfile_written(w->cur);
	ret = pcapfile_flush(w->cur);
	pcapw_note(w, ret, before);
	pcapfile_stats(w->cur, &st);
	uint64_t size = pcapfile_size(w->cur);
	int r = pcapfile_detach(w->cur, &fd); /* the buffer is empty: nothing more to write */
	w->cur = NULL;
	if (r < 0 && ret == 0)
		ret = r;
	w->done.packets += st.packets;
	w->done.packets_dropped += st.packets_dropped;
	w->done.write_errors += st.write_errors;

	if (size <= PCAPFILE_HDR_LEN) {
		/* every record was lost to write errors: no empty files */
		close(fd);
		if (unlink(part) != 0)
			log_warn("cannot delete empty `%s': %s", part, strerror(errno));
		pcapw_retention(w);
		return ret;
	}
	if (!w->async) {
		r = pcapw_complete(w, fd, w->cur_name);
		return ret ? ret : r;
	}
	pthread_mutex_lock(&w->lock);
	while (w->qlen == PCAPW_QUEUE)
		pthread_cond_wait(&w->idle, &w->lock);
	struct pcapw_job *job = &w->jobs[(w->qhead + w->qlen) % PCAPW_QUEUE];
	job->fd = fd;
	snprintf(job->name, sizeof job->name, "%s", w->cur_name);
	w->qlen++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return ret;
}

/* Creates the next .part for a packet at second sec, at most once a second after a failure. */
static int pcapw_start(pcapw_t *w, int64_t sec)
{
	char name[PCAPW_NAME_MAX], path[PATH_MAX], err[PATH_MAX + 128];
	struct stat st;
	int64_t now = pcapw_now_ms();

	if (w->create_err && now - w->create_ms < PCAPW_RETRY_MS)
		return -w->create_err;
	w->create_ms = now;
	for (int tries = 0;; tries++) {
		if (w->next_seq > UINT32_MAX) {
			w->create_errors++;
			w->create_err = EOVERFLOW;
			pcapw_episode_error(w, "no sequence number left for a new file in", w->dir,
					    EOVERFLOW);
			return -EOVERFLOW;
		}
		struct pcapw_fileid id = {.start_s = sec,
					  .seq = (uint32_t)w->next_seq};
		pcapw_file_name(&id, name, sizeof name);
		pcapw_path(w, name, ".part", path, sizeof path);
		pcapfile_t *f = NULL;
		int e = EEXIST;
		/* a finished file of that name would be replaced by the rename: treat as taken */
		if (fstatat(w->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			f = pcapfile_create(path, &w->fopts, err, sizeof err);
			e = errno;
		}
		if (f) {
			w->cur = f;
			w->cur_id = id;
			snprintf(w->cur_name, sizeof w->cur_name, "%s", name);
			w->next_seq++;
			w->create_err = 0;
			w->flush_ms = now;
			pcapw_episode_ok(w, path);
			return 0;
		}
		if (e == EEXIST && tries < 16) {
			/* someone else took the number: take the next one */
			w->next_seq++;
			continue;
		}
		w->create_errors++;
		w->create_err = e ? e : EIO;
		pcapw_episode_error(w, "cannot create", path, w->create_err);
		return -w->create_err;
	}
}

int pcapw_write_ns(pcapw_t *w, int64_t ts_ns, uint32_t caplen, uint32_t wirelen,
		   const uint8_t *data, struct pcapw_fileid *id)
{
	int64_t sec;
	uint32_t frac;
	pcapfile_split_ns(ts_ns, w ? w->fopts.nano : 0, &sec, &frac);
	return pcapw_write(w, sec, frac, caplen, wirelen, data, id);
}

int pcapw_write(pcapw_t *w, int64_t sec, uint32_t frac, uint32_t caplen, uint32_t wirelen,
		const uint8_t *data, struct pcapw_fileid *id)
{
	if (id) {
		id->start_s = 0;
		id->seq = 0;
	}
	if (!w)
		return -EINVAL;
	if (caplen && !data) {
		w->create_dropped++;
		return -EINVAL;
	}
	uint64_t rec = PCAPFILE_REC_HDR_LEN + (uint64_t)caplen;
	if (w->cur) {
		uint64_t size = pcapfile_size(w->cur);
		if (size > PCAPFILE_HDR_LEN && size + rec > w->rotate_bytes)
			pcapw_finish(
			    w); /* problems are logged and counted; go on with a new file */
	}
	if (!w->cur) {
		int r = pcapw_start(w, sec);
		if (r < 0) {
			w->create_dropped++;
			return r;
		}
	}
	uint64_t before = pcapfile_written(w->cur);
	int r = pcapfile_write(w->cur, sec, frac, caplen, wirelen, data);
	pcapw_note(w, r, before);
	if (r < 0)
		return r;
	if (id)
		*id = w->cur_id;
	return 0;
}

void pcapw_tick(pcapw_t *w, int force)
{
	if (!w || !w->cur)
		return;
	int64_t now = pcapw_now_ms();
	if (!force && now - w->flush_ms < PCAPW_FLUSH_MS)
		return;
	w->flush_ms = now;
	uint64_t before = pcapfile_written(w->cur);
	pcapw_note(w, pcapfile_flush(w->cur), before);
}

void pcapw_stats(const pcapw_t *w, struct pcapw_stats *st)
{
	struct pcapfile_stats cur;
	memset(st, 0, sizeof *st);
	if (!w)
		return;
	pcapfile_stats(w->cur, &cur);
	st->packets = w->done.packets + cur.packets;
	st->packets_dropped = w->done.packets_dropped + cur.packets_dropped + w->create_dropped;
	st->write_errors = w->done.write_errors + cur.write_errors + w->create_errors;
	pthread_mutex_lock((pthread_mutex_t *)&w->lock);
	st->files_written = w->files_written;
	st->files_deleted = w->files_deleted;
	pthread_mutex_unlock((pthread_mutex_t *)&w->lock);
	st->files_repaired = w->files_repaired;
}

/* mkdir -p with the private folder mode (files_dir_mode()). Returns 0 or -errno. */
static int pcapw_mkdirs(const char *dir)
{
	char p[PATH_MAX];
	size_t len = strlen(dir);
	if (len >= sizeof p)
		return -ENAMETOOLONG;
	memcpy(p, dir, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char c = p[i];
		p[i] = '\0';
		if (files_mkdir(p) != 0)
			return -errno;
		p[i] = c;
	}
	return 0;
}

/* Repairs and renames the .part files a crash left. */
static void pcapw_recover(pcapw_t *w)
{
	struct pcapw_entry *v;
	char path[PATH_MAX], final[PATH_MAX], err[PATH_MAX + 128];
	int renamed = 0;

	long n = pcapw_scan(w, 1, &v, NULL);
	if (n < 0) {
		log_warn("cannot list folder `%s': %s", w->dir, strerror((int)-n));
		return;
	}
	for (long i = 0; i < n; i++) {
		uint64_t cut = 0;
		struct stat st;
		pcapw_path(w, v[i].name, "", path, sizeof path);
		long recs = pcapfile_repair(path, &cut, err, sizeof err);
		if (recs < 0) {
			if (fstatat(w->dirfd, v[i].name, &st, 0) == 0 &&
			    st.st_size < (off_t)PCAPFILE_HDR_LEN &&
			    unlinkat(w->dirfd, v[i].name, 0) == 0)
				log_info("removed `%s': no complete pcap header (%lld bytes)", path,
					 (long long)st.st_size);
			else
				log_warn("%s; leaving it alone", err);
			continue;
		}
		if (recs == 0) {
			if (unlinkat(w->dirfd, v[i].name, 0) == 0)
				log_info("removed `%s': no complete packet", path);
			else
				log_warn("cannot delete `%s': %s", path, strerror(errno));
			continue;
		}
		size_t fl = strlen(v[i].name) - strlen(".part");
		char fname[PCAPW_NAME_MAX];
		snprintf(fname, sizeof fname, "%.*s", (int)fl, v[i].name);
		pcapw_path(w, fname, "", final, sizeof final);
		if (fstatat(w->dirfd, fname, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			log_warn("cannot finish `%s': `%s' exists", path, final);
			continue;
		}
		if (renameat(w->dirfd, v[i].name, w->dirfd, fname) != 0) {
			log_warn("cannot rename `%s' to `%s': %s", path, final, strerror(errno));
			continue;
		}
		renamed = 1;
		w->files_repaired++;
		if (w->on_finished)
			w->on_finished(w->on_finished_ud, fname);
		log_info("repaired `%s': %ld packets kept, %" PRIu64 " bytes cut", final, recs,
			 cut);
	}
	free(v);
	if (renamed)
		pcapw_sync_dir(w);
}

static void pcapw_free(pcapw_t *w)
{
	if (!w)
		return;
	if (w->async) {
		pthread_mutex_lock(&w->lock);
		w->stop = 1;
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	free(w->jobs);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	pthread_cond_destroy(&w->idle);
	if (w->dirfd >= 0)
		close(w->dirfd);
	free(w->dir);
	free(w);
}

pcapw_t *pcapw_open(const struct pcapw_config *cfg, char *err, size_t errlen)
{
	pcapw_t *w = NULL, *ret = NULL;
	struct pcapw_entry *v = NULL;
	int64_t max_seq;
	int r;

	if (!cfg || !cfg->dir || !cfg->dir[0]) {
		snprintf(err, errlen, "pcap writer: no folder given");
		goto out;
	}
	if (cfg->rotate_bytes < 1) {
		snprintf(err, errlen, "pcap writer: invalid rotation size 0 for `%s'", cfg->dir);
		goto out;
	}
	if (strlen(cfg->dir) + 1 + PCAPW_NAME_MAX >= PATH_MAX) {
		snprintf(err, errlen, "pcap folder `%s' is too long", cfg->dir);
		goto out;
	}
	int lt = pcapfile_linktype_from_dlt(cfg->linktype);
	if (lt < 0) {
		const char *dn = pcap_datalink_val_to_name(cfg->linktype);
		snprintf(err, errlen, "link-layer type %d (%s) cannot be saved in a pcap file",
			 cfg->linktype, dn ? dn : "unknown");
		goto out;
	}
	w = calloc(1, sizeof *w);
	if (!w || !(w->dir = strdup(cfg->dir))) {
		snprintf(err, errlen, "pcap writer for `%s': out of memory", cfg->dir);
		goto out;
	}
	w->dirfd = -1;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	pthread_cond_init(&w->idle, NULL);
	w->rotate_bytes = cfg->rotate_bytes;
	w->retention = cfg->retention;
	w->on_finished = cfg->on_finished;
	w->on_finished_ud = cfg->on_finished_ud;
	w->fopts.linktype = lt;
	w->fopts.linktype_ext = cfg->linktype_ext;
	w->fopts.async = cfg->async;
	w->fopts.snaplen = cfg->snaplen;
	w->fopts.nano = cfg->nano;
	/* a buffer larger than a file is never filled */
	w->fopts.bufsize = cfg->rotate_bytes < PCAPW_BUF_DEFAULT ? (size_t)cfg->rotate_bytes : 0;

	r = pcapw_mkdirs(w->dir);
	if (r < 0) {
		snprintf(err, errlen, "cannot create folder `%s': %s", w->dir, strerror(-r));
		goto out;
	}
	w->dirfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd < 0) {
		snprintf(err, errlen, "cannot open folder `%s': %s", w->dir, strerror(errno));
		goto out;
	}
	pcapw_recover(w);
	pcapw_retention(w);
	long n = pcapw_scan(w, 0, &v, &max_seq);
	if (n < 0) {
		snprintf(err, errlen, "cannot list folder `%s': %s", w->dir, strerror((int)-n));
		goto out;
	}
	w->next_seq = max_seq < 0 ? 1 : (uint64_t)max_seq + 1;
	if (w->next_seq > UINT32_MAX) {
		snprintf(err, errlen,
			 "no sequence number left in `%s': a file numbered %" PRIu32 " exists",
			 w->dir, UINT32_MAX);
		goto out;
	}
	if (cfg->async) {
		w->jobs = calloc(PCAPW_QUEUE, sizeof *w->jobs);
		if (!w->jobs) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		r = pthread_create(&w->thread, NULL, pcapw_finisher, w);
		if (r != 0) {
			snprintf(err, errlen, "cannot start the file finisher thread: %s", strerror(r));
			goto out;
		}
		w->async = 1;
	}
	ret = w;
	w = NULL;
out:
	free(v);
	pcapw_free(w);
	return ret;
}

int pcapw_end(pcapw_t *w)
{
	if (!w)
		return 0;
	int ret = w->cur ? pcapw_finish(w) : 0;
	pcapw_drain(w);
	return ret;
}

int pcapw_close(pcapw_t *w)
{
	int ret = 0;
	if (!w)
		return 0;
	if (w->cur)
		ret = pcapw_finish(w);
	pcapw_free(w);
	return ret;
}
