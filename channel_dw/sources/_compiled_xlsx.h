/* What the pass over a store workbook's sheet XML (_compiled_stores.c) reads with: the XML it
 * follows (white space, start tags and their attributes), and the shapes of the cell values it
 * writes as openpyxl reads them (integers, amounts, Excel datetimes) and checks against the rules
 * (times, masked phones, text amounts, SKU prefixes).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "_compiled.h"

enum { S_FREE, S_MEMBER, S_MOBILE_OR_MASKED, S_TIME, S_SKU, S_WHOLE, S_AMOUNT, S_HALL };
enum { NONE, STRING, NUMBER, SLOW };

#define NCOLS 12
#define LAST_ROW 1048576

static inline int is_space(uint8_t b) { return b == ' ' || b == '\t' || b == '\n' || b == '\r'; }

/* Whether Python's str.isspace() holds for the code point (those of 0x20 and above). */
static int is_space_cp(uint32_t c) {
    return c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* The code point of valid UTF-8 at v[i]. */
static uint32_t cp_at(const uint8_t *v, int64_t i) {
    uint8_t b = v[i];
    if (b < 0x80) return b;
    if (b < 0xE0) return ((uint32_t)(b & 0x1F) << 6) | (v[i + 1] & 0x3F);
    if (b < 0xF0)
        return ((uint32_t)(b & 0x0F) << 12) | ((uint32_t)(v[i + 1] & 0x3F) << 6) |
               (v[i + 2] & 0x3F);
    return ((uint32_t)(b & 0x07) << 18) | ((uint32_t)(v[i + 1] & 0x3F) << 12) |
           ((uint32_t)(v[i + 2] & 0x3F) << 6) | (v[i + 3] & 0x3F);
}

static inline uint32_t first_cp(const uint8_t *v, int64_t s) { return cp_at(v, s); }

static inline uint32_t last_cp(const uint8_t *v, int64_t s, int64_t e) {
    int64_t i = e - 1;
    while (i > s && (v[i] & 0xC0) == 0x80) i--;
    return cp_at(v, i);
}

static inline int64_t skip_ws(const uint8_t *v, int64_t i, int64_t n) {
    while (i < n && is_space(v[i])) i++;
    return i;
}

/* Whether v[i:n] starts with the string literal s. */
#define starts(v, i, n, s) \
    ((n) - (i) >= (int64_t)sizeof(s) - 1 && memcmp((v) + (i), s, sizeof(s) - 1) == 0)

/* Whether v[s:e] holds a byte above 0x7F, or below 0x20 but for white space (eight at a time). */
static int not_plain_ascii(const uint8_t *v, int64_t s, int64_t e) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    int64_t j = s;
    for (; j + 8 <= e; j += 8) {
        uint64_t w;
        memcpy(&w, v + j, 8);
        if (w & highs) return 1;
        if (((w - ones * 0x20) & ~w & highs) == 0) continue; /* no byte below 0x20 */
        for (int b = 0; b < 8; b++)
            if (v[j + b] < 0x20 && !is_space(v[j + b])) return 1;
    }
    for (; j < e; j++)
        if (v[j] >= 0x80 || (v[j] < 0x20 && !is_space(v[j]))) return 1;
    return 0;
}


/* An attribute of a start tag at v[i] (after white space): its name v[*ns:*ne] and value
 * v[*vs:*ve]; the index after it, or -1 when there is none (the tag ends, or is not XML). */
static int64_t attribute(const uint8_t *v, int64_t i, int64_t n, int64_t *ns, int64_t *ne,
                         int64_t *vs, int64_t *ve) {
    *ns = i;
    while (i < n && v[i] != '=' && v[i] != '>' && v[i] != '/' && !is_space(v[i])) i++;
    *ne = i;
    if (*ne == *ns) return -1;
    i = skip_ws(v, i, n);
    if (i >= n || v[i] != '=') return -1;
    i = skip_ws(v, i + 1, n);
    if (i >= n || (v[i] != '"' && v[i] != '\'')) return -1;
    uint8_t quote = v[i];
    int64_t j = *vs = i + 1; /* a value is a few bytes: no memchr */
    while (j < n && v[j] != quote) {
        if (v[j] == '<' || v[j] == '&') return -1;
        j++;
    }
    if (j >= n) return -1;
    *ve = j;
    i = j + 1; /* XML puts white space between two attributes */
    if (i < n && !is_space(v[i]) && v[i] != '>' && v[i] != '/') return -1;
    return i;
}

static inline int named(const uint8_t *v, int64_t ns, int64_t ne, const char *name) {
    return (int64_t)strlen(name) == ne - ns && memcmp(v + ns, name, (size_t)(ne - ns)) == 0;
}

/* The decimal digits v[s:e] as a number (at most 18 of them), or -1. */
static int64_t digits_value(const uint8_t *v, int64_t s, int64_t e) {
    if (e <= s || e - s > 18) return -1;
    int64_t x = 0;
    for (int64_t i = s; i < e; i++) {
        if (!is_digit(v[i])) return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x;
}

/* -?(0|[1-9][0-9]{0,17}): an integer openpyxl writes back as it stands (no -0, no leading 0). */
static int plain_integer(const uint8_t *v, int64_t s, int64_t e) {
    int64_t i = s < e && v[s] == '-' ? s + 1 : s;
    if (i == e || e - i > 18 || !all_digits(v, i, e)) return 0;
    if (v[i] == '0') return e - i == 1 && i == s;
    return 1;
}

/* A number amount that two_decimals() writes as the literal with two decimals:
 * -?(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?, not a negative zero. The written length, or 0. */
static int amount_number(const uint8_t *v, int64_t s, int64_t e) {
    int64_t i = s < e && v[s] == '-' ? s + 1 : s, whole = i;
    while (i < e && is_digit(v[i])) i++;
    int64_t w = i - whole;
    if (w == 0 || w > 12 || (w > 1 && v[whole] == '0')) return 0;
    int64_t decimals = 0;
    if (i < e) {
        if (v[i] != '.') return 0;
        decimals = e - i - 1;
        if (decimals < 1 || decimals > 2 || !all_digits(v, i + 1, e)) return 0;
    }
    if (whole > s) { /* negative: not -0, -0.0, -0.00 */
        int zero = 1;
        for (int64_t j = whole; j < e; j++)
            if (v[j] != '0' && v[j] != '.') zero = 0;
        if (zero) return 0;
    }
    return 1;
}

/* 138****5678 */
static int is_masked(const uint8_t *v, int64_t s, int64_t e) {
    return e - s == 11 && v[s] == '1' && all_digits(v, s, s + 3) && v[s + 3] == '*' &&
           v[s + 4] == '*' && v[s + 5] == '*' && v[s + 6] == '*' && all_digits(v, s + 7, e);
}

/* ^(?:¥|￥)?-?[0-9][0-9,]*(?:\.[0-9]{1,2})?$ */
static int is_text_amount(const uint8_t *v, int64_t s, int64_t e) {
    int64_t i = s;
    if (e - i >= 2 && v[i] == 0xC2 && v[i + 1] == 0xA5)
        i += 2;
    else if (e - i >= 3 && v[i] == 0xEF && v[i + 1] == 0xBF && v[i + 2] == 0xA5)
        i += 3;
    if (i < e && v[i] == '-') i++;
    if (i >= e || !is_digit(v[i])) return 0;
    while (i < e && (is_digit(v[i]) || v[i] == ',')) i++;
    if (i == e) return 1;
    if (v[i] != '.' || e - i - 1 < 1 || e - i - 1 > 2) return 0;
    return all_digits(v, i + 1, e);
}

static const char *SKU_PREFIXES[] = {"DEV-", "SIM-", "BB-", "TOPUP-", "DATA-"};

static int has_sku_prefix(const uint8_t *v, int64_t s, int64_t e) {
    for (int j = 0; j < 5; j++) {
        int64_t k = (int64_t)strlen(SKU_PREFIXES[j]);
        if (e - s >= k && memcmp(v + s, SKU_PREFIXES[j], (size_t)k) == 0) return 1;
    }
    return 0;
}

/* Days from 1970-01-01 to the civil date (H. Hinnant's algorithm), inverted. */
static void civil(int64_t days, int64_t *y, int64_t *m, int64_t *d) {
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

/* An Excel serial (v[s:e], [0-9]+(\.[0-9]+)?) in a date format as openpyxl's from_excel() and
 * the reader's _datetime_text() write it (the 1900 epoch, rounded to the second) into out[19];
 * 0 when it is outside 1901-01-01..9999-12-30. */
static int excel_time(const uint8_t *v, int64_t s, int64_t e, uint8_t *out) {
    char text[40];
    if (e - s < 1 || e - s > 30) return 0;
    int64_t i = s;
    while (i < e && is_digit(v[i])) i++;
    if (i == s) return 0;
    if (i < e) {
        if (v[i] != '.' || i + 1 == e || !all_digits(v, i + 1, e)) return 0;
    }
    memcpy(text, v + s, (size_t)(e - s));
    text[e - s] = 0;
    double value = strtod(text, NULL);
    if (!(value >= 367.0 && value < 2958465.0)) return 0;
    double day = floor(value), fraction = fmod(value, 1.0);
    double ms = nearbyint(fraction * 86400.0 * 1000.0); /* Python's round(): half to even */
    int64_t total = (int64_t)day * 86400000 + (int64_t)ms;
    int64_t seconds = total / 1000 + (total % 1000 >= 500);
    int64_t days = seconds / 86400, rest = seconds % 86400;
    int64_t y, m, d;
    civil(days - 25569, &y, &m, &d); /* 1899-12-30 is day -25569 */
    int64_t hh = rest / 3600, mm = rest / 60 % 60, ss = rest % 60;
    int64_t parts[6] = {y, m, d, hh, mm, ss};
    static const int width[6] = {4, 2, 2, 2, 2, 2};
    static const char after[6] = {'-', '-', ' ', ':', ':', 0};
    int p = 0;
    for (int k = 0; k < 6; k++) {
        for (int w = width[k] - 1; w >= 0; w--) {
            out[p + w] = (uint8_t)('0' + parts[k] % 10);
            parts[k] /= 10;
        }
        p += width[k];
        if (after[k]) out[p++] = (uint8_t)after[k];
    }
    return 1;
}
