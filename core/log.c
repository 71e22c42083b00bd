/* Structured logfmt logging to stderr. */
#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static core_log_level g_level = CORE_LOG_INFO;
static pthread_mutex_t g_limit_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const g_names[] = {"debug", "info", "warn", "error"};

void core_log_set_level(core_log_level lvl) { g_level = lvl; }
core_log_level core_log_get_level(void) { return g_level; }
const char *core_log_level_name(core_log_level lvl) { return g_names[lvl]; }

int core_log_parse_level(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, g_names[i]) == 0)
            return i;
    if (strcasecmp(s, "warning") == 0)
        return CORE_LOG_WARN;
    return -1;
}

int64_t core_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t core_mono_ms(void) { return core_mono_us() / 1000; }

int64_t core_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *core_log_quote(char *buf, size_t size, const char *s)
{
    size_t o = 0;
    if (size < 8) {
        if (size)
            buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        size_t n;
        if (c == '"' || c == '\\') {
            esc[0] = '\\'; esc[1] = (char)c; n = 2;
        } else if (c == '\n') {
            esc[0] = '\\'; esc[1] = 'n'; n = 2;
        } else if (c < 0x20 || c == 0x7f) {
            n = (size_t)snprintf(esc, sizeof esc, "\\x%02x", c);
        } else if (c == 0xC2 && (unsigned char)s[1] >= 0x80 && (unsigned char)s[1] <= 0x9F) {
            /* C1 controls (U+0085 NEXT LINE is a line break to some readers) */
            n = (size_t)snprintf(esc, sizeof esc, "\\u%04x", (unsigned char)s[1] & 0xFF);
            s++;
        } else if (c == 0xE2 && (unsigned char)s[1] == 0x80 &&
                   ((unsigned char)s[2] == 0xA8 || (unsigned char)s[2] == 0xA9)) {
            /* U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR */
            n = (size_t)snprintf(esc, sizeof esc, "\\u%04x", 0x2028 + ((unsigned char)s[2] - 0xA8));
            s += 2;
        } else {
            esc[0] = (char)c; n = 1;
        }
        if (o + n + 5 > size) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(buf + o, esc, n);
        o += n;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

void core_log(core_log_level lvl, const char *module, const char *msg, const char *kvfmt, ...)
{
    if (lvl < g_level)
        return;
    char line[4096];
    char qmsg[512];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s module=%s msg=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, g_names[lvl], module,
                     core_log_quote(qmsg, sizeof qmsg, msg));
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    if (kvfmt && *kvfmt) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, kvfmt);
        int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, kvfmt, ap);
        va_end(ap);
        if (m > 0)
            n += m;
        if ((size_t)n > sizeof line - 2)
            n = (int)sizeof line - 2;
    }
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

int64_t core_log_limit_check(core_log_limit *rl, int64_t interval_ms)
{
    int64_t now = core_mono_ms();
    int64_t r;
    pthread_mutex_lock(&g_limit_mu);
    if (rl->last_ms == 0 || now - rl->last_ms >= interval_ms) {
        r = (int64_t)rl->suppressed;
        rl->suppressed = 0;
        rl->last_ms = now;
    } else {
        rl->suppressed++;
        r = -1;
    }
    pthread_mutex_unlock(&g_limit_mu);
    return r;
}
