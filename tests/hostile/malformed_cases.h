/* The malformed requests of test_malformed.c, one per line: a name, the raw request (HEAD
 * and the method, path, headers and body exactly as sent), and what must come back: a status,
 * or CLOSED for "the connection closed without any reply". The store holds "done.bin" (complete,
 * 1000 bytes) and "part.bin" (500 of 1000 bytes, bound to a hash); max size is 1 MiB. */
#define CLOSED 0
#define H "Host: t\r\n"
#define P "/v1/files/"
#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
/* a whole-file PUT that any lenient reading would still refuse: its hash cannot match */
#define WRONG_SHA "X-Content-SHA256: " SHA_A "\r\n"
#define L(n) "Content-Length: " #n "\r\n"
#define CR(v) "Content-Range: " v "\r\n"
#define EX "Expect: 100-continue\r\n"

/* ---- methods ---- */
C("POST", "POST " P "x HTTP/1.1\r\n" H L(5) "\r\nhello", 405)
C("PATCH", "PATCH " P "part.bin HTTP/1.1\r\n" H L(5) "\r\nhello", 405)
/* (OPTIONS on the prefix is tus discovery, not an error: tests/integration/test_tus_wire.c) */
C("OPTIONS *", "OPTIONS * HTTP/1.1\r\n" H "\r\n", 404)
C("TRACE", "TRACE " P "x HTTP/1.1\r\n" H "\r\n", 405)
C("CONNECT", "CONNECT " P "x HTTP/1.1\r\n" H "\r\n", 405)
C("CONNECT authority", "CONNECT evil.example:443 HTTP/1.1\r\n" H "\r\n", 404)
C("PROPFIND", "PROPFIND " P "x HTTP/1.1\r\n" H "\r\n", 405)
C("MKCOL", "MKCOL " P "dir HTTP/1.1\r\n" H "\r\n", 405)
C("MOVE", "MOVE " P "done.bin HTTP/1.1\r\n" H "Destination: " P "moved\r\n\r\n", 405)
C("COPY", "COPY " P "done.bin HTTP/1.1\r\n" H "Destination: " P "copy\r\n\r\n", 405)
C("LOCK", "LOCK " P "done.bin HTTP/1.1\r\n" H "\r\n", 405)
C("lower-case put", "put " P "x HTTP/1.1\r\n" H L(5) WRONG_SHA "\r\nhello", 405)
C("lower-case delete", "delete " P "done.bin HTTP/1.1\r\n" H "\r\n", 405)
C("mixed-case Delete", "Delete " P "part.bin HTTP/1.1\r\n" H "\r\n", 405)
C("PUTX", "PUTX " P "x HTTP/1.1\r\n" H L(5) "\r\nhello", 405)
C("method with a slash", "PU/T " P "x HTTP/1.1\r\n" H "\r\n", 405)
C("long method",
  "PUTPUTPUTPUTPUTPUTPUTPUTPUTPUTPUTPUTPUTPUTPUTPUTPUTPUTPUTPUT " P "x HTTP/1.1\r\n" H "\r\n", 405)
C("method split by a space", "DE LETE " P "done.bin HTTP/1.1\r\n" H "\r\n", CLOSED)
C("no method", " " P "done.bin HTTP/1.1\r\n" H "\r\n", CLOSED)

/* ---- request line and version ---- */
C("HTTP/2.0 version", "DELETE " P "done.bin HTTP/2.0\r\n" H "\r\n", 505)
C("HTTP/3 version", "DELETE " P "done.bin HTTP/3\r\n" H "\r\n", 400)
C("lower-case version", "DELETE " P "done.bin http/1.1\r\n" H "\r\n", 400)
C("HTTX version", "DELETE " P "done.bin HTTX/1.1\r\n" H "\r\n", 400)
C("extra word after version", "DELETE " P "done.bin HTTP/1.1 extra\r\n" H "\r\n", 400)
C("HTTP/0.9 style", "DELETE " P "done.bin\r\n\r\n", 400)
C("HTTP/1.a", "DELETE " P "done.bin HTTP/1.a\r\n" H "\r\n", 400)
C("h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505)
C("TLS hello", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", CLOSED)
C("empty lines only", "\r\n\r\n\r\n\r\n", CLOSED)
C("space in path", "DELETE " P "done .bin HTTP/1.1\r\n" H "\r\n", CLOSED)
C("tab in path", "DELETE " P "done\t.bin HTTP/1.1\r\n" H "\r\n", 400)
C("control byte in path", "DELETE " P "done\x01.bin HTTP/1.1\r\n" H "\r\n", 400)

/* ---- paths and encodings ---- */
C("lone percent", "PUT " P "a% HTTP/1.1\r\n" H L(5) "\r\nhello", 400)
C("percent and one digit", "PUT " P "a%2 HTTP/1.1\r\n" H L(5) "\r\nhello", 400)
C("percent and non-hex", "PUT " P "a%zz HTTP/1.1\r\n" H L(5) "\r\nhello", 400)
C("encoded NUL", "PUT " P "a%00b HTTP/1.1\r\n" H L(5) "\r\nhello", 400)
C("encoded newline", "PUT " P "a%0D%0Ab HTTP/1.1\r\n" H L(5) "\r\nhello", 400)
C("encoded DEL", "PUT " P "a%7Fb HTTP/1.1\r\n" H L(5) "\r\nhello", 400)
C("encoded backslash", "PUT " P "a%5Cb HTTP/1.1\r\n" H L(5) "\r\nhello", 400)
C("encoded dot-dot", "PUT " P "%2e%2e/escape HTTP/1.1\r\n" H L(5) "\r\nhello", 400)
C("dot-dot with encoded slashes", "PUT " P "a%2F..%2F..%2Fescape HTTP/1.1\r\n" H L(5) "\r\nhello",
  400)
C("plain dot-dot", "PUT " P "../escape HTTP/1.1\r\n" H L(5) "\r\nhello", 400)
C("dot segment", "PUT " P "a/./b HTTP/1.1\r\n" H L(5) "\r\nhello", 400)
C("empty segment", "PUT " P "a//b HTTP/1.1\r\n" H L(5) "\r\nhello", 400)
C("trailing slash", "PUT " P "a/ HTTP/1.1\r\n" H L(5) "\r\nhello", 400)
C("empty key", "PUT " P " HTTP/1.1\r\n" H L(5) "\r\nhello", 400)
C("reserved .resumable", "PUT " P ".resumable/partial/x HTTP/1.1\r\n" H L(5) "\r\nhello", 400)
C("encoded .resumable", "PUT " P "%2Eresumable/x HTTP/1.1\r\n" H L(5) "\r\nhello", 400)
C("DELETE of .resumable", "DELETE " P ".resumable HTTP/1.1\r\n" H "\r\n", 400)
C("GET of a partial's file", "GET " P ".resumable/partial HTTP/1.1\r\n" H "\r\n", 400)
C("outside the prefix", "PUT /etc/passwd HTTP/1.1\r\n" H L(5) "\r\nhello", 404)
C("prefix without slash", "PUT /v1/filesx HTTP/1.1\r\n" H L(5) "\r\nhello", 404)
C("absolute URI", "PUT http://evil.example" P "x HTTP/1.1\r\n" H L(5) "\r\nhello", 404)
C("path without a leading slash", "PUT v1/files/x HTTP/1.1\r\n" H L(5) "\r\nhello", 404)

/* ---- Content-Range ---- */
C("range total at 2^63",
  "PUT " P "r.bin HTTP/1.1\r\n" H CR("bytes 0-4/9223372036854775808") L(5) "\r\nhello", 400)
C("range end at 2^63",
  "PUT " P "r.bin HTTP/1.1\r\n" H CR("bytes 0-9223372036854775808/9223372036854775809")
      L(5) "\r\nhello",
  400)
C("range start at 2^63",
  "PUT " P
  "r.bin HTTP/1.1\r\n" H CR("bytes 9223372036854775808-9223372036854775812/9223372036854775813")
      L(5) "\r\nhello",
  400)
C("range total at 2^64",
  "PUT " P "r.bin HTTP/1.1\r\n" H CR("bytes 0-4/18446744073709551616") L(5) "\r\nhello", 400)
C("range total of 30 digits",
  "PUT " P "r.bin HTTP/1.1\r\n" H CR("bytes 0-4/999999999999999999999999999999") L(5) "\r\nhello",
  400)
C("range at 2^63-1 over the maximum size",
  "PUT " P "r.bin HTTP/1.1\r\n" H CR("bytes 0-4/9223372036854775807") L(5) "\r\nhello", 413)
C("range of the partial at 2^63",
  "PUT " P "part.bin HTTP/1.1\r\n" H CR("bytes 500-504/9223372036854775808") L(5) "\r\nhello", 400)
C("negative start", "PUT " P "part.bin HTTP/1.1\r\n" H CR("bytes -500-504/1000") L(5) "\r\nhello",
  400)
C("negative end", "PUT " P "part.bin HTTP/1.1\r\n" H CR("bytes 500--504/1000") L(5) "\r\nhello",
  400)
C("negative total", "PUT " P "part.bin HTTP/1.1\r\n" H CR("bytes 500-504/-1000") L(5) "\r\nhello",
  400)
C("plus sign", "PUT " P "part.bin HTTP/1.1\r\n" H CR("bytes +500-504/1000") L(5) "\r\nhello", 400)
C("start after end", "PUT " P "part.bin HTTP/1.1\r\n" H CR("bytes 504-500/1000") L(5) "\r\nhello",
  400)
C("end at total", "PUT " P "part.bin HTTP/1.1\r\n" H CR("bytes 996-1000/1000") L(5) "\r\nhello",
  400)
C("hex numbers", "PUT " P "part.bin HTTP/1.1\r\n" H CR("bytes 0x1f4-0x1f8/1000") L(5) "\r\nhello",
  400)
C("equals sign unit", "PUT " P "part.bin HTTP/1.1\r\n" H CR("bytes=500-504/1000") L(5) "\r\nhello",
  400)
C("other unit", "PUT " P "part.bin HTTP/1.1\r\n" H CR("items 500-504/1000") L(5) "\r\nhello", 400)
C("two ranges",
  "PUT " P "part.bin HTTP/1.1\r\n" H CR("bytes 500-502/1000, bytes 503-504/1000") L(5) "\r\nhello",
  400)
C("range without total", "PUT " P "part.bin HTTP/1.1\r\n" H CR("bytes 500-504") L(5) "\r\nhello",
  400)
C("range with star total",
  "PUT " P "part.bin HTTP/1.1\r\n" H CR("bytes 500-504/*") L(5) "\r\nhello", 400)
C("status query with bad total", "PUT " P "part.bin HTTP/1.1\r\n" H CR("bytes */abc") L(0) "\r\n",
  400)
C("status query at 2^64",
  "PUT " P "part.bin HTTP/1.1\r\n" H CR("bytes */18446744073709551616") L(0) "\r\n", 400)
C("space inside a number",
  "PUT " P "part.bin HTTP/1.1\r\n" H CR("bytes 5 00-504/1000") L(5) "\r\nhello", 400)
C("empty Content-Range", "PUT " P "part.bin HTTP/1.1\r\n" H "Content-Range:\r\n" L(5) "\r\nhello",
  400)
C("repeated Content-Range",
  "PUT " P "part.bin HTTP/1.1\r\n" H CR("bytes 500-504/1000") CR("bytes 500-504/1000")
      L(5) "\r\nhello",
  400)
C("conflicting Content-Range",
  "PUT " P "part.bin HTTP/1.1\r\n" H CR("bytes 500-504/1000") CR("bytes 0-4/1000") L(5) "\r\nhello",
  400)
C("body shorter than the range",
  "PUT " P "part.bin HTTP/1.1\r\n" H CR("bytes 500-509/1000") L(5) "\r\nhello", 400)
C("body longer than the range",
  "PUT " P "part.bin HTTP/1.1\r\n" H CR("bytes 500-501/1000") L(5) "\r\nhello", 400)

/* ---- X-Content-SHA256 ---- */
C("hash of 63 digits",
  "PUT " P "h.bin HTTP/1.1\r\n" H "X-Content-SHA256: "
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n" L(5) "\r\nhello",
  400)
C("hash of 65 digits",
  "PUT " P "h.bin HTTP/1.1\r\n" H "X-Content-SHA256: " SHA_A "a\r\n" L(5) "\r\nhello", 400)
C("hash with non-hex",
  "PUT " P "h.bin HTTP/1.1\r\n" H "X-Content-SHA256: "
  "gaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n" L(5) "\r\nhello",
  400)
C("empty hash", "PUT " P "h.bin HTTP/1.1\r\n" H "X-Content-SHA256:\r\n" L(5) "\r\nhello", 400)
C("conflicting hashes",
  "PUT " P "h.bin HTTP/1.1\r\n" H WRONG_SHA "X-Content-SHA256: "
  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n" L(5) "\r\nhello",
  400)
C("whole file with a wrong hash", "PUT " P "h.bin HTTP/1.1\r\n" H WRONG_SHA L(5) "\r\nhello", 400)
C("replacing a complete file with a wrong hash",
  "PUT " P "done.bin HTTP/1.1\r\n" H WRONG_SHA L(5) "\r\nhello", 400)

/* ---- Content-Length ---- */
C("negative length", "PUT " P "n.bin HTTP/1.1\r\n" H "Content-Length: -1\r\n\r\n", 400)
C("length with a plus", "PUT " P "n.bin HTTP/1.1\r\n" H "Content-Length: +5\r\n\r\nhello", 400)
C("hex length", "PUT " P "n.bin HTTP/1.1\r\n" H "Content-Length: 0x5\r\n\r\nhello", 400)
C("length with letters", "PUT " P "n.bin HTTP/1.1\r\n" H "Content-Length: five\r\n\r\nhello", 400)
C("empty length", "PUT " P "n.bin HTTP/1.1\r\n" H "Content-Length:\r\n\r\nhello", 400)
C("length list", "PUT " P "n.bin HTTP/1.1\r\n" H "Content-Length: 5, 5\r\n" WRONG_SHA "\r\nhello",
  400)
C("length with a space inside", "PUT " P "n.bin HTTP/1.1\r\n" H "Content-Length: 5 0\r\n\r\nhello",
  400)
C("length of 2^64",
  "PUT " P "n.bin HTTP/1.1\r\n" H "Content-Length: 18446744073709551616\r\n\r\nhello", 413)
C("length of 30 digits",
  "PUT " P "n.bin HTTP/1.1\r\n" H "Content-Length: 999999999999999999999999999999\r\n\r\nhello",
  413)
C("length of 2^63 with Expect",
  "PUT " P "n.bin HTTP/1.1\r\n" H EX "Content-Length: 9223372036854775808\r\n\r\n", 400)
C("length of 2^64-1 with Expect",
  "PUT " P "n.bin HTTP/1.1\r\n" H EX "Content-Length: 18446744073709551615\r\n\r\n", 400)
C("length over the maximum with Expect",
  "PUT " P "n.bin HTTP/1.1\r\n" H EX "Content-Length: 1048577\r\n\r\n", 413)
C("length over the maximum, no body sent",
  "PUT " P "n.bin HTTP/1.1\r\n" H "Content-Length: 5000000000\r\n\r\n", CLOSED)
C("conflicting lengths", "PUT " P "n.bin HTTP/1.1\r\n" H L(5) L(6) "\r\nhello!", 400)
C("body shorter than the length", "PUT " P "n.bin HTTP/1.1\r\n" H L(10) "\r\nhello", CLOSED)

/* ---- chunked framing and smuggling ---- */
C("non-hex chunk size",
  "PUT " P "c.bin HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n" WRONG_SHA
  "\r\nzz\r\nhello\r\n0\r\n\r\n",
  400)
C("negative chunk size",
  "PUT " P "c.bin HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n" WRONG_SHA
  "\r\n-5\r\nhello\r\n0\r\n\r\n",
  400)
C("chunk size overflow",
  "PUT " P "c.bin HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n" WRONG_SHA
  "\r\nffffffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
  413)
C("chunk without its CRLF",
  "PUT " P "c.bin HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n" WRONG_SHA
  "\r\n5\r\nhelloXX0\r\n\r\n",
  400)
C("chunk longer than its size",
  "PUT " P "c.bin HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n" WRONG_SHA
  "\r\n2\r\nhello\r\n0\r\n\r\n",
  400)
C("chunk size with a space",
  "PUT " P "c.bin HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n" WRONG_SHA
  "\r\n5 5\r\nhello\r\n0\r\n\r\n",
  400)
C("chunked body growing past the maximum",
  "PUT " P "c.bin HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n" WRONG_SHA "\r\n100001\r\n",
  CLOSED)
C("chunked body that never ends",
  "PUT " P "c.bin HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n"
  "\r\n5\r\nhello\r\n",
  CLOSED)
C("chunked with bare LF",
  "PUT " P "c.bin HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n" WRONG_SHA "\r\n5\nhello\n0\n\n",
  400)
C("Content-Length then Transfer-Encoding",
  "PUT " P "s.bin HTTP/1.1\r\n" H L(5) "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nPUT " P
                                       "smuggled HTTP/1.1\r\n" H L(1) "\r\nZ",
  400)
C("Transfer-Encoding then Content-Length",
  "PUT " P "s.bin HTTP/1.1\r\n" H
  "Transfer-Encoding: chunked\r\n" L(40) "\r\n0\r\n\r\nPUT " P
                                         "smuggled HTTP/1.1\r\n" H L(1) "\r\nZ",
  400)
C("Transfer-Encoding gzip", "PUT " P "s.bin HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n\r\nhello",
  CLOSED)
C("Transfer-Encoding chunked twice in one field",
  "PUT " P "s.bin HTTP/1.1\r\n" H "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", CLOSED)
C("two Transfer-Encoding fields",
  "PUT " P "s.bin HTTP/1.1\r\n" H
  "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
  CLOSED)
C("Transfer-Encoding identity",
  "PUT " P "s.bin HTTP/1.1\r\n" H "Transfer-Encoding: identity\r\n" L(5) "\r\nhello", CLOSED)
C("Transfer-Encoding xchunked",
  "PUT " P "s.bin HTTP/1.1\r\n" H "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", CLOSED)
C("space before the colon",
  "PUT " P "s.bin HTTP/1.1\r\n" H "Transfer-Encoding : chunked\r\n" L(5) "\r\nhello", CLOSED)

/* ---- header syntax ---- */
C("header without a colon", "DELETE " P "done.bin HTTP/1.1\r\n" H "NoColonHere\r\n\r\n", 400)
C("empty header name (MHD drops the line)",
  "DELETE " P "absent.bin HTTP/1.1\r\n" H ": value\r\n\r\n", 404)
C("space inside a header name", "DELETE " P "done.bin HTTP/1.1\r\n" H "Bad Name: v\r\n\r\n", CLOSED)
C("folded header line (accepted, RFC 9112 allows unfolding)",
  "DELETE " P "absent.bin HTTP/1.1\r\n" H "X-A: 1\r\n folded\r\n\r\n", 404)
C("bare CR in a header", "DELETE " P "done.bin HTTP/1.1\r\n" H "X-A: 1\r2\r\n\r\n", CLOSED)
C("header of 300 KiB", "", 431) /* built at run time */
C("4000 headers", "", 431)      /* built at run time */

/* ---- GET ranges ---- */
C("GET range at 2^63",
  "GET " P "done.bin HTTP/1.1\r\n" H "Range: bytes=9223372036854775808-\r\n\r\n", 416)
C("GET range past the end", "GET " P "done.bin HTTP/1.1\r\n" H "Range: bytes=1000-1001\r\n\r\n",
  416)
C("GET range starting at the size", "GET " P "done.bin HTTP/1.1\r\n" H "Range: bytes=1000-\r\n\r\n",
  416)
/* (an invalid ranges-specifier such as bytes=9-0 is ignored with a 200, as RFC 9110 14.2 allows) */

/* ---- leniency of MHD 0.9.75 (with MHD_OPTION_STRICT_FOR_CLIENT 1), recorded: read as valid */
C("missing Host in HTTP/1.1", "DELETE " P "done.bin HTTP/1.1\r\n\r\n", 400)
C("bare LF line endings (accepted)", "DELETE " P "absent.bin HTTP/1.1\nHost: t\n\n", 404)
