/* proxyd entry point: the command line (-c, -t, -s, -v), the configuration test, and the hooks that compose the
 * layers: core's workers reach the client connections, the upstream pools and the router only through them. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "core/worker.h"
#include "handler/handlers.h"
#include "http/conn.h"
#include "http/exchange.h"
#include "upstream/upstream.h"

#include <tlsio/tlsio.h>

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: proxyd [-c FILE] [-t] [-s reload|reopen|quit|stop] [-v] [-V] [-h]\n"
            "  -c FILE   configuration file (default /etc/proxyd/proxyd.ini)\n"
            "  -t        test the configuration and exit\n"
            "  -s SIG    send a signal to the running proxyd (through its pid file: pid_file, default %s)\n"
            "  -v        print the version and exit\n"
            "  -V        print the version and the TLS library's, and exit\n",
            PX_PID_FILE_DEFAULT);
}

static int send_signal(const px_config *cfg, const char *name)
{
    static const struct {
        const char *name;
        int sig;
    } sigs[] = {{"reload", SIGHUP}, {"reopen", SIGUSR1}, {"quit", SIGQUIT}, {"stop", SIGTERM}};
    const char *pid_file = cfg->pid_file; /* as the daemon wrote it: the default when unset */
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        if (strcmp(name, sigs[i].name) != 0)
            continue;
        FILE *fp = fopen(pid_file, "r");
        long pid = 0;
        if (!fp || fscanf(fp, "%ld", &pid) != 1 || pid <= 0) {
            fprintf(stderr, "proxyd: cannot read a pid from %s: %s\n", pid_file, fp ? "bad content" : strerror(errno));
            if (fp)
                fclose(fp);
            return 1;
        }
        fclose(fp);
        if (kill((pid_t)pid, sigs[i].sig) < 0) {
            fprintf(stderr, "proxyd: cannot signal process %ld: %s\n", pid, strerror(errno));
            return 1;
        }
        return 0;
    }
    fprintf(stderr, "proxyd: unknown signal \"%s\" (reload, reopen, quit, stop)\n", name);
    return 1;
}

/* -t and -s: the configuration is loaded, nothing starts. */
/* -t: what TLS offers to clients, exactly (protocols, suites, groups, signature schemes), when a server has TLS. */
static void print_tls_policy(const px_config *cfg)
{
    int tls = 0;
    for (int i = 0; i < cfg->nservers; i++)
        tls |= cfg->servers[i].ncert > 0;
    char text[1024];
    if (tls && tlsio_policy_text(text, sizeof(text), cfg->tls_ciphers, cfg->tls_protocols) == TLSIO_OK)
        fprintf(stderr, "proxyd: TLS (%s) offers %s\n", tlsio_library_version(), text);
}

static int test_or_signal(px_config *cfg, const char *path, int test, const char *sig)
{
    int rc = sig ? send_signal(cfg, sig) : px_config_test(cfg, stderr);
    if (test && rc == 0) {
        print_tls_policy(cfg);
        fprintf(stderr,
                "proxyd: the configuration file %s syntax is ok\n"
                "proxyd: configuration file %s test is successful\n",
                path, path);
    }
    px_config_free(cfg);
    return rc;
}

/* What can still be refused on the terminal before the daemon starts: exposed keys, a pid file that cannot be
 * written, files `user` could not re-read at a reload, and unopenable logs. */
static int prepare(px_config *cfg)
{
    if (px_check_keys(cfg, stderr) || px_check_pid_file(cfg, stderr) || px_check_user_access(cfg, stderr))
        return -1;
    if (px_log_open(cfg->error_log, cfg->log_level) < 0) {
        fprintf(stderr, "proxyd: cannot open error log %s: %s\n", cfg->error_log, strerror(errno));
        return -1;
    }
    if (px_access_open(cfg->access_log) < 0) {
        fprintf(stderr, "proxyd: cannot open access log %s: %s\n", cfg->access_log, strerror(errno));
        return -1;
    }
    char err[512];
    if (px_open_server_logs(cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "proxyd: %s\n", err);
        return -1;
    }
    return 0;
}

/* The composition of the layers: core's workers reach the layers above only through these. */
static const px_hooks hooks = {
    .conn_size = sizeof(px_conn),
    .upconn_size = sizeof(px_upconn),
    .exchange_size = sizeof(px_exchange),
    .accept = px_conn_accept,
    .close_conns = px_conn_close_all,
    .close_pools = px_upstream_close_pools,
    .route = px_route_request,
};

int main(int argc, char **argv)
{
    const char *path = "/etc/proxyd/proxyd.ini", *sig = NULL;
    int test = 0, opt;
    while ((opt = getopt(argc, argv, "c:ts:vVh")) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 't': test = 1; break;
        case 's': sig = optarg; break;
        case 'v': printf("proxyd version %s\n", PX_VERSION); return 0;
        case 'V':
            printf("proxyd version %s\nbuilt with %s, %s\n", PX_VERSION, tlsio_library_version(),
                   tlsio_library_patches());
            return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    px_config *cfg = px_config_load(path, stderr);
    if (!cfg)
        return 1;
    if (test || sig)
        return test_or_signal(cfg, path, test, sig);
    if (prepare(cfg) < 0) {
        px_config_free(cfg);
        return 1;
    }
    static px_daemon d;
    d.hooks = &hooks;
    d.conf_path = path;
    d.grace_ms = cfg->shutdown_timeout;
    return px_daemon_run(&d, cfg);
}
