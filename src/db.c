/* db.c - PLACEHOLDER while the index is being written (see db.h); replaced wholesale. */
#include <stdio.h>
#include "db.h"
#define NI(err, errlen) (snprintf(err, errlen, "index not built yet"), DB_ERROR)
int db_open(const char *dir, int readonly, db_t **out, char *err, size_t errlen)
{ (void)dir; (void)readonly; *out = NULL; return NI(err, errlen); }
void db_close(db_t *d) { (void)d; }
int db_schema_version(db_t *d) { (void)d; return 0; }
int db_put_incident(db_t *d, const char *m, int64_t w, char *err, size_t errlen)
{ (void)d; (void)m; (void)w; return NI(err, errlen); }
int db_put_file(db_t *d, long id, const struct db_file *f, char *err, size_t errlen)
{ (void)d; (void)id; (void)f; return NI(err, errlen); }
int db_get_incident(db_t *d, long id, struct db_incident *o, char *err, size_t errlen)
{ (void)d; (void)id; (void)o; return NI(err, errlen); }
int db_get_meta(db_t *d, long id, char **o, char *err, size_t errlen)
{ (void)d; (void)id; *o = NULL; return NI(err, errlen); }
int db_list_incidents(db_t *d, long b, int l, struct db_incident *o, long *t, char *err, size_t errlen)
{ (void)d; (void)b; (void)l; (void)o; (void)t; return NI(err, errlen); }
int db_due_for_retention(db_t *d, int64_t n, int64_t r, long *ids, int max, char *err, size_t errlen)
{ (void)d; (void)n; (void)r; (void)ids; (void)max; return NI(err, errlen); }
int db_mark_deleted(db_t *d, long id, int64_t n, const char *r, char *err, size_t errlen)
{ (void)d; (void)id; (void)n; (void)r; return NI(err, errlen); }
