/* audit.c - PLACEHOLDER while the audit trail is being written (see audit.h); replaced wholesale. */
#include "audit.h"
int audit_open(const char *dir, const keys_t *keys, audit_t **out, char *err, size_t errlen)
{ (void)dir; (void)keys; *out = NULL; snprintf(err, errlen, "audit not built yet"); return -1; }
long audit_append(audit_t *a, const char *ev, json_t *f, char *err, size_t errlen)
{ (void)a; (void)ev; json_decref(f); snprintf(err, errlen, "audit not built yet"); return -1; }
int audit_checkpoint(audit_t *a, char *err, size_t errlen) { (void)a; (void)err; (void)errlen; return -1; }
void audit_close(audit_t *a) { (void)a; }
int audit_verify(const char *dir, const keys_t *keys, FILE *r, char *err, size_t errlen)
{ (void)dir; (void)keys; (void)r; snprintf(err, errlen, "audit not built yet"); return -1; }
json_t *audit_list(const char *dir, long b, int l, long *t, char *err, size_t errlen)
{ (void)dir; (void)b; (void)l; (void)t; snprintf(err, errlen, "audit not built yet"); return NULL; }
