/* One pass over the rows of a store workbook's sheet XML: read, check and render as COPY text.
 *
 * What it does and why: channel_dw/sources/_stores_compiled.py, which calls index_strings()
 * (_compiled_sst.c) on the shared string table and render_stores() on each run of whole <row>
 * elements. A row is taken only when every contract cell is in a shape whose value openpyxl reads
 * exactly as this pass does and certainly passes every rule; a row any test doubts is listed for
 * the per-record path (openpyxl's own parser, then the row rules). A structure this pass does not
 * follow (a row out of order, a cell without a reference, bytes XML does not allow...) stops it:
 * the per-record reader reads the workbook from that row on.
 */
#define _GNU_SOURCE /* memmem */
#include "_compiled_xlsx.h"

/* One cell of the row: its kind (NONE, STRING with its index, NUMBER with its literal and
 * whether its style is a date's, SLOW) and its bytes. */
typedef struct {
    int kind;
    int64_t s, e; /* the literal of a NUMBER; a STRING's index in s, then its text */
    int date;     /* a NUMBER in a date format */
} Cell;

/* One <row> element read: its number, its bounds in v, the last row before it, whether every
 * part of it is one the pass reads (ok), and its contract cells. */
typedef struct {
    int64_t row, start, end, before;
    int ok;
    Cell cells[NCOLS];
} Row;

enum { ROW_READ, ROW_BLANK, NOT_A_ROW, STRUCTURE, BEYOND, WANTING };
enum { ATTRIBUTE, ENDED, CLOSED, BROKEN };

#define MAX_ATTRIBUTES 16

/* The attributes' names seen so far in one start tag. */
typedef struct {
    int64_t start[MAX_ATTRIBUTES], end[MAX_ATTRIBUTES];
    int count;
} Seen;

/* The next attribute of the start tag at v[*a] (ATTRIBUTE: its name and value's bounds), else
 * the tag's end (ENDED at '>', CLOSED at '/>', *a after it) or BROKEN (not XML the pass reads,
 * a name the tag already has among them: XML allows none twice, and expat rejects the sheet). */
static int next_attribute(const uint8_t *v, int64_t n, int64_t *a, Seen *seen, int64_t *ns,
                          int64_t *ne, int64_t *vs, int64_t *ve) {
    int64_t i = skip_ws(v, *a, n);
    if (i >= n) return BROKEN;
    if (v[i] == '>') {
        *a = i + 1;
        return ENDED;
    }
    if (v[i] == '/' && i + 1 < n && v[i + 1] == '>') {
        *a = i + 2;
        return CLOSED;
    }
    *a = attribute(v, i, n, ns, ne, vs, ve);
    if (*a < 0 || seen->count == MAX_ATTRIBUTES) return BROKEN;
    int64_t length = *ne - *ns;
    for (int k = 0; k < seen->count; k++) {
        const uint8_t *other = v + seen->start[k];
        if (seen->end[k] - seen->start[k] != length || other[0] != v[*ns]) continue;
        int64_t j = 1; /* names are a few bytes: no memcmp */
        while (j < length && other[j] == v[*ns + j]) j++;
        if (j == length) return BROKEN;
    }
    seen->start[seen->count] = *ns;
    seen->end[seen->count++] = *ne;
    return ATTRIBUTE;
}

/* Whether the digits v[s:e] are a row number far past a sheet's last (1,048,576), as the
 * checks of before had it: 2,000,000 or more (calamine aborted there); the number in *beyond. */
static int past_last_row(const uint8_t *v, int64_t s, int64_t e, int64_t *beyond) {
    if (!(e - s >= 8 || (e - s == 7 && v[s] >= '2')) || !all_digits(v, s, e)) return 0;
    *beyond = digits_value(v, s, e);
    if (*beyond < 0) *beyond = LAST_ROW + 1;
    return 1;
}

/* The usual cell tag after its "<c": ` r="B2"`, then ` s="1"` and ` t="s"` or either or neither,
 * then '>', where B2's row is the row's own r value byte for byte. Sets the column (from 0), the
 * style and the type's bounds as the general reading of the attributes (next_attribute) does
 * and returns the index after '>'; -1 for any other tag, which is read the general way. */
static int64_t usual_cell(const uint8_t *v, int64_t n, int64_t a, int64_t row_s, int64_t row_e,
                          int64_t *column, int64_t *style, int64_t *type_s, int64_t *type_e) {
    int64_t row_len = row_e - row_s;
    if (n - a < 16 + row_len || memcmp(v + a, " r=\"", 4) != 0) return -1;
    int64_t j = a + 4, c = 0;
    while (j < a + 7 && v[j] >= 'A' && v[j] <= 'Z') c = c * 26 + (v[j++] - 'A' + 1);
    if (j == a + 4 || memcmp(v + j, v + row_s, (size_t)row_len) != 0 || v[j + row_len] != '"')
        return -1;
    j += row_len + 1;
    int64_t s = 0;
    if (n - j >= 6 && memcmp(v + j, " s=\"", 4) == 0) {
        int64_t d = j + 4;
        while (d < n && d < j + 13 && is_digit(v[d])) s = s * 10 + (v[d++] - '0');
        if (d == j + 4 || d >= n || v[d] != '"') return -1;
        j = d + 1;
    }
    int64_t ts = -1, te = -1;
    if (n - j >= 6 && memcmp(v + j, " t=\"", 4) == 0) {
        int64_t d = ts = j + 4;
        while (d < n && d < ts + 12 && v[d] >= 'a' && v[d] <= 'z') d++;
        if (d == ts || d >= n || v[d] != '"') return -1;
        te = d;
        j = d + 1;
    }
    if (j >= n || v[j] != '>') return -1;
    *column = c - 1;
    *style = s;
    *type_s = ts;
    *type_e = te;
    return j + 1;
}

/* What the rows are checked against. */
typedef struct {
    const int8_t *contract; /* per sheet column: the contract column there, or -1 */
    const uint8_t *style_kind;
    int64_t n_styles, n_strings; /* the strings indexed so far */
    int complete;                 /* whether they are all the table's */
} Sheet;

#define MAX_COLUMN 16384 /* XFD */

/* Reads the <row> element at v[i] into *r (its end in r->end). Returns ROW_READ, ROW_BLANK (no
 * cell holds a value), NOT_A_ROW (something else is at v[i]), STRUCTURE (a row the pass does not
 * follow), BEYOND (a row number past a sheet's last, in *beyond) or WANTING (a contract cell
 * names a shared string past those indexed so far). */
static int parse_row(const uint8_t *v, int64_t n, int64_t i, int64_t last, const Sheet *sh,
                     Row *r, int64_t *beyond) {
    if (!starts(v, i, n, "<row") || i + 4 >= n ||
        !(is_space(v[i + 4]) || v[i + 4] == '>' || v[i + 4] == '/'))
        return NOT_A_ROW;
    int64_t row = -1, row_s = 0, row_e = 0, a = i + 4;
    int self_closing = 0, blank = 1, ok = 1;
    r->start = i;
    int64_t ns, ne, vs, ve;
    int got;
    Seen seen = {.count = 0};
    while ((got = next_attribute(v, n, &a, &seen, &ns, &ne, &vs, &ve)) == ATTRIBUTE) {
        if (named(v, ns, ne, "r")) { /* the row's attributes: r is the one that matters */
            if (row >= 0) return STRUCTURE;
            if (past_last_row(v, vs, ve, beyond)) return BEYOND;
            row = digits_value(v, vs, ve);
            if (row < 1) return STRUCTURE;
            row_s = vs;
            row_e = ve;
        }
    }
    if (got == BROKEN) return STRUCTURE;
    self_closing = got == CLOSED;
    if (row < 0 || row <= last || row > LAST_ROW) return STRUCTURE;
    for (int k = 0; k < NCOLS; k++) r->cells[k].kind = NONE;
    int64_t previous_column = -1;
    while (!self_closing) {
        a = skip_ws(v, a, n);
        if (starts(v, a, n, "</row>")) {
            a += 6;
            break;
        }
        if (!starts(v, a, n, "<c") || a + 2 >= n ||
            !(is_space(v[a + 2]) || v[a + 2] == '>' || v[a + 2] == '/'))
            return STRUCTURE;
        a += 2;
        int64_t column = -1, style = 0, type_s = -1, type_e = -1;
        int64_t after = usual_cell(v, n, a, row_s, row_e, &column, &style, &type_s, &type_e);
        if (after >= 0) {
            a = after;
            got = ENDED;
        }
        seen.count = 0;
        while (after < 0 &&
               (got = next_attribute(v, n, &a, &seen, &ns, &ne, &vs, &ve)) == ATTRIBUTE) {
            if (named(v, ns, ne, "r")) {
                if (column >= 0) return STRUCTURE;
                int64_t j = vs;
                column = 0;
                while (j < ve && v[j] >= 'A' && v[j] <= 'Z')
                    column = column * 26 + (v[j++] - 'A' + 1);
                if (j == vs || j - vs > 3) return STRUCTURE;
                if (past_last_row(v, j, ve, beyond)) return BEYOND;
                if (digits_value(v, j, ve) != row) ok = 0; /* openpyxl places it anyway */
                column -= 1;
            } else if (named(v, ns, ne, "s")) {
                style = digits_value(v, vs, ve);
                if (style < 0) ok = 0;
            } else if (named(v, ns, ne, "t")) {
                type_s = vs;
                type_e = ve;
            }
        }
        if (got == BROKEN || column < 0 || column <= previous_column) return STRUCTURE;
        int cell_closed = got == CLOSED;
        previous_column = column;
        int64_t value_s = -1, value_e = -1;
        int other_child = 0;
        while (!cell_closed) {
            a = skip_ws(v, a, n);
            if (starts(v, a, n, "</c>")) {
                a += 4;
                break;
            }
            if (starts(v, a, n, "<v>") && value_s < 0) {
                value_s = a + 3;
                int64_t j = value_s; /* a value is a few bytes: no memchr */
                while (j < n && v[j] != '<') {
                    if (v[j] == '&' || v[j] < 0x20 || v[j] >= 0x80) ok = 0;
                    j++;
                }
                value_e = j;
                if (!starts(v, value_e, n, "</v>")) return STRUCTURE;
                a = value_e + 4;
            } else if (starts(v, a, n, "<v/>") && value_s < 0) {
                value_s = value_e = a; /* <v/>: no value */
                a += 4;
            } else {
                other_child = 1; /* a formula, an inline string, ... */
                break;
            }
        }
        if (other_child) {
            /* the row goes to the per-record path, which must find where it ends */
            const uint8_t *end = memmem(v + a, (size_t)(n - a), "</row>", 6);
            if (end == NULL) return STRUCTURE;
            a = end - v + 6;
            ok = 0;
            blank = 0;
            break;
        }
        int has_value = value_s >= 0 && value_e > value_s;
        if (has_value) blank = 0;
        int k = column < MAX_COLUMN ? sh->contract[column] : -1;
        if (k < 0 || !ok) continue;
        Cell *cell = &r->cells[k];
        int is_s = type_e - type_s == 1 && v[type_s] == 's';
        int is_n = type_s < 0 || (type_e - type_s == 1 && v[type_s] == 'n');
        if (!has_value) {
            cell->kind = is_s || is_n ? NONE : SLOW;
        } else if (is_s) {
            int64_t index = digits_value(v, value_s, value_e);
            if (index >= sh->n_strings && !sh->complete) return WANTING;
            /* looked up with the other rows of the block (render_stores) */
            cell->kind = index >= 0 && index < sh->n_strings ? STRING : SLOW;
            cell->s = index;
        } else if (is_n) {
            uint8_t sk = style < sh->n_styles ? sh->style_kind[style] : 0;
            cell->kind = sk == 2 ? SLOW : NUMBER;
            cell->s = value_s;
            cell->e = value_e;
            cell->date = sk == 1;
        } else {
            cell->kind = SLOW;
        }
    }
    r->row = row;
    r->end = a;
    if (blank) return ROW_BLANK;
    /* a row taken holds nothing but printable ASCII and white space (its text is in the
     * shared strings): any other byte is for the XML parser of the per-record path to judge */
    r->ok = ok && !not_plain_ascii(v, i, a);
    return ROW_READ;
}

/* Whether the row's contract cells pass every rule, each as this pass reads it; an Excel
 * datetime is written into times. */
static int row_passes(const uint8_t *v, Row *r, const int64_t *kinds, const uint8_t *required,
                      const int64_t *set_bounds, const int64_t *match_off,
                      const uint8_t *match_bytes, const uint8_t *t, uint8_t times[2][19]) {
    for (int k = 0; k < NCOLS; k++) {
        Cell *cell = &r->cells[k];
        int64_t kind = kinds[k], s = cell->s, e = cell->e;
        int ok = 1;
        if (cell->kind == SLOW) {
            ok = 0;
        } else if (cell->kind == NONE) {
            ok = !required[k];
        } else if (kind == S_TIME) {
            if (cell->kind == NUMBER)
                ok = cell->date && excel_time(v, s, e, times[k == 3 ? 0 : 1]);
            else
                ok = is_datetime(t, s, e);
        } else if (cell->kind == NUMBER) { /* a number in a text column, the quantity, the amount */
            if (cell->date) {
                ok = 0;
            } else if (kind == S_AMOUNT) {
                ok = amount_number(v, s, e);
            } else {
                ok = (kind == S_FREE || kind == S_WHOLE) && plain_integer(v, s, e);
                if (ok && kind == S_WHOLE) ok = v[s] != '-';
            }
        } else if (kind == S_MEMBER) { /* a STRING from here on */
            ok = member(t, s, e, set_bounds[0], set_bounds[1], match_off, match_bytes) >= 0;
        } else if (kind == S_MOBILE_OR_MASKED) {
            ok = is_mobile(t, s, e) || is_masked(t, s, e);
        } else if (kind == S_SKU) {
            ok = has_sku_prefix(t, s, e);
        } else if (kind == S_WHOLE) {
            ok = all_digits(t, s, e);
        } else if (kind == S_AMOUNT) {
            ok = is_text_amount(t, s, e);
        } else if (kind == S_HALL) {
            ok = e - s == 7 && t[s + 2] == '-' && all_digits(t, s + 3, e) &&
                 member(t, s, s + 2, set_bounds[1], set_bounds[2], match_off, match_bytes) >= 0;
        }
        if (!ok) return 0;
    }
    return 1;
}

#define BLOCK 32 /* rows read before their strings are looked up together */

/* Renders the rows of v[0:n] (whole <row> elements, white space between) that pass every rule
 * into out as COPY text: the platform, the contract's columns in order (a missing value as \N),
 * the sheet row. Lists the others in slow (per row: its number, the offsets of its element) and
 * skips blank rows. Stops at anything else: *stop is then the row from which the per-record
 * reader must read, or -1 when v was read to its end, and *consumed where the rows ended; *last
 * is the last row read (the rows must ascend from *last on). *beyond is a row number past a
 * sheet's last (the workbook is damaged), else 0. When out (out_cap bytes) has no room for the
 * next row taken, the pass ends before it, as before anything else that is not a row; likewise
 * before a row that names a shared string past the n_strings indexed so far, unless complete
 * (they are all the table's), with *wanting set. Returns the bytes written.
 *
 * The rows are read BLOCK at a time, then the shared strings they name are looked up together:
 * a row names strings from all over the table, and a load that misses the cache is what the pass
 * waited on most; loads that do not wait on each other wait together. */
int64_t render_stores(const uint8_t *v, int64_t n, const int64_t *position, const int64_t *kinds,
                      const uint8_t *required, const int64_t *set_bounds, const int64_t *match_off,
                      const uint8_t *match_bytes, const uint8_t *strings, const uint64_t *str_text,
                      int64_t n_strings, int64_t complete, const uint8_t *style_kind,
                      int64_t n_styles, const uint8_t *platform, int64_t platform_len,
                      uint8_t *out, int64_t out_cap, int64_t *slow, int64_t *taken,
                      int64_t *n_slow, int64_t *last, int64_t *stop, int64_t *consumed,
                      int64_t *beyond, int64_t *wanting) {
    int8_t contract[MAX_COLUMN];
    Row rows[BLOCK];
    int64_t p = 0, i = 0;
    *taken = 0;
    *n_slow = 0;
    *stop = -1;
    *beyond = 0;
    *wanting = 0;
    memset(contract, -1, sizeof contract);
    for (int k = 0; k < NCOLS; k++)
        if (position[k] >= 0 && position[k] < MAX_COLUMN) contract[position[k]] = (int8_t)k;
    Sheet sh = {contract, style_kind, n_styles, n_strings, complete != 0};
    for (;;) {
        int nb = 0, ended = 0; /* ended: the rows stop here (NOT_A_ROW or STRUCTURE) */
        int64_t structure_at = -1;
        while (nb < BLOCK) {
            i = skip_ws(v, i, n);
            *consumed = i;
            if (i >= n) {
                ended = NOT_A_ROW;
                break;
            }
            Row *r = &rows[nb];
            r->before = *last;
            int status = parse_row(v, n, i, *last, &sh, r, beyond);
            if (status == BEYOND) return p;
            if (status == NOT_A_ROW || status == STRUCTURE || status == WANTING) {
                ended = status;
                structure_at = i;
                break;
            }
            *last = r->row;
            i = r->end;
            if (status == ROW_READ) nb++;
        }
        for (int b = 0; b < nb; b++) /* the strings' entries: one load each, all at once */
            for (int k = 0; k < NCOLS; k++) {
                Cell *cell = &rows[b].cells[k];
                if (cell->kind == STRING) cell->e = (int64_t)str_text[cell->s];
            }
        for (int b = 0; b < nb; b++)
            for (int k = 0; k < NCOLS; k++) {
                Cell *cell = &rows[b].cells[k];
                if (cell->kind != STRING) continue;
                uint64_t packed = (uint64_t)cell->e;
                if ((packed & 3) == 0) {
                    cell->kind = SLOW;
                } else if ((packed & 3) == 2) {
                    cell->kind = NONE; /* an empty string: None */
                } else {
                    cell->s = (int64_t)(packed >> 32);
                    cell->e = cell->s + (int64_t)((packed >> 2) & ((1ULL << 30) - 1));
                    __builtin_prefetch(strings + cell->s);
                }
            }
        for (int b = 0; b < nb; b++) {
            Row *r = &rows[b];
            uint8_t times[2][19];
            int ok = r->ok && row_passes(v, r, kinds, required, set_bounds, match_off,
                                         match_bytes, strings, times);
            if (ok) {
                int64_t need = platform_len + 2 + 24;
                for (int k = 0; k < NCOLS; k++) {
                    Cell *cell = &r->cells[k];
                    int64_t length = kinds[k] == S_TIME && cell->kind == NUMBER ? 19
                                                                                : cell->e - cell->s;
                    need += cell->kind == NONE ? 3 : length + 4;
                }
                if (p + need > out_cap) {
                    if (p > 0) { /* out is full: the caller calls again from this row */
                        *last = r->before;
                        *consumed = r->start;
                        return p;
                    }
                    ok = 0; /* a row longer than all of out: the per-record path writes it */
                }
            }
            if (!ok) {
                slow[3 * *n_slow] = r->row;
                slow[3 * *n_slow + 1] = r->start;
                slow[3 * *n_slow + 2] = r->end;
                (*n_slow)++;
                continue;
            }
            memcpy(out + p, platform, (size_t)platform_len);
            p += platform_len;
            out[p++] = '\t';
            for (int k = 0; k < NCOLS; k++) {
                Cell *cell = &r->cells[k];
                if (cell->kind == NONE) {
                    out[p++] = '\\';
                    out[p++] = 'N';
                    out[p++] = '\t';
                    continue;
                }
                const uint8_t *from = cell->kind == STRING ? strings : v;
                int64_t s = cell->s, e = cell->e;
                if (kinds[k] == S_TIME && cell->kind == NUMBER) {
                    from = times[k == 3 ? 0 : 1];
                    s = 0;
                    e = 19;
                }
                memcpy(out + p, from + s, (size_t)(e - s));
                p += e - s;
                if (cell->kind == NUMBER && kinds[k] == S_AMOUNT) {
                    const uint8_t *dot = memchr(from + s, '.', (size_t)(e - s));
                    int64_t decimals = dot == NULL ? 0 : e - (dot - from) - 1;
                    if (decimals == 0) out[p++] = '.';
                    for (int64_t d = decimals; d < 2; d++) out[p++] = '0';
                }
                out[p++] = '\t';
            }
            p = line_number(out, p, r->row);
            (*taken)++;
        }
        if (ended == STRUCTURE) {
            *stop = *last + 1;
            *consumed = structure_at;
            return p;
        }
        if (ended == WANTING) {
            *consumed = structure_at;
            *wanting = 1;
            return p;
        }
        if (ended == NOT_A_ROW) return p;
    }
}
