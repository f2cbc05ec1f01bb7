/* What the passes of _compiled.c and _compiled_json.c share: the rule kinds (as in
 * _compiled.py), the tests both apply, and the writing of a line's end.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum { FREE, MEMBER, MOBILE, MOBILE_OR_LANDLINE, DATETIME, DATE, YUAN, HALL_CODE, HAS_AT, ISO_TS, DECIMAL };

#define MAX_FIELDS 256

static const int64_t days_in[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

static inline int is_digit(uint8_t b) { return b >= '0' && b <= '9'; }

static inline int all_digits(const uint8_t *v, int64_t s, int64_t e) {
    for (int64_t i = s; i < e; i++)
        if (!is_digit(v[i])) return 0;
    return 1;
}

static inline int two(const uint8_t *v, int64_t i) { return (v[i] - '0') * 10 + (v[i + 1] - '0'); }

/* YYYY-MM-DD at s (10 bytes), year from 1000, a day that certainly exists: the 29th of February
 * is left to the per-record path, which asks the calendar (columnar.certain_date()). */
static inline int is_date(const uint8_t *v, int64_t s) {
    if (v[s + 4] != '-' || v[s + 7] != '-') return 0;
    if (!all_digits(v, s, s + 4) || !all_digits(v, s + 5, s + 7) || !all_digits(v, s + 8, s + 10))
        return 0;
    if (v[s] == '0') return 0;
    int month = two(v, s + 5), day = two(v, s + 8);
    if (month < 1 || month > 12 || day < 1) return 0;
    return day <= days_in[month] && !(month == 2 && day == 29);
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

static inline void note_slow(int64_t *slow, int64_t *n_slow, int64_t line, int64_t start, int64_t stop) {
    slow[3 * *n_slow] = line;
    slow[3 * *n_slow + 1] = start;
    slow[3 * *n_slow + 2] = stop;
    (*n_slow)++;
}

