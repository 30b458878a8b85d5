// Package bencode implements the bencoding of BEP 3: a strict decoder that
// keeps every value as the exact bytes it was read from, and an encoder that
// always produces the canonical form.
//
// Decoding validates the whole input once (Parse) and hands back a Value, a
// view into the input. Accessors walk those bytes on demand, so a parse
// allocates nothing per token and the raw bytes of any sub-value (the info
// dictionary, whose SHA-1 is a torrent's identity) are exactly what the file
// held.
//
// Strictness: integers without leading zeros or "-0", string lengths that fit
// the input, dictionary keys that are strings in strictly ascending byte
// order (no duplicates), nesting no deeper than a limit, and nothing after the
// top-level value. Every rule exists because two parsers that disagree on an
// input disagree on an info-hash.
package bencode
