/* libFuzzer target for the configuration loader (core_config_load): each
 * input is written to a file and loaded as the config file. Promises
 * checked on every result: a refusal has a NUL-terminated message that
 * names the file; an accepted file gives settings that print, and the
 * printed configuration loads again to the same print (nothing accepted
 * that the loader's own output cannot say). Leaks and memory errors are
 * the sanitizers'. A broken promise aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond))                                                                 \
            abort();                                                                 \
    } while (0)

static char g_path[64], g_path2[64];

static char *print_cfg(const core_config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f);
    core_config_print(cfg, f);
    fclose(f);
    return buf;
}

static void write_all(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f);
    CHECK(fwrite(data, 1, n, f) == n);
    CHECK(fclose(f) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(g_path, sizeof g_path, "/tmp/custos-fuzz-config-%d.yaml", (int)getpid());
    snprintf(g_path2, sizeof g_path2, "/tmp/custos-fuzz-config-%d-back.yaml", (int)getpid());
    /* the environment must not decide the outcome */
    extern char **environ;
    for (char **e = environ; *e;) {
        if (strncmp(*e, "CUSTOS_", 7) == 0) {
            char name[256];
            size_t n = strcspn(*e, "=");
            if (n >= sizeof name)
                n = sizeof name - 1;
            memcpy(name, *e, n);
            name[n] = '\0';
            unsetenv(name);
            e = environ;
            continue;
        }
        e++;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    write_all(g_path, data, size);
    core_config cfg;
    char err[1024];
    memset(err, 'x', sizeof err);
    int rc = core_config_load(&cfg, g_path, err, sizeof err);
    unlink(g_path);
    if (rc != 0) {
        CHECK(rc == -1);
        CHECK(memchr(err, '\0', sizeof err) != NULL);
        CHECK(strstr(err, g_path) != NULL);
        core_config_free(&cfg);
        return 0;
    }
    char *printed = print_cfg(&cfg);
    core_config_free(&cfg);
    /* The print (secrets masked, which are strings and still load) reads back the same. */
    write_all(g_path2, printed, strlen(printed));
    core_config back;
    char err2[1024];
    int rc2 = core_config_load(&back, g_path2, err2, sizeof err2);
    unlink(g_path2);
    if (rc2 != 0) {
        fprintf(stderr, "printed config does not load: %s\n%s\n", err2, printed);
        abort();
    }
    char *again = print_cfg(&back);
    core_config_free(&back);
    if (strcmp(printed, again) != 0) {
        fprintf(stderr, "the printed config prints differently when loaded:\n%s\n---\n%s\n", printed,
                again);
        abort();
    }
    free(printed);
    free(again);
    return 0;
}
