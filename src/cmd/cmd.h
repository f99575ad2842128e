/*
 * cmd.h - the subcommands. Each is a main(): it parses its own arguments, prints, and returns the
 * process exit status (0 success, 1 failure at run time, 2 bad usage or configuration).
 */
#ifndef RINGCAP_CMD_H
#define RINGCAP_CMD_H

#define EXIT_USAGE 2

int cmd_run_main(int argc, char **argv);
int cmd_capture_main(int argc, char **argv);
int cmd_incidents_main(int argc, char **argv);
int cmd_incident_main(int argc, char **argv);
int cmd_analyze_main(int argc, char **argv);
int cmd_serve_main(int argc, char **argv); /* cmd_serve.c */
int cmd_url_main(int argc, char **argv);   /* cmd_serve.c */
int cmd_token_main(int argc, char **argv); /* cmd_serve.c */
int cmd_audit_main(int argc, char **argv); /* cmd_audit.c */
int cmd_keys_main(int argc, char **argv);  /* cmd_vault.c */
int cmd_retention_main(int argc, char **argv); /* cmd_vault.c */
int cmd_export_main(int argc, char **argv);    /* cmd_export.c */

/*
 * Makes the output folder ready for the agent (cmd_run.c): created private when missing, refused
 * with how to fix it when another user could write it or plant links in it, group set from
 * --group (NULL: owner only). Logs and returns -1 on refusal (exit EXIT_USAGE), else 0.
 */
int cmd_prepare_outdir(const char *dir, const char *group);

#endif
