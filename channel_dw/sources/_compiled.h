/* What the passes of _compiled.c, _compiled_json.c and _compiled_app.c share: the rule kinds (as
 * in _compiled.py), the tests they apply, the reading of JSON strings, and the writing of a line's
 * vendor keys and end.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum {
    FREE, MEMBER, MOBILE, MOBILE_OR_LANDLINE, DATETIME, DATE, YUAN, HALL_CODE, HAS_AT, ISO_TS, DECIMAL,
    INTEGER, COMPACT_DATETIME, FEN, COMMAND, RECORD_ID
};

#define MAX_FIELDS 256
#define MAX_EXTRAS 32 /* vendor keys a JSON line may carry and be taken */

static const int64_t days_in[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

static inline int is_digit(uint8_t b) { return b >= '0' && b <= '9'; }

static inline int all_digits(const uint8_t *v, int64_t s, int64_t e) {
    for (int64_t i = s; i < e; i++)
        if (!is_digit(v[i])) return 0;
    return 1;
}

static inline int two(const uint8_t *v, int64_t i) { return (v[i] - '0') * 10 + (v[i + 1] - '0'); }

/* Whether day of month (both from two digits) certainly exists: not the 29th of February. */
static inline int certain_day(int month, int day) {
    return month >= 1 && month <= 12 && day >= 1 && day <= days_in[month] &&
           !(month == 2 && day == 29);
}

/* YYYY-MM-DD at s (10 bytes), year from 1000, a day that certainly exists: the 29th of February
 * is left to the per-record path, which asks the calendar (columnar.certain_date()). */
static inline int is_date(const uint8_t *v, int64_t s) {
    if (v[s + 4] != '-' || v[s + 7] != '-') return 0;
    if (!all_digits(v, s, s + 4) || !all_digits(v, s + 5, s + 7) || !all_digits(v, s + 8, s + 10))
        return 0;
    return v[s] != '0' && certain_day(two(v, s + 5), two(v, s + 8));
}

/* YYYYMMDDHHMMSS that certainly exists, as is_datetime() without its separators. */
static inline int is_compact_datetime(const uint8_t *v, int64_t s, int64_t e) {
    if (e - s != 14 || !all_digits(v, s, e) || v[s] == '0') return 0;
    return certain_day(two(v, s + 4), two(v, s + 6)) && two(v, s + 8) <= 23 &&
           v[s + 10] <= '5' && v[s + 12] <= '5';
}

/* YYYY-MM-DD HH:MM:SS that certainly exists. */
static inline int is_datetime(const uint8_t *v, int64_t s, int64_t e) {
    if (e - s != 19 || v[s + 10] != ' ' || v[s + 13] != ':' || v[s + 16] != ':') return 0;
    if (!is_date(v, s) || !all_digits(v, s + 11, s + 13) || !all_digits(v, s + 14, s + 16) ||
        !all_digits(v, s + 17, s + 19))
        return 0;
    return two(v, s + 11) <= 23 && v[s + 14] <= '5' && v[s + 17] <= '5';
}

/* ^(?:(?:\+86|0086|86)[ -]?)?1[0-9]{2}[ -]?[0-9]{4}[ -]?[0-9]{4}$, matched greedily: after a
 * prefix or a group the next byte is either a digit or a separator, so the regular expression
 * has no other way to match. */
static inline int is_mobile(const uint8_t *v, int64_t s, int64_t e) {
    int64_t i = s;
    if (e - i >= 3 && v[i] == '+' && v[i + 1] == '8' && v[i + 2] == '6')
        i += 3;
    else if (e - i >= 4 && v[i] == '0' && v[i + 1] == '0' && v[i + 2] == '8' && v[i + 3] == '6')
        i += 4;
    else if (e - i >= 2 && v[i] == '8' && v[i + 1] == '6')
        i += 2;
    if (i > s && i < e && (v[i] == ' ' || v[i] == '-')) i++;
    static const int groups[3] = {3, 4, 4};
    for (int g = 0; g < 3; g++) {
        int n = groups[g];
        if (g > 0 && i < e && (v[i] == ' ' || v[i] == '-')) i++;
        if (e - i < n || !all_digits(v, i, i + n)) return 0;
        if (g == 0 && v[i] != '1') return 0;
        i += n;
    }
    return i == e;
}

/* The index of the listed value (lo..hi-1) equal to v[s:e], or -1. */
static inline int64_t member(const uint8_t *v, int64_t s, int64_t e, int64_t lo, int64_t hi,
                      const int64_t *match_off, const uint8_t *match_bytes) {
    int64_t n = e - s;
    for (int64_t j = lo; j < hi; j++) {
        if (match_off[j + 1] - match_off[j] == n && memcmp(match_bytes + match_off[j], v + s, n) == 0)
            return j;
    }
    return -1;
}

/* The line that starts at pos: the index of its \n (n when it has none), and in *end where its
 * content ends (before a \r that ends it). */
static inline int64_t line_at(const uint8_t *v, int64_t n, int64_t pos, int64_t *end) {
    const uint8_t *nl = memchr(v + pos, '\n', (size_t)(n - pos));
    int64_t stop = nl ? nl - v : n;
    *end = stop > pos && v[stop - 1] == '\r' ? stop - 1 : stop;
    return stop;
}

/* The values v[starts[k]:ends[k]] of ncols columns as they are (a negative start: \N), each
 * with its tab, at out[p]; the new p. */
static inline int64_t write_values(uint8_t *out, int64_t p, const uint8_t *v, const int64_t *starts,
                                   const int64_t *ends, int64_t ncols) {
    for (int64_t k = 0; k < ncols; k++) {
        int64_t s = starts[k], e = ends[k];
        if (s < 0) {
            out[p++] = '\\';
            out[p++] = 'N';
        } else {
            memcpy(out + p, v + s, (size_t)(e - s));
            p += e - s;
        }
        out[p++] = '\t';
    }
    return p;
}

/* The line number and the line's end, at out[p]; the new p. */
static inline int64_t line_number(uint8_t *out, int64_t p, int64_t number) {
    uint8_t digits[24];
    int d = 0;
    do {
        digits[d++] = (uint8_t)('0' + number % 10);
        number /= 10;
    } while (number > 0);
    while (d > 0) out[p++] = digits[--d];
    out[p++] = '\n';
    return p;
}

/* After a line: one taken (ok) is counted, another that is not blank listed in slow for the
 * per-record path, with its index and where its bytes start and stop (after its \n). */
static inline void tally(int ok, int blank, int64_t *taken, int64_t *slow, int64_t *n_slow,
                         int64_t line, int64_t start, int64_t stop) {
    if (ok) {
        (*taken)++;
    } else if (!blank) {
        slow[3 * *n_slow] = line;
        slow[3 * *n_slow + 1] = start;
        slow[3 * *n_slow + 2] = stop;
        (*n_slow)++;
    }
}

/* --- what the passes over JSON lines share (_compiled_json.c, _compiled_app.c) --- */

static inline int64_t skip_spaces(const uint8_t *v, int64_t i, int64_t end) {
    while (i < end && v[i] == ' ') i++;
    return i;
}

/* Whether v[s:e] is valid UTF-8 (as Python's decoder has it: no overlong form, no surrogate,
 * nothing above U+10FFFF). */
static inline int valid_utf8(const uint8_t *v, int64_t s, int64_t e) {
    int64_t i = s;
    while (i < e) {
        uint8_t b = v[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        int n;
        uint8_t lo = 0x80, hi = 0xBF;
        if (b >= 0xC2 && b <= 0xDF) {
            n = 1;
        } else if (b >= 0xE0 && b <= 0xEF) {
            n = 2;
            if (b == 0xE0) lo = 0xA0;
            if (b == 0xED) hi = 0x9F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            n = 3;
            if (b == 0xF0) lo = 0x90;
            if (b == 0xF4) hi = 0x8F;
        } else {
            return 0;
        }
        if (e - i <= n || v[i + 1] < lo || v[i + 1] > hi) return 0;
        for (int j = 2; j <= n; j++)
            if (v[i + j] < 0x80 || v[i + j] > 0xBF) return 0;
        i += n + 1;
    }
    return 1;
}

/* The end of the JSON string whose opening quote is at i (the index of its closing quote), or
 * -1 when it holds a backslash or a control byte (the per-record path decodes escapes) or is not
 * valid UTF-8 (the per-record path names the line). */
static inline int64_t string_end(const uint8_t *v, int64_t i, int64_t end) {
    int high = 0;
    for (int64_t j = i + 1; j < end; j++) {
        uint8_t b = v[j];
        if (b == '"') return high && !valid_utf8(v, i + 1, j) ? -1 : j;
        if (b == '\\' || b < 0x20) return -1;
        high |= b >= 0x80;
    }
    return -1;
}

/* A member's key at v[i] (a JSON string without escapes, then a colon, spaces around it): its
 * bounds in *ks and *ke, and the index where its value starts; -1 when there is none such. */
static inline int64_t member_key(const uint8_t *v, int64_t i, int64_t end, int64_t *ks,
                                 int64_t *ke) {
    if (i >= end || v[i] != '"') return -1;
    *ks = i + 1;
    *ke = string_end(v, i, end);
    if (*ke < 0) return -1;
    i = skip_spaces(v, *ke + 1, end);
    if (i >= end || v[i] != ':') return -1;
    return skip_spaces(v, i + 1, end);
}

/* A line's vendor keys (key and value bounds in v; a null value where xs < 0) as the compact JSON
 * object the per-record path writes for them (keys in the line's order), at out[p], or \N when
 * none is written; keep_null: whether a key given as null is written (as null) or dropped. The
 * keys and values hold no escape, so they are copied as they are. Returns the new p. */
static inline int64_t write_extras(uint8_t *out, int64_t p, const uint8_t *v, const int64_t *xk,
                                   const int64_t *xke, const int64_t *xs, const int64_t *xe,
                                   int64_t nx, int keep_null) {
    int any = 0;
    for (int64_t x = 0; x < nx; x++) {
        if (xs[x] < 0 && !keep_null) continue;
        out[p++] = any ? ',' : '{';
        any = 1;
        out[p++] = '"';
        memcpy(out + p, v + xk[x], (size_t)(xke[x] - xk[x]));
        p += xke[x] - xk[x];
        out[p++] = '"';
        out[p++] = ':';
        if (xs[x] < 0) {
            memcpy(out + p, "null", 4);
            p += 4;
            continue;
        }
        out[p++] = '"';
        memcpy(out + p, v + xs[x], (size_t)(xe[x] - xs[x]));
        p += xe[x] - xs[x];
        out[p++] = '"';
    }
    if (any) {
        out[p++] = '}';
    } else {
        out[p++] = '\\';
        out[p++] = 'N';
    }
    return p;
}
