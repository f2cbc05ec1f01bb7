/* One pass over a chunk of a delimited export: split, check and render as COPY text.
 *
 * What it does and why: channel_dw/sources/_compiled.py, which builds it with the C compiler
 * and calls render() through ctypes. Rule kinds are those of _compiled.py. Every test admits a
 * subset of what the per-record rules (_delimited.RowChecks) admit; a line any test doubts goes
 * to the per-record path, which decides.
 */
#include "_compiled.h"

/* ^0[0-9]{2,3}-?[0-9]{7,8}$ */
static int is_landline(const uint8_t *v, int64_t s, int64_t e) {
    if (e - s < 2 || v[s] != '0') return 0;
    int64_t dash = -1;
    for (int64_t i = s + 1; i < e; i++) {
        if (v[i] == '-') {
            if (dash >= 0) return 0;
            dash = i;
        } else if (!is_digit(v[i])) {
            return 0;
        }
    }
    if (dash < 0) return e - s - 1 >= 9 && e - s - 1 <= 11;
    return dash - s - 1 >= 2 && dash - s - 1 <= 3 && e - dash - 1 >= 7 && e - dash - 1 <= 8;
}

/* ^-?[0-9]+(?:\.[0-9]{1,2})?$ */
static int is_yuan(const uint8_t *v, int64_t s, int64_t e) {
    int64_t i = v[s] == '-' ? s + 1 : s, whole = i;
    while (i < e && is_digit(v[i])) i++;
    if (i == whole) return 0;
    if (i == e) return 1;
    if (v[i] != '.' || e - i - 1 < 1 || e - i - 1 > 2) return 0;
    return all_digits(v, i + 1, e);
}

/* ^-?[0-9]{1,12}$ (few enough digits that a chunk's sum fits in 64 bits), its value in *value. */
static int is_fen(const uint8_t *v, int64_t s, int64_t e, int64_t *value) {
    int negative = v[s] == '-';
    int64_t i = s + negative, total = 0;
    if (e - i < 1 || e - i > 12) return 0;
    for (; i < e; i++) {
        if (!is_digit(v[i])) return 0;
        total = total * 10 + (v[i] - '0');
    }
    *value = negative ? -total : total;
    return 1;
}

static inline int is_alnum_ascii(uint8_t b) {
    return is_digit(b) || (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z');
}

/* BLTC_<plan>, the plan [A-Za-z0-9_-]+ with a letter or digit (the SMS hall's plan change). */
static int is_plan_change(const uint8_t *v, int64_t s, int64_t e) {
    if (e - s < 6 || memcmp(v + s, "BLTC_", 5) != 0) return 0;
    int alnum = 0;
    for (int64_t i = s + 5; i < e; i++) {
        uint8_t b = v[i];
        int letter_or_digit = is_alnum_ascii(b);
        if (!letter_or_digit && b != '_' && b != '-') return 0;
        alnum |= letter_or_digit;
    }
    return alnum;
}

/* How many bytes of v[0:n] are b (memchr runs many bytes a step; bytes.count did not). */
int64_t count_byte(const uint8_t *v, int64_t n, uint8_t b) {
    int64_t count = 0;
    const uint8_t *at = v, *end = v + n;
    while (at < end && (at = memchr(at, b, (size_t)(end - at))) != NULL) {
        count++;
        at++;
    }
    return count;
}

/* The offsets of the bytes b in v[0:n], into at (room for n); how many. */
int64_t find_byte(const uint8_t *v, int64_t n, uint8_t b, int64_t *at) {
    int64_t count = 0;
    const uint8_t *p = v, *end = v + n;
    while (p < end && (p = memchr(p, b, (size_t)(end - p))) != NULL) {
        at[count++] = p - v;
        p++;
    }
    return count;
}

/* Renders the lines of v[0:n] that pass every rule into out as COPY text (the contract's columns
 * in order, a missing value as \N, then the line number), and lists the others in slow: per line
 * its index, the offset of its first byte and the offset after its \n. Blank lines are neither.
 * Returns the bytes written; *taken and *n_slow count the lines, *sum adds the FEN values of the
 * lines taken. out must hold what _compiled.Plan.run() gives it room for. */
int64_t render(const uint8_t *v, int64_t n, uint8_t sep, int64_t fields, const int64_t *order,
               int64_t ncols, const int64_t *kinds, const uint8_t *required, const int64_t *set_of,
               const int64_t *set_bounds, const int64_t *match_off, const uint8_t *match_bytes,
               const int64_t *emit_off, const uint8_t *emit_bytes, const int64_t *pairs,
               int64_t n_pairs, int ascii_only, int64_t *sum, const uint8_t *first_bytes,
               const uint8_t *last_bytes, int64_t first, uint8_t *out, int64_t *slow,
               int64_t *taken, int64_t *n_slow) {
    int64_t starts[MAX_FIELDS], ends[MAX_FIELDS], chosen[MAX_FIELDS];
    uint8_t high[MAX_FIELDS];
    int64_t p = 0, line = 0, pos = 0;
    *taken = 0;
    *n_slow = 0;
    *sum = 0;
    if (fields > MAX_FIELDS || ncols > MAX_FIELDS) return -1;
    while (pos < n) {
        int64_t end, stop = line_at(v, n, pos, &end);
        int blank = end == pos, ok = !blank;
        int64_t f = 0;
        if (ok) {
            starts[0] = pos;
            high[0] = 0;
            for (int64_t i = pos; i < end; i++) {
                uint8_t b = v[i];
                if (b == sep) {
                    ends[f] = i;
                    if (++f == fields) {
                        ok = 0;
                        break;
                    }
                    starts[f] = i + 1;
                    high[f] = 0;
                } else if (b < 0x20 || b == '"' || b == '\\') { /* control, quote, backslash */
                    ok = 0;
                    break;
                } else if (b >= 0x80) {
                    high[f] = 1;
                }
            }
            if (ok) {
                ends[f] = end;
                ok = f == fields - 1;
            }
        }
        int64_t fen = 0, value = 0;
        for (int64_t k = 0; ok && k < ncols; k++) {
            int64_t at = order[k], s = starts[at], e = ends[at];
            int64_t kind = kinds[k];
            chosen[k] = -1;
            if (e == s) {
                ok = !required[k];
            } else if (first_bytes[v[s]] || last_bytes[v[e - 1]]) {
                ok = 0; /* may start or end with white space */
            } else if (kind == MEMBER || kind == COMMAND) {
                chosen[k] = member(v, s, e, set_bounds[set_of[k]], set_bounds[set_of[k] + 1],
                                   match_off, match_bytes);
                ok = chosen[k] >= 0 || (kind == COMMAND && is_plan_change(v, s, e));
            } else if (kind == HALL_CODE) {
                ok = e - s == 7 && v[s + 2] == '-' && all_digits(v, s + 3, e) &&
                     member(v, s, s + 2, set_bounds[set_of[k]], set_bounds[set_of[k] + 1],
                            match_off, match_bytes) >= 0;
            } else if (high[at] && ascii_only) {
                ok = 0; /* text not in UTF-8: the per-record path transcodes it */
            } else if (kind == MOBILE) {
                ok = is_mobile(v, s, e);
            } else if (kind == MOBILE_OR_LANDLINE) {
                ok = is_mobile(v, s, e) || is_landline(v, s, e);
            } else if (kind == DATETIME) {
                ok = is_datetime(v, s, e);
            } else if (kind == DATE) {
                ok = e - s == 10 && is_date(v, s);
            } else if (kind == YUAN) {
                ok = is_yuan(v, s, e);
            } else if (kind == HAS_AT) {
                ok = memchr(v + s, '@', (size_t)(e - s)) != NULL;
            } else if (kind == COMPACT_DATETIME) {
                ok = is_compact_datetime(v, s, e);
            } else if (kind == FEN) {
                ok = is_fen(v, s, e, &value);
                fen += value;
            } else if (kind == RECORD_ID) {
                ok = is_alnum_ascii(v[s]);
            }
        }
        for (int64_t j = 0; ok && j < n_pairs; j++) {
            int64_t whole = order[pairs[3 * j]], part = order[pairs[3 * j + 1]];
            int64_t length = pairs[3 * j + 2];
            ok = ends[part] - starts[part] == length && ends[whole] - starts[whole] >= length &&
                 memcmp(v + starts[whole], v + starts[part], (size_t)length) == 0;
        }
        if (ok) {
            *sum += fen;
            for (int64_t k = 0; k < ncols; k++) {
                int64_t at = order[k], s = starts[at], e = ends[at];
                if (e == s) {
                    out[p++] = '\\';
                    out[p++] = 'N';
                } else if (chosen[k] >= 0) {
                    int64_t a = emit_off[chosen[k]], b = emit_off[chosen[k] + 1];
                    memcpy(out + p, emit_bytes + a, (size_t)(b - a));
                    p += b - a;
                } else {
                    memcpy(out + p, v + s, (size_t)(e - s));
                    p += e - s;
                }
                out[p++] = '\t';
            }
            p = line_number(out, p, first + line);
        }
        tally(ok, blank, taken, slow, n_slow, line, pos, stop + 1);
        line++;
        pos = stop + 1;
    }
    return p;
}
