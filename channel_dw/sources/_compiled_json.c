/* One pass over a chunk of JSON lines (the web's event log): parse, check and render as COPY
 * text. What it does and why: _compiled.py (JsonPlan) and docs/ingestion.md.
 */
#include "_compiled.h"

/* YYYY-MM-DDTHH:MM:SS(.f{1,6})?(Z|[+-]HH:MM) with a date that certainly exists: the web's _TS. */
static int is_iso_ts(const uint8_t *v, int64_t s, int64_t e) {
    if (e - s < 20 || v[s + 10] != 'T' || v[s + 13] != ':' || v[s + 16] != ':') return 0;
    if (!is_date(v, s) || !all_digits(v, s + 11, s + 13) || !all_digits(v, s + 14, s + 16) ||
        !all_digits(v, s + 17, s + 19))
        return 0;
    if (two(v, s + 11) > 23 || v[s + 14] > '5' || v[s + 17] > '5') return 0;
    int64_t i = s + 19;
    if (v[i] == '.') {
        int64_t f = ++i;
        while (i < e && is_digit(v[i])) i++;
        if (i - f < 1 || i - f > 6) return 0;
    }
    if (e - i == 1) return v[i] == 'Z';
    if (e - i != 6 || (v[i] != '+' && v[i] != '-') || v[i + 3] != ':') return 0;
    if (!all_digits(v, i + 1, i + 3) || !all_digits(v, i + 4, i + 6)) return 0;
    return two(v, i + 1) <= 23 && v[i + 4] <= '5';
}

/* ^[+-]?[0-9]+(?:\.[0-9]+)?$ */
static int is_decimal(const uint8_t *v, int64_t s, int64_t e) {
    int64_t i = (v[s] == '-' || v[s] == '+') ? s + 1 : s, whole = i;
    while (i < e && is_digit(v[i])) i++;
    if (i == whole) return 0;
    if (i == e) return 1;
    if (v[i] != '.' || e - i < 2) return 0;
    return all_digits(v, i + 1, e);
}

/* Like render(), for lines that each hold one flat JSON object: the keys the contract names
 * (keys, key_off; ncols of them) as text or null, any other key as text (then kept, in the
 * line's order, in one compact JSON object written as the last column) or null (dropped).
 * Anything else (an escape, a number, a nested value, a repeated key, white space other than
 * spaces) sends the line to the per-record path. cond: the web's rule that a biz event needs a
 * listed biz_code and a biz_result a listed result: the event column, the biz_code column and
 * its set, the result column and its set, and per listed event 0, 1 (needs biz_code) or 2
 * (needs biz_code and result). */
int64_t render_json(const uint8_t *v, int64_t n, int64_t ncols, const int64_t *key_off,
                    const uint8_t *keys, const int64_t *kinds, const uint8_t *required,
                    const int64_t *set_of, const int64_t *set_bounds, const int64_t *match_off,
                    const uint8_t *match_bytes, const int64_t *cond, const uint8_t *event_needs,
                    const uint8_t *first_bytes, const uint8_t *last_bytes, int64_t first,
                    uint8_t *out, int64_t *slow, int64_t *taken, int64_t *n_slow) {
    int64_t starts[MAX_FIELDS], ends[MAX_FIELDS], chosen[MAX_FIELDS];
    int64_t xk[MAX_EXTRAS], xke[MAX_EXTRAS], xs[MAX_EXTRAS], xe[MAX_EXTRAS];
    int64_t p = 0, line = 0, pos = 0;
    *taken = 0;
    *n_slow = 0;
    if (ncols > MAX_FIELDS) return -1;
    while (pos < n) {
        int64_t end, stop = line_at(v, n, pos, &end);
        int blank = end == pos, ok = !blank;
        int64_t nx = 0, next = 0;
        for (int64_t k = 0; k < ncols; k++) starts[k] = -1; /* absent */
        int64_t i = skip_spaces(v, pos, end);
        ok = ok && i < end && v[i] == '{';
        if (ok) {
            i = skip_spaces(v, i + 1, end);
            if (i < end && v[i] == '}') {
                i++;
            } else {
                while (ok) {
                    int64_t ks, ke;
                    i = member_key(v, i, end, &ks, &ke);
                    if (i < 0) { ok = 0; break; }
                    int64_t vs = -1, ve = -1;
                    if (i < end && v[i] == '"') {
                        ve = string_end(v, i, end);
                        if (ve < 0) { ok = 0; break; }
                        vs = i + 1;
                        i = ve + 1;
                    } else if (end - i >= 4 && memcmp(v + i, "null", 4) == 0) {
                        i += 4;
                    } else {
                        ok = 0; /* a number, a boolean, an object, an array */
                        break;
                    }
                    /* The keys mostly come in the contract's order: the one after the last first. */
                    int64_t k = -1;
                    for (int64_t t = 0; t < ncols; t++) {
                        int64_t c = next + t < ncols ? next + t : next + t - ncols;
                        if (key_off[c + 1] - key_off[c] == ke - ks &&
                            memcmp(keys + key_off[c], v + ks, (size_t)(ke - ks)) == 0) {
                            k = c;
                            break;
                        }
                    }
                    if (k >= 0) {
                        next = k + 1;
                        if (starts[k] != -1) { ok = 0; break; } /* repeated */
                        starts[k] = vs < 0 ? -2 : vs;          /* -2: null */
                        ends[k] = ve;
                    } else {
                        for (int64_t x = 0; x < nx; x++) {
                            if (xke[x] - xk[x] == ke - ks &&
                                memcmp(v + xk[x], v + ks, (size_t)(ke - ks)) == 0) {
                                ok = 0; /* repeated */
                                break;
                            }
                        }
                        if (!ok || nx == MAX_EXTRAS) { ok = 0; break; }
                        xk[nx] = ks;
                        xke[nx] = ke;
                        xs[nx] = vs;
                        xe[nx] = ve;
                        nx++;
                    }
                    i = skip_spaces(v, i, end);
                    if (i < end && v[i] == ',') {
                        i = skip_spaces(v, i + 1, end);
                    } else if (i < end && v[i] == '}') {
                        i++;
                        break;
                    } else {
                        ok = 0;
                    }
                }
            }
            ok = ok && skip_spaces(v, i, end) == end;
        }
        for (int64_t k = 0; ok && k < ncols; k++) {
            int64_t s = starts[k], e = ends[k], kind = kinds[k];
            chosen[k] = -1;
            if (s < 0) {
                ok = !required[k];
            } else if (e == s || first_bytes[v[s]] || last_bytes[v[e - 1]]) {
                ok = 0; /* empty (None) or white space at an end (stripped): per record */
            } else if (kind == MEMBER) {
                chosen[k] = member(v, s, e, set_bounds[set_of[k]], set_bounds[set_of[k] + 1],
                                   match_off, match_bytes);
                ok = chosen[k] >= 0;
            } else if (kind == MOBILE) {
                ok = is_mobile(v, s, e);
            } else if (kind == ISO_TS) {
                ok = is_iso_ts(v, s, e);
            } else if (kind == DECIMAL) {
                ok = is_decimal(v, s, e);
            }
        }
        if (ok && chosen[cond[0]] >= 0) {
            uint8_t needs = event_needs[chosen[cond[0]] - set_bounds[set_of[cond[0]]]];
            if (needs >= 1) {
                int64_t s = starts[cond[1]], e = ends[cond[1]];
                ok = s >= 0 && member(v, s, e, set_bounds[cond[2]], set_bounds[cond[2] + 1],
                                      match_off, match_bytes) >= 0;
            }
            if (ok && needs == 2) {
                int64_t s = starts[cond[3]], e = ends[cond[3]];
                ok = s >= 0 && member(v, s, e, set_bounds[cond[4]], set_bounds[cond[4] + 1],
                                      match_off, match_bytes) >= 0;
            }
        }
        if (ok) {
            p = write_values(out, p, v, starts, ends, ncols);
            p = write_extras(out, p, v, xk, xke, xs, xe, nx, 0);
            out[p++] = '\t';
            p = line_number(out, p, first + line);
        }
        tally(ok, blank, taken, slow, n_slow, line, pos, stop + 1);
        line++;
        pos = stop + 1;
    }
    return p;
}
