/* One pass over a chunk of the app export's event lines (one event a line, as _app_lines reads
 * them): parse, check and render as COPY text. What it does and why: _compiled.py (NestedPlan)
 * and docs/ingestion.md.
 */
#include "_compiled.h"

#define MAX_PARENTS 8

/* A JSON integer -?(0|[1-9][0-9]*) at v[i:end] of at most 18 digits (so that it fits), not -0
 * (which Python reads as 0): the index after it, its value in *value; -1 when it is not one (a
 * fraction, an exponent, a longer number: the per-record path reads those). */
static int64_t integer_end(const uint8_t *v, int64_t i, int64_t end, int64_t *value) {
    int negative = i < end && v[i] == '-';
    int64_t s = i + negative, x = 0;
    for (i = s; i < end && is_digit(v[i]); i++) {
        if (i - s == 18) return -1;
        x = x * 10 + (v[i] - '0');
    }
    if (i == s || (v[s] == '0' && (i - s > 1 || negative))) return -1;
    if (i < end && (v[i] == '.' || v[i] == 'e' || v[i] == 'E')) return -1;
    *value = negative ? -x : x;
    return i;
}

/* The index of the key v[ks:ke] among keys (key_off, n of them) whose parent_of is parent, or -1. */
static int64_t find_key(const uint8_t *v, int64_t ks, int64_t ke, int64_t n, const int64_t *key_off,
                        const uint8_t *keys, const int64_t *parent_of, int64_t parent) {
    for (int64_t k = 0; k < n; k++) {
        if (parent_of[k] == parent && key_off[k + 1] - key_off[k] == ke - ks &&
            memcmp(keys + key_off[k], v + ks, (size_t)(ke - ks)) == 0)
            return k;
    }
    return -1;
}

enum { ABSENT = -1, NULLED = -2 };

/* Like render_json(), for event lines: one JSON object a line, then a comma or not. Its keys are
 * the contract's top-level keys (columns whose parent_of is -1: text, an integer or null), its
 * parts (parent_keys: each an object of the contract's keys for it, or null), and any other key
 * with text or null, which is kept (null too, as the per-record path keeps it), in the line's
 * order, in the JSON object written as the column after tail. kinds per column: FREE, MEMBER,
 * MOBILE (text) or INTEGER (an integer from lo to hi). conds: 5 per rule that applies to one
 * value of the column event_col: that value's index in its set, the column, and a set the value
 * must be listed in (>= 0) or else the range lo..hi of an integer; the column must be given.
 * tail: the COPY text of the columns after the contract's (the export date), with its tab.
 * Anything else (an escape, a fraction, a part that is not an object, a key in a part that the
 * contract does not name, a repeated key, white space other than spaces) sends the line to the
 * per-record path. */
int64_t render_app(const uint8_t *v, int64_t n, int64_t ncols, const int64_t *key_off,
                   const uint8_t *keys, const int64_t *parent_of, int64_t nparents,
                   const int64_t *parent_off, const uint8_t *parent_keys, const int64_t *kinds,
                   const uint8_t *required, const int64_t *lo, const int64_t *hi,
                   const int64_t *set_of, const int64_t *set_bounds, const int64_t *match_off,
                   const uint8_t *match_bytes, int64_t event_col, int64_t nconds,
                   const int64_t *conds, const uint8_t *tail, int64_t tail_len,
                   const uint8_t *first_bytes, const uint8_t *last_bytes, int64_t first,
                   uint8_t *out, int64_t *slow, int64_t *taken, int64_t *n_slow) {
    int64_t starts[MAX_FIELDS], ends[MAX_FIELDS], numbers[MAX_FIELDS], chosen[MAX_FIELDS];
    uint8_t is_text[MAX_FIELDS], seen_part[MAX_PARENTS];
    int64_t xk[MAX_EXTRAS], xke[MAX_EXTRAS], xs[MAX_EXTRAS], xe[MAX_EXTRAS];
    int64_t p = 0, line = 0, pos = 0;
    *taken = 0;
    *n_slow = 0;
    if (ncols > MAX_FIELDS || nparents > MAX_PARENTS) return -1;
    while (pos < n) {
        int64_t end, stop = line_at(v, n, pos, &end);
        int blank = end == pos, ok = !blank;
        int64_t nx = 0, parent = -1, i = skip_spaces(v, pos, end);
        int after_comma = 0; /* a member must come next */
        for (int64_t k = 0; k < ncols; k++) starts[k] = ABSENT;
        for (int64_t q = 0; q < nparents; q++) seen_part[q] = 0;
        ok = ok && i < end && v[i] == '{';
        i++;
        /* One member a turn, of the event (parent -1) or of the part it is in. */
        while (ok) {
            i = skip_spaces(v, i, end);
            if (i < end && v[i] == '}') {
                if (after_comma) { ok = 0; break; }
                i++;
                if (parent < 0) break;
                parent = -1; /* the part is closed */
            } else {
                int64_t ks, ke;
                i = member_key(v, i, end, &ks, &ke);
                if (i < 0) { ok = 0; break; }
                int64_t k = find_key(v, ks, ke, ncols, key_off, keys, parent_of, parent);
                int64_t part = -1;
                if (k < 0 && parent < 0) {
                    for (int64_t q = 0; q < nparents && part < 0; q++)
                        if (parent_off[q + 1] - parent_off[q] == ke - ks &&
                            memcmp(parent_keys + parent_off[q], v + ks, (size_t)(ke - ks)) == 0)
                            part = q;
                }
                if (k < 0 && part < 0 && parent >= 0) { ok = 0; break; } /* a vendor key in a part */
                int64_t vs = NULLED, ve = 0, number = 0, text = 0;
                if (i < end && v[i] == '"') {
                    ve = string_end(v, i, end);
                    if (ve < 0) { ok = 0; break; }
                    vs = i + 1;
                    i = ve + 1;
                    text = 1;
                } else if (end - i >= 4 && memcmp(v + i, "null", 4) == 0) {
                    i += 4;
                } else if (part >= 0 && i < end && v[i] == '{') {
                    if (seen_part[part]) { ok = 0; break; } /* repeated */
                    seen_part[part] = 1;
                    parent = part;
                    after_comma = 0;
                    i++;
                    continue;
                } else if (k >= 0 && (ve = integer_end(v, i, end, &number)) >= 0) {
                    vs = i;
                    i = ve;
                } else {
                    ok = 0; /* a fraction, a boolean, an array, an object where none belongs */
                    break;
                }
                if (part >= 0) {
                    /* A part given as null reads as an empty one; as text, it breaks a rule. */
                    if (text || seen_part[part]) { ok = 0; break; }
                    seen_part[part] = 1;
                } else if (k >= 0) {
                    if (starts[k] != ABSENT) { ok = 0; break; } /* repeated */
                    starts[k] = vs;
                    ends[k] = ve;
                    numbers[k] = number;
                    is_text[k] = (uint8_t)text;
                } else {
                    for (int64_t x = 0; x < nx && ok; x++)
                        ok = !(xke[x] - xk[x] == ke - ks &&
                               memcmp(v + xk[x], v + ks, (size_t)(ke - ks)) == 0);
                    if (!ok || nx == MAX_EXTRAS) { ok = 0; break; }
                    xk[nx] = ks;
                    xke[nx] = ke;
                    xs[nx] = vs < 0 ? -1 : vs;
                    xe[nx] = ve;
                    nx++;
                }
            }
            i = skip_spaces(v, i, end);
            after_comma = i < end && v[i] == ',';
            if (after_comma) {
                i++;
            } else if (!(i < end && v[i] == '}')) {
                ok = 0;
            }
        }
        if (ok) { /* after the event, a comma or nothing */
            i = skip_spaces(v, i, end);
            if (i < end && v[i] == ',') i = skip_spaces(v, i + 1, end);
            ok = i == end;
        }
        for (int64_t k = 0; ok && k < ncols; k++) {
            int64_t s = starts[k], e = ends[k], kind = kinds[k];
            chosen[k] = -1;
            if (s < 0) {
                ok = !required[k];
            } else if (kind == INTEGER) {
                ok = !is_text[k] && numbers[k] >= lo[k] && numbers[k] <= hi[k];
            } else if (!is_text[k] || e == s || first_bytes[v[s]] || last_bytes[v[e - 1]]) {
                ok = 0; /* a number as text, empty (None), white space at an end: per record */
            } else if (kind == MEMBER) {
                chosen[k] = member(v, s, e, set_bounds[set_of[k]], set_bounds[set_of[k] + 1],
                                   match_off, match_bytes);
                ok = chosen[k] >= 0;
            } else if (kind == MOBILE) {
                ok = is_mobile(v, s, e);
            }
        }
        int64_t event = ok ? chosen[event_col] - set_bounds[set_of[event_col]] : -1;
        for (int64_t c = 0; ok && c < nconds; c++) {
            const int64_t *r = conds + 5 * c;
            if (r[0] != event) continue;
            int64_t k = r[1], s = starts[k], e = ends[k];
            if (s < 0) {
                ok = 0;
            } else if (r[2] >= 0) {
                ok = is_text[k] && member(v, s, e, set_bounds[r[2]], set_bounds[r[2] + 1],
                                          match_off, match_bytes) >= 0;
            } else {
                ok = !is_text[k] && numbers[k] >= r[3] && numbers[k] <= r[4];
            }
        }
        if (ok) {
            p = write_values(out, p, v, starts, ends, ncols);
            memcpy(out + p, tail, (size_t)tail_len);
            p += tail_len;
            p = write_extras(out, p, v, xk, xke, xs, xe, nx, 1);
            out[p++] = '\t';
            p = line_number(out, p, first + line);
        }
        tally(ok, blank, taken, slow, n_slow, line, pos, stop + 1);
        line++;
        pos = stop + 1;
    }
    return p;
}
