/* proxyd -t beyond syntax: what only loading can tell (private key permissions, certificates, keys, CA files),
 * whether the pid file can be written where -s looks for it, and whether `user` can read what a reload re-reads.
 * Prints one line per problem, naming the file. */
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/runtime.h"

/* Whether the file holds a PEM certificate and no private key: tls_cert and tls_key swapped, most likely. */
static int holds_certificate_only(const char *path)
{
    char buf[8192];
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = 0;
    return strstr(buf, "-----BEGIN CERTIFICATE-----") && !strstr(buf, "PRIVATE KEY-----");
}

static int key_exposed(const px_config *cfg, const char *section, int line, const char *key, const char *path,
                       FILE *errfp)
{
    struct stat st;
    if (!path || stat(path, &st) != 0 || !(st.st_mode & S_IROTH))
        return 0;
    if (holds_certificate_only(path)) { /* a certificate is public: its mode is not the problem */
        fprintf(errfp, "%s:%d: [%s] %s: %s holds a certificate, not a private key (tls_cert and tls_key swapped?)\n",
                cfg->path, line, section, key, path);
        return 1;
    }
    fprintf(errfp, "%s:%d: [%s] %s: %s is readable by other users; refusing it (chmod o-r %s)\n", cfg->path, line,
            section, key, path, path);
    return 1;
}

/* A private key others can read is a key already leaked: proxyd refuses to use it, at -t and at start. */
int px_check_keys(const px_config *cfg, void *errfp_v)
{
    FILE *errfp = errfp_v;
    char section[160];
    int errors =
        key_exposed(cfg, "global", cfg->tls_ticket_key_line, "tls_ticket_key_file", cfg->tls_ticket_key_file, errfp);
    for (int i = 0; i < cfg->nservers; i++) {
        const px_server *s = &cfg->servers[i];
        snprintf(section, sizeof(section), "server %s", s->name);
        for (int k = 0; k < s->nkey; k++)
            errors += key_exposed(cfg, section, s->key_line[k], "tls_key", s->tls_key[k], errfp);
    }
    for (int u = 0; u < cfg->nupstreams; u++) {
        snprintf(section, sizeof(section), "upstream %s", cfg->upstreams[u].name);
        const px_upstream *up = &cfg->upstreams[u];
        errors += key_exposed(cfg, section, px_line_or(up->tls_key_line, up->line), "tls_key", up->tls_key, errfp);
    }
    return errors;
}

/* ---------------------------------------------------------------- the pid file */

/* The folder of path (dirname), into out. */
static const char *folder_of(const char *path, char *out, size_t cap)
{
    char copy[PATH_MAX];
    snprintf(copy, sizeof(copy), "%s", path);
    snprintf(out, cap, "%s", dirname(copy));
    return out;
}

/* "FILE:LINE: [global] pid_file: PATH: " then the message, for an error or (warning set) a warning. */
static void pid_say(const px_config *cfg, FILE *errfp, int warning, const char *msg)
{
    fprintf(errfp, "%s:%d: %s[global] pid_file: %s%s: %s\n", cfg->path, cfg->pid_file_line, warning ? "warning: " : "",
            cfg->pid_file, cfg->pid_file_line ? "" : " (the default: pid_file is unset)", msg);
}

/* The folder is missing: proxyd creates it when started as root (as systemd's RuntimeDirectory= would), one
 * level, so its parent must exist. */
static int pid_folder_missing(const px_config *cfg, const char *dir, FILE *errfp)
{
    char parent[PATH_MAX], msg[2 * PATH_MAX + 160];
    folder_of(dir, parent, sizeof(parent));
    if (geteuid() == 0 && access(parent, W_OK | X_OK) == 0)
        return 0;
    if (geteuid() == 0)
        snprintf(msg, sizeof(msg), "the folder %s does not exist, and %s cannot hold it", dir, parent);
    else
        snprintf(msg, sizeof(msg),
                 "the folder %s does not exist; proxyd creates it only when started as root (under systemd, "
                 "RuntimeDirectory= does)",
                 dir);
    pid_say(cfg, errfp, 0, msg);
    return 1;
}

/* The pid file must be writable where -s and logrotate look for it: by this user, who starts proxyd (started as
 * root, proxyd writes it before switching to `user`). Returns the number of errors, each printed. */
int px_check_pid_file(const px_config *cfg, void *errfp_v)
{
    FILE *errfp = errfp_v;
    char dir[PATH_MAX], msg[PATH_MAX + 320];
    struct stat st = {0};
    struct passwd *pw = getpwuid(geteuid());
    const char *who = pw ? pw->pw_name : "this user";
    folder_of(cfg->pid_file, dir, sizeof(dir));
    if (stat(dir, &st) != 0 && errno == ENOENT)
        return pid_folder_missing(cfg, dir, errfp);
    if (access(dir, W_OK | X_OK) != 0 || !S_ISDIR(st.st_mode))
        snprintf(msg, sizeof(msg),
                 "the folder %s is not writable by %s, who starts proxyd, so -s and logrotate would not find it: use "
                 "the default " PX_PID_FILE_DEFAULT " (the systemd unit's RuntimeDirectory=) or a folder %s may write",
                 dir, who, who);
    else if (access(cfg->pid_file, F_OK) == 0 && access(cfg->pid_file, W_OK) != 0)
        snprintf(msg, sizeof(msg), "exists and is not writable by %s (a proxyd running as another user left it)", who);
    else
        return 0;
    pid_say(cfg, errfp, 0, msg);
    return 1;
}

/* ---------------------------------------------------------------- what `user` re-reads at a reload */

/* One line when the user this process now is cannot read path. Returns 1 then. */
static int unreadable(const px_config *cfg, FILE *out, const struct passwd *pw, const char *section, const char *key,
                      int line, const char *path)
{
    if (!path || access(path, R_OK) == 0)
        return 0;
    const char *why = strerror(errno);
    const struct group *gr = getgrgid(pw->pw_gid);
    const char *group = gr ? gr->gr_name : "its group";
    fprintf(out,
            "%s:%d: [%s] %s: %s is not readable by user %s (%s), who re-reads it at every reload: give it to "
            "group %s, group-readable (chgrp %s %s; chmod g+r,o-r %s), in folders %s may traverse\n",
            cfg->path, line, section, key, path, pw->pw_name, why, group, group, path, path, pw->pw_name);
    return 1;
}

/* In the child, as `user`: every file a reload re-reads (the configuration, ticket keys, certificates, keys, CA
 * files). Returns the number of files it cannot read. */
static int check_as_user(const px_config *cfg, const struct passwd *pw, FILE *out)
{
    char section[160];
    int errors = unreadable(cfg, out, pw, "global", "configuration (-c)", 0, cfg->path);
    errors +=
        unreadable(cfg, out, pw, "global", "tls_ticket_key_file", cfg->tls_ticket_key_line, cfg->tls_ticket_key_file);
    for (int i = 0; i < cfg->nservers; i++) {
        const px_server *s = &cfg->servers[i];
        snprintf(section, sizeof(section), "server %s", s->name);
        for (int k = 0; k < s->ncert; k++)
            errors += unreadable(cfg, out, pw, section, "tls_cert", s->cert_line[k], s->tls_cert[k]);
        for (int k = 0; k < s->nkey; k++)
            errors += unreadable(cfg, out, pw, section, "tls_key", s->key_line[k], s->tls_key[k]);
    }
    for (int u = 0; u < cfg->nupstreams; u++) {
        const px_upstream *up = &cfg->upstreams[u];
        snprintf(section, sizeof(section), "upstream %s", up->name);
        errors += unreadable(cfg, out, pw, section, "tls_ca", px_line_or(up->tls_ca_line, up->line),
                             up->tls ? up->tls_ca : NULL);
        errors += unreadable(cfg, out, pw, section, "tls_cert", px_line_or(up->tls_cert_line, up->line), up->tls_cert);
        errors += unreadable(cfg, out, pw, section, "tls_key", px_line_or(up->tls_key_line, up->line), up->tls_key);
    }
    return errors;
}

/* In the child, as `user`: it removes the pid file at stop, so a folder it cannot write leaves a stale one
 * behind (a missing folder is created owned by it). A warning: -s then fails with "no such process". */
static void pid_as_user(const px_config *cfg, const struct passwd *pw, FILE *out)
{
    char dir[PATH_MAX], msg[PATH_MAX + 240];
    struct stat st;
    if (stat(folder_of(cfg->pid_file, dir, sizeof(dir)), &st) != 0 || access(dir, W_OK | X_OK) == 0)
        return;
    snprintf(msg, sizeof(msg),
             "the folder %s is not writable by user %s, who removes the pid file at stop: it would stay behind "
             "(the default folder is created owned by %s)",
             dir, pw->pw_name, pw->pw_name);
    pid_say(cfg, out, 1, msg);
}

/* The child: becomes `user` exactly as the daemon does (daemon.c), checks, and exits with the error count. */
static _Noreturn void user_child(const px_config *cfg, const struct passwd *pw, int fd)
{
    FILE *out = fdopen(fd, "w");
    int errors = 255;
    if (out && initgroups(pw->pw_name, pw->pw_gid) == 0 && setgid(pw->pw_gid) == 0 && setuid(pw->pw_uid) == 0) {
        errors = check_as_user(cfg, pw, out);
        pid_as_user(cfg, pw, out);
    }
    if (out)
        fflush(out);
    _exit(errors > 250 ? 250 : errors);
}

/* Started as root with `user`, proxyd drops to that user for good, so every reload re-reads the configuration,
 * certificates and keys as that user: checked now, as that user (in a child process), so that the first reload
 * cannot fail on permissions. Not root, or no user: nothing to check. Returns the number of errors. */
int px_check_user_access(const px_config *cfg, void *errfp_v)
{
    FILE *errfp = errfp_v;
    if (!cfg->user || geteuid() != 0)
        return 0;
    struct passwd *pw = getpwnam(cfg->user);
    int fds[2], status = -1;
    if (!pw) {
        fprintf(errfp, "%s:%d: [global] user: there is no user \"%s\"\n", cfg->path, cfg->user_line, cfg->user);
        return 1;
    }
    fflush(errfp);
    pid_t pid = pipe(fds) == 0 ? fork() : -2;
    if (pid == -2) {
        fprintf(errfp, "%s: cannot check access as user %s: %s\n", cfg->path, cfg->user, strerror(errno));
        return 1;
    }
    if (pid == 0) {
        close(fds[0]);
        user_child(cfg, pw, fds[1]);
    }
    close(fds[1]);
    char buf[1024];
    for (ssize_t n; pid > 0 && ((n = read(fds[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR));)
        fwrite(buf, 1, n > 0 ? (size_t)n : 0, errfp);
    close(fds[0]);
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 255)
        return WEXITSTATUS(status);
    fprintf(errfp, "%s: cannot check access as user %s (%s)\n", cfg->path, cfg->user,
            pid < 0 ? strerror(errno) : "the check did not finish");
    return 1;
}

int px_config_test(const px_config *cfg, void *errfp)
{
    int errors = px_check_keys(cfg, errfp);
    errors += px_tls_check(cfg, errfp);
    errors += px_check_pid_file(cfg, errfp);
    errors += px_check_user_access(cfg, errfp);
    return errors ? 1 : 0;
}
