/* The shared string table of a store workbook, indexed for render_stores() (_compiled_stores.c).
 *
 * What it does and why: channel_dw/sources/_stores_compiled.py. A table of a million orders holds
 * some 48 MB of strings, and the first row waits for its index: the usual element,
 * <si><t>TEXT</t></si>, is found with one memchr; any other goes the general way.
 */
#define _GNU_SOURCE /* memmem */
#include "_compiled_xlsx.h"

/* Whether the text v[ts:te] may be written as it stands: no markup, entity, _x..._ escape or
 * x005F_ (openpyxl reads those otherwise), no control byte or backslash (COPY would need an
 * escape), valid UTF-8, and no white space at either end (strip() would change it). */
static int plain_text(const uint8_t *v, int64_t ts, int64_t te) {
    int high = 0;
    for (int64_t j = ts; j < te; j++) {
        uint8_t b = v[j];
        if (b < 0x20 || b == '<' || b == '&' || b == '\\' || b == '>') return 0;
        if (b == '_' && j + 1 < te && v[j + 1] == 'x') return 0; /* _x000D_ */
        if (b == 'x' && te - j >= 6 && memcmp(v + j, "x005F_", 6) == 0)
            return 0; /* openpyxl drops it from every string */
        high |= b >= 0x80;
    }
    if (high && !valid_utf8(v, ts, te)) return 0;
    return te == ts || !(is_space_cp(first_cp(v, ts)) || is_space_cp(last_cp(v, ts, te)));
}

/* The usual element, <si><t>TEXT</t></si> with TEXT plain and not empty, whose text starts at
 * v[ts]: its text's end in *te and the element's in *e; 0 for any other (the general way). */
static int usual_string(const uint8_t *v, int64_t n, int64_t ts, int64_t *te, int64_t *e) {
    const uint8_t *lt = memchr(v + ts, '<', (size_t)(n - ts));
    if (lt == NULL || lt == v + ts) return 0;
    int64_t j = lt - v;
    if (!starts(v, j, n, "</t></si>") || !plain_text(v, ts, j)) return 0;
    *te = j;
    *e = j + 9;
    return 1;
}

/* Each <si> of the shared string table v[0:n]: at[2 * k..] its element's start and end, and in
 * text[k] (one 8-byte load for render_stores, which waits on these loads more than on anything
 * else) the start of its text << 32, its length << 2 and whether the pass may write it as it is:
 * 1 (the element is <si><t>TEXT</t></si>, or with xml:space="preserve", and TEXT plain and not
 * empty), 2 (empty: openpyxl reads None), else 0.
 * Returns how many, or -1 past cap; *plain is whether every element had that shape (the table is
 * then well-formed XML from its first <si> to its last). */
int64_t index_strings(const uint8_t *v, int64_t n, int64_t *at, uint64_t *text, int64_t cap,
                      int64_t *plain) {
    int64_t k = 0, i = 0;
    *plain = 1;
    for (;;) {
        const uint8_t *found =
            starts(v, i, n, "<si") ? v + i : memmem(v + i, (size_t)(n - i), "<si", 3);
        if (found == NULL) break;
        int64_t s = found - v, e;
        if (s + 3 >= n) break;
        uint8_t next = v[s + 3];
        if (next != '>' && next != '/' && !is_space(next)) { /* <sib...> is not <si> */
            i = s + 3;
            continue;
        }
        if (k >= cap) return -1;
        for (int64_t j = i; j < s && k > 0; j++)
            if (!is_space(v[j])) *plain = 0; /* something between two <si> */
        int good = 0;
        int64_t ts = -1, te = -1;
        if (next == '>' && starts(v, s + 4, n, "<t>") && usual_string(v, n, s + 7, &te, &e)) {
            at[2 * k] = s;
            at[2 * k + 1] = e;
            text[k] = (uint64_t)(s + 7) << 32 | (uint64_t)(te - s - 7) << 2 | 1;
            if (s + 7 > 0xFFFFFFFFLL || te - s - 7 >= (1LL << 30)) text[k] = 0; /* too far */
            k++;
            i = e;
            continue;
        }
        const uint8_t *close = memmem(v + s, (size_t)(n - s), "</si>", 5);
        const uint8_t *empty_close = next == '/' ? v + s + 3 : NULL;
        if (empty_close != NULL && s + 4 < n && v[s + 4] == '>') {
            e = s + 5; /* <si/>: an empty string, but not the usual shape */
        } else if (close == NULL) {
            e = n;
        } else {
            e = close - v + 5;
            int64_t c = s + 4;
            if (next == '>') {
                if (starts(v, c, e, "<t>")) {
                    ts = c + 3;
                } else if (starts(v, c, e, "<t xml:space=\"preserve\">")) {
                    ts = c + 24;
                }
            }
            if (ts >= 0) {
                const uint8_t *t_end = memmem(v + ts, (size_t)(e - ts), "</t>", 4);
                if (t_end != NULL && t_end - v + 4 == e - 5) {
                    te = t_end - v;
                    good = plain_text(v, ts, te);
                }
            }
        }
        if (!good) *plain = 0;
        at[2 * k] = s;
        at[2 * k + 1] = e;
        if (good && (ts > 0xFFFFFFFFLL || te - ts >= (1LL << 30))) good = 0;
        text[k] = good ? ((uint64_t)ts << 32 | (uint64_t)(te - ts) << 2 | (te > ts ? 1 : 2)) : 0;
        k++;
        i = e;
    }
    return k;
}

