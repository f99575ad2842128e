/*
 * libload.h - libcurl and libmicrohttpd, loaded when first needed.
 *
 * The agent links libpcap, libcrypto, SQLite and jansson, which every command uses. libcurl (S3
 * export) and libmicrohttpd (the HTTP API) bring about thirty more shared libraries between them
 * (GnuTLS, Kerberos, LDAP, ...): linked, they cost every start of the binary about 12 ms and
 * 4.8 MB of resident memory (measured on Debian 12), although `run -r`, the CLI commands and an
 * agent without S3 never call them. So they are opened with dlopen() on first use instead, and
 * libload.c defines the functions of theirs that ringcap calls, each forwarding to the library's
 * own. Callers include <curl/curl.h> and <microhttpd.h> and call the functions as usual, after
 * libload_curl() or libload_mhd() said the library is there.
 *
 * The file names are the libraries' sonames, taken from the development packages at build time
 * (RINGCAP_CURL_SONAME, RINGCAP_MHD_SONAME; Debian 12: libcurl.so.4, libmicrohttpd.so.12).
 */
#ifndef RINGCAP_LIBLOAD_H
#define RINGCAP_LIBLOAD_H

#include <stddef.h>

/*
 * Loads the library (once; later calls give the first outcome). Returns 0, or -1 with a message
 * naming the file, the loader's reason and the Debian package in err.
 */
int libload_curl(char *err, size_t errlen);
int libload_mhd(char *err, size_t errlen);

#endif
