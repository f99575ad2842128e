/*
 * libload.c - libcurl and libmicrohttpd through dlopen(); see libload.h.
 *
 * DESIGN: one table of function pointers per library, filled by dlsym() under pthread_once().
 * Every function below has the library's prototype (from its header) and forwards to the pointer.
 * Three are variadic: curl_easy_setopt() takes one argument whose type follows from the option
 * number (the CURLOPTTYPE_ ranges, as libcurl's own setopt reads it), curl_easy_getinfo() one
 * pointer, and MHD_start_daemon() an option list that goes to MHD_start_daemon_va().
 * MHD_get_connection_info() and MHD_get_daemon_info() forward no extra argument: no info type
 * ringcap asks for takes one. (The last two and MHD_get_connection_values() serve the tests' fake
 * S3 server.)
 * A function called before its library loaded tries to load it and, if that fails, returns the
 * library's own failure value (NULL, CURLE_FAILED_INIT, MHD_NO).
 *
 * These definitions are not exported from the executable (it links no library that refers to
 * them), so the loaded libraries keep calling their own functions.
 */
#define CURL_DISABLE_TYPECHECK 1 /* its macros would rename the definitions below */
#include "base/libload.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifndef RINGCAP_CURL_SONAME
#define RINGCAP_CURL_SONAME "libcurl.so.4"
#endif
#ifndef RINGCAP_MHD_SONAME
#define RINGCAP_MHD_SONAME "libmicrohttpd.so.12"
#endif

/* clang-format off */
#define CURL_FUNCS(X) \
	X(curl_global_init) X(curl_easy_init) X(curl_easy_cleanup) X(curl_easy_reset) \
	X(curl_easy_perform) X(curl_easy_getinfo) X(curl_easy_setopt) X(curl_easy_strerror) \
	X(curl_slist_append) X(curl_slist_free_all)
#define MHD_FUNCS(X) \
	X(MHD_start_daemon_va) X(MHD_stop_daemon) X(MHD_is_feature_supported) \
	X(MHD_get_connection_info) X(MHD_lookup_connection_value) X(MHD_queue_response) \
	X(MHD_create_response_from_callback) X(MHD_create_response_from_buffer) \
	X(MHD_destroy_response) X(MHD_add_response_header) X(MHD_get_connection_values) \
	X(MHD_get_daemon_info)
/* clang-format on */

#define FIELD(name) __typeof__(name) *name;
static struct {
	CURL_FUNCS(FIELD)
} cu;
static struct {
	MHD_FUNCS(FIELD)
} mh;
#undef FIELD

#define NAME(name) #name,
#define SLOT(name) (void *)&T.name,
#define T cu
static const char *const curl_names[] = {CURL_FUNCS(NAME)};
static void *const curl_slots[] = {CURL_FUNCS(SLOT)};
#undef T
#define T mh
static const char *const mhd_names[] = {MHD_FUNCS(NAME)};
static void *const mhd_slots[] = {MHD_FUNCS(SLOT)};
#undef T
#undef SLOT
#undef NAME

struct lib {
	const char *file, *package, *purpose;
	const char *const *names; /* the functions to look up */
	void *const *slots;	  /* where each one's address goes */
	size_t n;
	pthread_once_t once;
	int ok;
	char err[256];
};

static struct lib lib_curl = {RINGCAP_CURL_SONAME, "libcurl4", "S3 export", curl_names, curl_slots,
			      sizeof curl_names / sizeof *curl_names, PTHREAD_ONCE_INIT, 0, ""};
static struct lib lib_mhd = {RINGCAP_MHD_SONAME, "libmicrohttpd12", "the HTTP API", mhd_names,
			     mhd_slots, sizeof mhd_names / sizeof *mhd_names, PTHREAD_ONCE_INIT, 0,
			     ""};

/* dlopen()s l->file and looks up every function; sets l->ok, or l->err */
static void lib_load(struct lib *l)
{
	void *h = dlopen(l->file, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *why = dlerror();
		snprintf(l->err, sizeof l->err, "cannot load %s, needed for %s: %s (Debian package %s)",
			 l->file, l->purpose, why ? why : "unknown error", l->package);
		return;
	}
	for (size_t i = 0; i < l->n; i++) {
		void *p = dlsym(h, l->names[i]);
		if (!p) {
			snprintf(l->err, sizeof l->err,
				 "%s has no function %s (a version ringcap was not built for?)", l->file,
				 l->names[i]);
			return;
		}
		/* dlsym() returns void *; POSIX guarantees it converts to a function pointer */
		memcpy(l->slots[i], &p, sizeof p);
	}
	l->ok = 1; /* the handle stays open for the life of the process */
}

static void load_curl(void)
{
	lib_load(&lib_curl);
}

static void load_mhd(void)
{
	lib_load(&lib_mhd);
}

static int have_curl(void)
{
	pthread_once(&lib_curl.once, load_curl);
	return lib_curl.ok;
}

static int have_mhd(void)
{
	pthread_once(&lib_mhd.once, load_mhd);
	return lib_mhd.ok;
}

static int report(const struct lib *l, char *err, size_t errlen)
{
	if (l->ok)
		return 0;
	snprintf(err, errlen, "%s", l->err);
	return -1;
}

int libload_curl(char *err, size_t errlen)
{
	have_curl();
	return report(&lib_curl, err, errlen);
}

int libload_mhd(char *err, size_t errlen)
{
	have_mhd();
	return report(&lib_mhd, err, errlen);
}

/* --- libcurl --- */

CURLcode curl_global_init(long flags)
{
	return have_curl() ? cu.curl_global_init(flags) : CURLE_FAILED_INIT;
}

CURL *curl_easy_init(void)
{
	return have_curl() ? cu.curl_easy_init() : NULL;
}

void curl_easy_cleanup(CURL *c)
{
	if (have_curl())
		cu.curl_easy_cleanup(c);
}

void curl_easy_reset(CURL *c)
{
	if (have_curl())
		cu.curl_easy_reset(c);
}

CURLcode curl_easy_perform(CURL *c)
{
	return have_curl() ? cu.curl_easy_perform(c) : CURLE_FAILED_INIT;
}

CURLcode curl_easy_getinfo(CURL *c, CURLINFO info, ...)
{
	va_list ap;
	va_start(ap, info);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return have_curl() ? cu.curl_easy_getinfo(c, info, arg) : CURLE_FAILED_INIT;
}

typedef void (*any_fn)(void);

CURLcode curl_easy_setopt(CURL *c, CURLoption opt, ...)
{
	CURLcode rc = CURLE_FAILED_INIT;
	va_list ap;
	va_start(ap, opt);
	if (!have_curl()) {
		/* nothing to forward to */
	} else if (opt < CURLOPTTYPE_OBJECTPOINT) {
		rc = cu.curl_easy_setopt(c, opt, va_arg(ap, long));
	} else if (opt < CURLOPTTYPE_FUNCTIONPOINT) {
		rc = cu.curl_easy_setopt(c, opt, va_arg(ap, void *));
	} else if (opt < CURLOPTTYPE_OFF_T) {
		rc = cu.curl_easy_setopt(c, opt, va_arg(ap, any_fn));
	} else if (opt < CURLOPTTYPE_BLOB) {
		rc = cu.curl_easy_setopt(c, opt, va_arg(ap, curl_off_t));
	} else {
		rc = cu.curl_easy_setopt(c, opt, va_arg(ap, void *));
	}
	va_end(ap);
	return rc;
}

const char *curl_easy_strerror(CURLcode rc)
{
	return have_curl() ? cu.curl_easy_strerror(rc) : "libcurl is not loaded";
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
	return have_curl() ? cu.curl_slist_append(list, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *list)
{
	if (have_curl())
		cu.curl_slist_free_all(list);
}

/* --- libmicrohttpd --- */

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc,
				    void *apc_cls, MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
	struct MHD_Daemon *d = NULL;
	va_list ap;
	va_start(ap, dh_cls);
	if (have_mhd())
		d = mh.MHD_start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
	va_end(ap);
	return d;
}

void MHD_stop_daemon(struct MHD_Daemon *d)
{
	if (have_mhd())
		mh.MHD_stop_daemon(d);
}

enum MHD_Result MHD_is_feature_supported(enum MHD_FEATURE feature)
{
	return have_mhd() ? mh.MHD_is_feature_supported(feature) : MHD_NO;
}

const union MHD_ConnectionInfo *MHD_get_connection_info(struct MHD_Connection *con,
							enum MHD_ConnectionInfoType type, ...)
{
	return have_mhd() ? mh.MHD_get_connection_info(con, type) : NULL;
}

const char *MHD_lookup_connection_value(struct MHD_Connection *con, enum MHD_ValueKind kind,
					const char *key)
{
	return have_mhd() ? mh.MHD_lookup_connection_value(con, kind, key) : NULL;
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *con, unsigned int status_code,
				   struct MHD_Response *response)
{
	return have_mhd() ? mh.MHD_queue_response(con, status_code, response) : MHD_NO;
}

struct MHD_Response *MHD_create_response_from_callback(uint64_t size, size_t block_size,
						       MHD_ContentReaderCallback crc, void *crc_cls,
						       MHD_ContentReaderFreeCallback crfc)
{
	return have_mhd() ? mh.MHD_create_response_from_callback(size, block_size, crc, crc_cls,
								 crfc)
			  : NULL;
}

struct MHD_Response *MHD_create_response_from_buffer(size_t size, void *buffer,
						     enum MHD_ResponseMemoryMode mode)
{
	return have_mhd() ? mh.MHD_create_response_from_buffer(size, buffer, mode) : NULL;
}

void MHD_destroy_response(struct MHD_Response *response)
{
	if (have_mhd())
		mh.MHD_destroy_response(response);
}

enum MHD_Result MHD_add_response_header(struct MHD_Response *response, const char *header,
					const char *content)
{
	return have_mhd() ? mh.MHD_add_response_header(response, header, content) : MHD_NO;
}

int MHD_get_connection_values(struct MHD_Connection *con, enum MHD_ValueKind kind,
			      MHD_KeyValueIterator iterator, void *iterator_cls)
{
	return have_mhd() ? mh.MHD_get_connection_values(con, kind, iterator, iterator_cls) : -1;
}

const union MHD_DaemonInfo *MHD_get_daemon_info(struct MHD_Daemon *daemon,
						enum MHD_DaemonInfoType info_type, ...)
{
	return have_mhd() ? mh.MHD_get_daemon_info(daemon, info_type) : NULL;
}
