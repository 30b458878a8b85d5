package dht

import (
	"errors"
	"fmt"

	"github.com/btfs/btfs/bencode"
)

// The KRPC guard: every datagram is checked here before the library sees it.
//
// anacrolix/dht decodes packets by reflection into its krpc.Msg, and some
// malformed packets crash the process or reach code that assumes a field is
// there (v2.23.0: a "values" entry shorter than 2 bytes panics in
// krpc.NodeAddr.UnmarshalBinary; an announce_peer without "a" dereferences
// nil in Server.handleQuery). Other bad packets are logged on stderr through
// the library's global logger. So a packet reaches it only if it is a KRPC
// message of a shape that BEP 5 (with BEP 32's want/nodes6, BEP 33's
// noseed/scrape and BEP 43's ro) defines, with every field it decodes of the
// right type and size. Unknown keys are allowed (clients add their own) and
// ignored by both. The rules:
//
//   - at most maxPacket bytes, one bencoded dictionary, nothing after it,
//     no nesting deeper than maxDepth;
//   - "t" a string of 1 to maxTransactionID bytes; "y" one of q, r, e;
//     "v" a string; "ip" a compact address (6 or 18 bytes); "ro" 0 or 1;
//   - a query names one of the four BEP 5 methods (others, BEP 44's get and
//     put among them, are dropped unanswered) and has an "a" dictionary
//     with a 20-byte "id", a 20-byte "target" (find_node) or "info_hash"
//     (get_peers, announce_peer), and for announce_peer a "token" and a
//     "port" of 1 to 65535 unless "implied_port" is 1;
//   - a response has an "r" dictionary with a 20-byte "id", "nodes" and
//     "nodes6" in whole 26- and 38-byte entries, "values" a list of 6- or
//     18-byte strings, BEP 33's filters 256 bytes;
//   - an error has "e", a [code, message] list or a string;
//   - the keys BEP 44 adds (v, k, sig, seq, cas, salt) are refused in "a" and
//     "r": btfs does not serve BEP 44 and never asks for it.
//
// The checks are pure and fuzzed (FuzzCheckKRPC) against the library's own
// decoder: whatever passes decodes there without an error or a panic.

// KRPC limits.
const (
	// maxPacket bounds a datagram. BEP 5 messages fit one Ethernet frame
	// (a get_peers reply with 8 nodes and 50 peers is under 700 bytes);
	// 2 KiB leaves room for IPv6 nodes and client extras.
	maxPacket = 2048
	// maxDepth bounds nesting: KRPC needs 3 (message, "a"/"r", "values"
	// or "e"), and clients' extra keys add little.
	maxDepth = 8
	// maxTransactionID bounds "t": clients use 2 to 4 bytes.
	maxTransactionID = 32
	// maxToken bounds a token: libtorrent's are 4 bytes, anacrolix's 20.
	maxToken = 64
	// maxValues bounds the peers of one get_peers reply. A datagram of
	// maxPacket holds fewer anyway; the bound keeps the check cheap.
	maxValues = 256
	// maxWants bounds BEP 32's "want" list ("n4", "n6").
	maxWants = 4
)

// errBadKRPC reports a datagram the guard drops.
var errBadKRPC = errors.New("dht: bad KRPC message")

// bep5Queries are the methods answered; each maps to the 20-byte argument
// it needs besides "id".
var bep5Queries = map[string]string{
	"ping":          "",
	"find_node":     "target",
	"get_peers":     "info_hash",
	"announce_peer": "info_hash",
}

// checkKRPC returns nil if b is a KRPC message the library may decode.
func checkKRPC(b []byte) error {
	if len(b) > maxPacket {
		return fmt.Errorf("%w: %d bytes, limit %d", errBadKRPC, len(b), maxPacket)
	}
	m, err := bencode.Options{MaxDepth: maxDepth, AllowUnsortedKeys: true}.Parse(b)
	if err != nil {
		return fmt.Errorf("%w: %w", errBadKRPC, err)
	}
	if m.Kind() != bencode.Dict {
		return fmt.Errorf("%w: a %s, not a dictionary", errBadKRPC, m.Kind())
	}
	if t, ok := m.Get("t").Bytes(); !ok || len(t) == 0 || len(t) > maxTransactionID {
		return fmt.Errorf("%w: transaction ID %q", errBadKRPC, m.Get("t").Raw())
	}
	if err := checkOptional(m, "v", isString); err != nil {
		return err
	}
	if err := checkOptional(m, "ip", isCompactAddr); err != nil {
		return err
	}
	if err := checkOptional(m, "ro", isBool); err != nil {
		return err
	}
	// Whatever "y" says, the library decodes "a", "r" and "e" if present.
	if a := m.Get("a"); a.Kind() != bencode.Invalid {
		if err := checkDict(a, "a", argFields); err != nil {
			return err
		}
	}
	if r := m.Get("r"); r.Kind() != bencode.Invalid {
		if err := checkDict(r, "r", returnFields); err != nil {
			return err
		}
	}
	if err := checkOptional(m, "e", isError); err != nil {
		return err
	}
	if err := checkOptional(m, "q", isString); err != nil {
		return err
	}
	y, _ := m.Get("y").Str()
	switch y {
	case "q":
		q, _ := m.Get("q").Str()
		arg, ok := bep5Queries[q]
		if !ok {
			return fmt.Errorf("%w: query %q", errBadKRPC, m.Get("q").Raw())
		}
		a := m.Get("a")
		if a.Kind() != bencode.Dict {
			return fmt.Errorf("%w: %s without arguments", errBadKRPC, q)
		}
		if arg != "" && !a.Has(arg) {
			return fmt.Errorf("%w: %s without %s", errBadKRPC, q, arg)
		}
		if q == "announce_peer" {
			implied, _ := a.Get("implied_port").Int()
			if !a.Has("token") || (implied != 1 && !a.Has("port")) {
				return fmt.Errorf("%w: announce_peer without a token or port", errBadKRPC)
			}
		}
	case "r":
		if m.Get("r").Kind() != bencode.Dict {
			return fmt.Errorf("%w: response without \"r\"", errBadKRPC)
		}
	case "e":
		if !m.Has("e") {
			return fmt.Errorf("%w: error without \"e\"", errBadKRPC)
		}
	default:
		return fmt.Errorf("%w: message type %q", errBadKRPC, m.Get("y").Raw())
	}
	return nil
}

// field is an optional key and the check of its value.
type field struct {
	key string
	ok  func(bencode.Value) bool
}

// argFields are the optional keys of "a" the library decodes.
var argFields = []field{
	{"info_hash", isID}, {"target", isID}, {"token", isToken}, {"port", isPort},
	{"implied_port", isBool}, {"want", isWants}, {"noseed", isBool}, {"scrape", isBool},
}

// returnFields are the optional keys of "r" the library decodes.
var returnFields = []field{
	{"nodes", compactOf(26)}, {"nodes6", compactOf(38)}, {"token", isToken}, {"values", isPeers},
	{"BFsd", stringOf(256)}, {"BFpe", stringOf(256)}, {"interval", isInt}, {"num", isInt},
	{"samples", compactOf(20)},
}

// checkDict checks a query's "a" or a response's "r" dictionary: a 20-byte
// "id", the optional fields, and no BEP 44 key.
func checkDict(d bencode.Value, name string, fields []field) error {
	if d.Kind() != bencode.Dict {
		return fmt.Errorf("%w: %q is a %s", errBadKRPC, name, d.Kind())
	}
	if !isID(d.Get("id")) {
		return fmt.Errorf("%w: %q without a 20-byte id", errBadKRPC, name)
	}
	for _, f := range fields {
		if err := checkOptional(d, f.key, f.ok); err != nil {
			return err
		}
	}
	return refuseBEP44(d)
}

// refuseBEP44 refuses the keys of BEP 44 (mutable and immutable items).
func refuseBEP44(d bencode.Value) error {
	for _, key := range []string{"v", "k", "sig", "seq", "cas", "salt"} {
		if d.Has(key) {
			return fmt.Errorf("%w: BEP 44 key %q", errBadKRPC, key)
		}
	}
	return nil
}

// checkOptional checks d[key] if it is present.
func checkOptional(d bencode.Value, key string, ok func(bencode.Value) bool) error {
	if v := d.Get(key); v.Kind() != bencode.Invalid && !ok(v) {
		return fmt.Errorf("%w: %q is %.40q", errBadKRPC, key, v.Raw())
	}
	return nil
}

func isString(v bencode.Value) bool { return v.Kind() == bencode.String }

func isInt(v bencode.Value) bool { return v.Kind() == bencode.Int }

func isBool(v bencode.Value) bool {
	n, ok := v.Int()
	return ok && (n == 0 || n == 1)
}

func isPort(v bencode.Value) bool {
	n, ok := v.Int()
	return ok && n >= 0 && n <= 65535
}

func isID(v bencode.Value) bool { return stringOf(20)(v) }

func isToken(v bencode.Value) bool {
	b, ok := v.Bytes()
	return ok && len(b) <= maxToken
}

func isCompactAddr(v bencode.Value) bool {
	b, ok := v.Bytes()
	return ok && (len(b) == 6 || len(b) == 18)
}

// isPeers accepts "values": a list of compact peer addresses.
var isPeers = listOf(maxValues, isCompactAddr)

// isWants accepts BEP 32's "want": a short list of strings.
var isWants = listOf(maxWants, isString)

// listOf returns a check for a list of at most max items that pass ok.
func listOf(max int, ok func(bencode.Value) bool) func(bencode.Value) bool {
	return func(v bencode.Value) bool {
		if v.Kind() != bencode.List {
			return false
		}
		n := 0
		for it := range v.Items() {
			if n++; n > max || !ok(it) {
				return false
			}
		}
		return true
	}
}

// isError accepts BEP 5's [code, message] list, and a bare string, which
// some clients send and the library reads.
func isError(v bencode.Value) bool {
	if v.Kind() == bencode.String {
		return true
	}
	var items []bencode.Value
	for it := range v.Items() {
		items = append(items, it)
		if len(items) > 2 {
			return false
		}
	}
	return len(items) == 2 && isInt(items[0]) && isString(items[1])
}

func stringOf(n int) func(bencode.Value) bool {
	return func(v bencode.Value) bool {
		b, ok := v.Bytes()
		return ok && len(b) == n
	}
}

func compactOf(n int) func(bencode.Value) bool {
	return func(v bencode.Value) bool {
		b, ok := v.Bytes()
		return ok && len(b)%n == 0
	}
}
