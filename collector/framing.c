/* Messages in files and pipes, for custos analyze, produce and gen: a JSON
 * format's message is a line; a binary one's (otlp_proto) is a varint length
 * and that many bytes (protobuf's length-delimited stream framing, what
 * writeDelimitedTo writes). */
#include <stdio.h>
#include <stdlib.h>

#include "collector/collector.h"

/* Frames past this are refused (the largest collector.max_message_bytes). */
#define FRAME_MAX ((size_t)64 << 20)

ssize_t coll_read_message(FILE *in, bool framed, char **buf, size_t *cap, char *err,
                          size_t errlen)
{
    if (!framed) {
        ssize_t n = getline(buf, cap, in);
        if (n < 0)
            return ferror(in) ? (snprintf(err, errlen, "read error"), -2) : -1;
        while (n > 0 && ((*buf)[n - 1] == '\n' || (*buf)[n - 1] == '\r'))
            n--;
        return n;
    }
    uint64_t len = 0;
    int c = 0;
    for (int s = 0;; s += 7) {
        c = fgetc(in);
        if (c == EOF) {
            if (s == 0 && !ferror(in))
                return -1;
            snprintf(err, errlen, "%s", ferror(in) ? "read error" : "a truncated frame length");
            return -2;
        }
        if (s > 56) {
            snprintf(err, errlen, "a frame length longer than 9 bytes");
            return -2;
        }
        len |= (uint64_t)(c & 0x7f) << s;
        if (!(c & 0x80))
            break;
    }
    if (len > FRAME_MAX) {
        snprintf(err, errlen, "a frame of %llu bytes, more than %zu", (unsigned long long)len,
                 FRAME_MAX);
        return -2;
    }
    if (*cap < len + 1) {
        char *nb = realloc(*buf, len + 1);
        if (!nb) {
            snprintf(err, errlen, "out of memory");
            return -2;
        }
        *buf = nb;
        *cap = len + 1;
    }
    if (len && fread(*buf, 1, len, in) != len) {
        snprintf(err, errlen, "a truncated frame (%llu bytes announced)", (unsigned long long)len);
        return -2;
    }
    return (ssize_t)len;
}

int coll_write_message(FILE *out, bool framed, const void *buf, size_t len)
{
    if (framed) {
        unsigned char v[10];
        size_t k = 0;
        uint64_t x = len;
        do {
            v[k] = (unsigned char)(x & 0x7f);
            x >>= 7;
            if (x)
                v[k] |= 0x80;
            k++;
        } while (x);
        if (fwrite(v, 1, k, out) != k)
            return -1;
        return len && fwrite(buf, 1, len, out) != len ? -1 : 0;
    }
    if (len && fwrite(buf, 1, len, out) != len)
        return -1;
    return fputc('\n', out) == EOF ? -1 : 0;
}
