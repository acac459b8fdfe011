/* RFC 8941 parsing (sfv.h): the algorithms of its section 4.2, on a cursor over one value. */
#include "sfv.h"

#include <string.h>

typedef struct cur {
  const char *s;
  size_t len, pos;
} cur;

static int at_end(const cur *c)
{
  return c->pos >= c->len;
}

static int peek(const cur *c)
{
  return at_end(c) ? -1 : (unsigned char)c->s[c->pos];
}

static void skip_sp(cur *c)
{
  while (peek(c) == ' ')
    c->pos++;
}

static void skip_ows(cur *c)
{
  while (peek(c) == ' ' || peek(c) == '\t')
    c->pos++;
}

static int is_digit(int ch)
{
  return ch >= '0' && ch <= '9';
}

static int is_lcalpha(int ch)
{
  return ch >= 'a' && ch <= 'z';
}

static int is_alpha(int ch)
{
  return is_lcalpha(ch) || (ch >= 'A' && ch <= 'Z');
}

/* RFC 9110 tchar */
static int is_tchar(int ch)
{
  return ch > 0 && (is_alpha(ch) || is_digit(ch) || (ch < 128 && strchr("!#$%&'*+-.^_`|~", ch)));
}

static int b64_value(int ch)
{
  if (ch >= 'A' && ch <= 'Z')
    return ch - 'A';
  if (is_lcalpha(ch))
    return ch - 'a' + 26;
  if (is_digit(ch))
    return ch - '0' + 52;
  return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

/* Decode base64 (padding optional, as RFC 8941 4.2.7 asks parsers to allow); out NULL only
 * validates. Returns the decoded length, or -1 (bad character, misplaced '=', over cap). */
static long b64_decode(const char *s, size_t len, uint8_t *out, size_t cap)
{
  size_t pad = 0;
  while (pad < 2 && len > pad && s[len - 1 - pad] == '=')
    pad++;
  if (pad > 0 && len % 4 != 0)
    return -1;
  size_t body = len - pad;
  if (body % 4 == 1)
    return -1;
  uint32_t acc = 0;
  unsigned bits = 0;
  size_t o = 0;
  for (size_t i = 0; i < body; i++) {
    int v = b64_value((unsigned char)s[i]);
    if (v < 0)
      return -1;
    acc = ((acc << 6) | (uint32_t)v) & 0xffffu;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (out) {
        if (o >= cap)
          return -1;
        out[o] = (uint8_t)(acc >> bits);
      }
      o++;
    }
  }
  return (long)o;
}

/* 4.2.3.3 key: 1-64 bytes (our bound) of lcalpha / DIGIT / "_" / "-" / "." / "*". */
static int parse_key(cur *c, char key[65])
{
  int ch = peek(c);
  if (!is_lcalpha(ch) && ch != '*')
    return -1;
  size_t n = 0;
  while (!at_end(c)) {
    ch = peek(c);
    if (!is_lcalpha(ch) && !is_digit(ch) && !strchr("_-.*", ch))
      break;
    if (n == 64)
      return -1;
    key[n++] = (char)ch;
    c->pos++;
  }
  key[n] = '\0';
  return 0;
}

/* 4.2.4 integer or decimal. */
static int parse_number(cur *c, rs_sfv_value *v)
{
  int neg = 0;
  if (peek(c) == '-') {
    neg = 1;
    c->pos++;
  }
  if (!is_digit(peek(c)))
    return -1;
  int64_t acc = 0;
  size_t digits = 0, frac = 0;
  int decimal = 0;
  while (!at_end(c)) {
    int ch = peek(c);
    if (is_digit(ch)) {
      if (decimal)
        frac++;
      else
        acc = acc * 10 + (ch - '0');
      digits++;
    } else if (ch == '.' && !decimal) {
      if (digits > 12)
        return -1;
      decimal = 1;
    } else {
      break;
    }
    c->pos++;
    if (!decimal && digits > 15)
      return -1;
    if (decimal && digits + 1 > 16)
      return -1;
  }
  if (decimal) {
    if (frac == 0 || frac > 3)
      return -1;
    v->type = RS_SFV_DECIMAL;
    v->i = 0;
    return 0;
  }
  v->type = RS_SFV_INTEGER;
  v->i = neg ? -acc : acc;
  return 0;
}

/* 4.2.5 string: printable ASCII, with only \" and \\ escapes. */
static int parse_string(cur *c, rs_sfv_value *v)
{
  c->pos++; /* '"' */
  size_t start = c->pos;
  while (!at_end(c)) {
    int ch = peek(c);
    c->pos++;
    if (ch == '\\') {
      int nx = peek(c);
      if (nx != '"' && nx != '\\')
        return -1;
      c->pos++;
    } else if (ch == '"') {
      v->type = RS_SFV_STRING;
      v->str = c->s + start;
      v->len = c->pos - 1 - start;
      return 0;
    } else if (ch < 0x20 || ch > 0x7e) {
      return -1;
    }
  }
  return -1; /* unterminated */
}

/* 4.2.6 token. */
static int parse_token(cur *c, rs_sfv_value *v)
{
  size_t start = c->pos;
  c->pos++; /* ALPHA or '*', checked by the caller */
  while (!at_end(c) && (is_tchar(peek(c)) || peek(c) == ':' || peek(c) == '/'))
    c->pos++;
  v->type = RS_SFV_TOKEN;
  v->str = c->s + start;
  v->len = c->pos - start;
  return 0;
}

/* 4.2.7 byte sequence. */
static int parse_bytes(cur *c, rs_sfv_value *v)
{
  c->pos++; /* ':' */
  size_t start = c->pos;
  while (!at_end(c) && peek(c) != ':') {
    int ch = peek(c);
    if (b64_value(ch) < 0 && ch != '=')
      return -1;
    c->pos++;
  }
  if (at_end(c))
    return -1;
  size_t n = c->pos - start;
  c->pos++; /* ':' */
  if (b64_decode(c->s + start, n, NULL, 0) < 0)
    return -1;
  v->type = RS_SFV_BYTES;
  v->str = c->s + start;
  v->len = n;
  return 0;
}

/* 4.2.8 boolean. */
static int parse_boolean(cur *c, rs_sfv_value *v)
{
  c->pos++; /* '?' */
  int ch = peek(c);
  if (ch != '0' && ch != '1')
    return -1;
  c->pos++;
  v->type = RS_SFV_BOOLEAN;
  v->i = ch == '1';
  return 0;
}

/* 4.2.3.1 bare item. */
static int parse_bare(cur *c, rs_sfv_value *v)
{
  memset(v, 0, sizeof(*v));
  int ch = peek(c);
  if (ch == '-' || is_digit(ch))
    return parse_number(c, v);
  if (ch == '"')
    return parse_string(c, v);
  if (ch == '*' || is_alpha(ch))
    return parse_token(c, v);
  if (ch == ':')
    return parse_bytes(c, v);
  if (ch == '?')
    return parse_boolean(c, v);
  return -1;
}

/* 4.2.3.2 parameters: validated, not kept. */
static int parse_params(cur *c)
{
  while (peek(c) == ';') {
    c->pos++;
    skip_sp(c);
    char key[65];
    if (parse_key(c, key) != 0)
      return -1;
    if (peek(c) == '=') {
      c->pos++;
      rs_sfv_value v;
      if (parse_bare(c, &v) != 0)
        return -1;
    }
  }
  return 0;
}

/* 4.2.1.2 inner list. */
static int parse_inner_list(cur *c, rs_sfv_value *v)
{
  size_t start = c->pos;
  c->pos++; /* '(' */
  while (!at_end(c)) {
    skip_sp(c);
    if (peek(c) == ')') {
      c->pos++;
      memset(v, 0, sizeof(*v));
      v->type = RS_SFV_INNER_LIST;
      v->str = c->s + start;
      v->len = c->pos - start;
      return parse_params(c);
    }
    rs_sfv_value item;
    if (parse_bare(c, &item) != 0 || parse_params(c) != 0)
      return -1;
    if (peek(c) != ' ' && peek(c) != ')')
      return -1;
  }
  return -1;
}

int rs_sfv_item(const char *s, size_t len, rs_sfv_type want, rs_sfv_value *out)
{
  cur c = {s, len, 0};
  skip_sp(&c);
  rs_sfv_value v;
  if (parse_bare(&c, &v) != 0 || parse_params(&c) != 0)
    return -1;
  skip_sp(&c);
  if (!at_end(&c) || v.type != want)
    return -1;
  *out = v;
  return 0;
}

int rs_sfv_uint(const char *s, size_t len, uint64_t *out)
{
  rs_sfv_value v;
  if (rs_sfv_item(s, len, RS_SFV_INTEGER, &v) != 0 || v.i < 0)
    return -1;
  *out = (uint64_t)v.i;
  return 0;
}

int rs_sfv_bool(const char *s, size_t len, int *out)
{
  rs_sfv_value v;
  if (rs_sfv_item(s, len, RS_SFV_BOOLEAN, &v) != 0)
    return -1;
  *out = (int)v.i;
  return 0;
}

int rs_sfv_dict(const char *s, size_t len, rs_sfv_member_fn fn, void *arg)
{
  cur c = {s, len, 0};
  skip_sp(&c);
  /* First pass: the whole field must parse before any member counts (a malformed field is
   * ignored whole, RFC 8941 4.2). */
  while (!at_end(&c)) {
    char key[65];
    rs_sfv_value v;
    if (parse_key(&c, key) != 0)
      return -1;
    if (peek(&c) == '=') {
      c.pos++;
      int rc = peek(&c) == '(' ? parse_inner_list(&c, &v)
                               : (parse_bare(&c, &v) == 0 ? parse_params(&c) : -1);
      if (rc != 0)
        return -1;
    } else {
      memset(&v, 0, sizeof(v));
      v.type = RS_SFV_BOOLEAN;
      v.i = 1;
      if (parse_params(&c) != 0)
        return -1;
    }
    skip_ows(&c);
    if (at_end(&c))
      break;
    if (peek(&c) != ',')
      return -1;
    c.pos++;
    skip_ows(&c);
    if (at_end(&c))
      return -1; /* trailing comma */
  }
  skip_sp(&c);
  if (!at_end(&c))
    return -1;
  if (!fn)
    return 0;
  /* Second pass over a field known to parse: report the members. */
  c.pos = 0;
  skip_sp(&c);
  while (!at_end(&c)) {
    char key[65];
    rs_sfv_value v;
    (void)parse_key(&c, key);
    if (peek(&c) == '=') {
      c.pos++;
      if (peek(&c) == '(')
        (void)parse_inner_list(&c, &v);
      else {
        (void)parse_bare(&c, &v);
        (void)parse_params(&c);
      }
    } else {
      memset(&v, 0, sizeof(v));
      v.type = RS_SFV_BOOLEAN;
      v.i = 1;
      (void)parse_params(&c);
    }
    int r = fn(arg, key, &v);
    if (r != 0)
      return r;
    skip_ows(&c);
    if (at_end(&c))
      break;
    c.pos++; /* ',' */
    skip_ows(&c);
  }
  return 0;
}

int rs_sfv_bytes(const rs_sfv_value *v, uint8_t *out, size_t cap, size_t *out_len)
{
  if (v->type != RS_SFV_BYTES)
    return -1;
  long n = b64_decode(v->str, v->len, out, cap);
  if (n < 0)
    return -1;
  *out_len = (size_t)n;
  return 0;
}

typedef struct digest_find {
  const char *algo;
  int found; /* 1: the last member of that name; its value below */
  rs_sfv_value v;
} digest_find;

static int find_member(void *arg, const char *key, const rs_sfv_value *v)
{
  digest_find *f = arg;
  if (strcmp(key, f->algo) == 0) {
    f->found = 1;
    f->v = *v; /* a later duplicate overrides */
  }
  return 0;
}

int rs_sfv_digest_n(const char *header, const char *algo, uint8_t *out, size_t n)
{
  if (!header || !algo || !out)
    return -1;
  digest_find f = {algo, 0, {0, 0, NULL, 0}};
  if (rs_sfv_dict(header, strlen(header), find_member, &f) != 0)
    return -1;
  if (!f.found)
    return 0;
  size_t got = 0;
  if (rs_sfv_bytes(&f.v, out, n, &got) != 0 || got != n)
    return -1;
  return 1;
}

int rs_sfv_digest(const char *header, const char *algo, uint8_t out32[32])
{
  return rs_sfv_digest_n(header, algo, out32, 32);
}
