package dht

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
	abencode "github.com/anacrolix/torrent/bencode"
)

// id20 is a 20-byte string, bencoded.
const id20 = "20:abcdefghij0123456789"

var validKRPC = []string{
	"d1:ad2:id" + id20 + "e1:q4:ping1:t2:aa1:y1:qe",
	"d1:ad2:id" + id20 + "6:target" + id20 + "e1:q9:find_node1:t2:aa1:y1:qe",
	"d1:ad2:id" + id20 + "9:info_hash" + id20 + "4:wantl2:n4ee1:q9:get_peers1:t2:aa1:y1:qe",
	"d1:ad2:id" + id20 + "12:implied_porti1e9:info_hash" + id20 + "5:token4:abcde1:q13:announce_peer1:t2:aa1:y1:qe",
	"d1:ad2:id" + id20 + "9:info_hash" + id20 + "4:porti6881e5:token4:abcde1:q13:announce_peer1:t2:aa1:y1:qe",
	"d1:rd2:id" + id20 + "5:nodes26:" + strings.Repeat("n", 26) + "e1:t2:aa1:y1:re",
	"d2:ip6:\x7f\x00\x00\x01\x1a\xe11:rd2:id" + id20 + "5:token2:xy6:valuesl6:\x7f\x00\x00\x01\x1a\xe118:" + strings.Repeat("6", 18) + "ee1:t2:aa1:v4:LT011:y1:re",
	"d1:eli201e7:A Errore1:t2:aa1:y1:ee",
	"d1:e5:oops!1:t2:aa1:y1:ee",
	// unsorted keys and unknown keys are fine
	"d1:y1:q1:t2:aa1:q4:ping1:ad2:id" + id20 + "4:seedi1eee",
}

var invalidKRPC = []string{
	"", "le", "i1e", "d1:t2:aae", "d1:t0:1:y1:qe", "d1:ti1e1:y1:re",
	// the library panics on these (v2.23.0)
	"d1:rd2:id" + id20 + "6:valuesl1:xee1:t1:a1:y1:re",
	"d2:ip1:x1:rd2:id" + id20 + "e1:t1:a1:y1:re",
	"d1:q13:announce_peer1:t2:aa1:y1:qe",
	// missing or mistyped arguments
	"d1:q4:ping1:t2:aa1:y1:qe",
	"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe",
	"d1:ad2:id" + id20 + "e1:q9:find_node1:t2:aa1:y1:qe",
	"d1:ad2:id" + id20 + "9:info_hash" + id20 + "5:token2:abe1:q13:announce_peer1:t2:aa1:y1:qe",
	"d1:ad2:id" + id20 + "9:info_hash" + id20 + "4:porti70000e5:token2:abe1:q13:announce_peer1:t2:aa1:y1:qe",
	"d1:ad2:id" + id20 + "4:wanti4ee1:q4:ping1:t2:aa1:y1:qe",
	"d1:rd2:id" + id20 + "5:nodes25:" + strings.Repeat("n", 25) + "e1:t2:aa1:y1:re",
	"d1:rle1:t2:aa1:y1:re",
	"d1:eli201ee1:t2:aa1:y1:ee",
	// unserved methods, BEP 44, unknown types
	"d1:ad2:id" + id20 + "6:target" + id20 + "e1:q3:get1:t2:aa1:y1:qe",
	"d1:ad2:id" + id20 + "1:vi1ee1:q4:ping1:t2:aa1:y1:qe",
	"d1:t2:aa1:y1:xe",
	// trailing bytes, duplicate keys, too deep
	"d1:ad2:id" + id20 + "e1:q4:ping1:t2:aa1:y1:qeX",
	"d1:t2:aa1:t2:bb1:y1:ee",
	"d1:xllllllllllleeeeeeeeeee1:t2:aa1:y1:e1:e3:abce",
}

func TestCheckKRPC(t *testing.T) {
	for _, s := range validKRPC {
		if err := checkKRPC([]byte(s)); err != nil {
			t.Errorf("%q: %v", s, err)
		}
		var m krpc.Msg
		if err := abencode.Unmarshal([]byte(s), &m); err != nil {
			t.Errorf("%q passes, but the library fails on it: %v", s, err)
		}
	}
	for _, s := range invalidKRPC {
		if err := checkKRPC([]byte(s)); !errors.Is(err, errBadKRPC) {
			t.Errorf("%q: %v, want errBadKRPC", s, err)
		}
	}
	if err := checkKRPC([]byte("d1:t2:aa1:y1:e1:e" + "3000:" + strings.Repeat("x", 3000) + "e")); err == nil {
		t.Error("oversized datagram accepted")
	}
}

// TestLibraryPanicsWithoutGuard records why the guard exists: the library's
// decoder panics on a short peer value. If this starts failing after an
// upgrade, the bug is fixed upstream (the guard stays: it is strict anyway).
func TestLibraryPanicsWithoutGuard(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("the library decoded a 1-byte peer value without panicking: fixed upstream?")
		}
	}()
	var m krpc.Msg
	abencode.Unmarshal([]byte("d1:rd2:id"+id20+"6:valuesl1:xee1:t1:a1:y1:re"), &m)
}

// FuzzCheckKRPC: whatever the guard passes, the library decodes without an
// error (which it would log) or a panic (which would end the process), into
// a message whose sender ID it can read.
func FuzzCheckKRPC(f *testing.F) {
	for _, s := range append(validKRPC, invalidKRPC...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkKRPC(b) != nil {
			return
		}
		var m krpc.Msg
		if err := abencode.Unmarshal(b, &m); err != nil {
			t.Fatalf("%q passes the guard, but the library fails on it: %v", b, err)
		}
		if (m.Y == "q" || m.Y == "r") && m.SenderID() == nil {
			t.Fatalf("%q passes the guard without a sender ID", b)
		}
		if m.Y == "q" && m.A == nil {
			t.Fatalf("%q: a query without arguments passes", b)
		}
	})
}

// TestHostileDatagrams sends a live node what would crash the library and
// other garbage: the node drops them all and still answers a ping.
func TestHostileDatagrams(t *testing.T) {
	n := openNode(t, testConfig())
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to := net.UDPAddrFromAddrPort(n.Addr())
	for _, s := range invalidKRPC {
		if _, err := c.WriteToUDP([]byte(s), to); err != nil && s != "" {
			t.Fatal(err)
		}
	}
	if _, err := c.WriteToUDP([]byte(validKRPC[0]), to); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	for {
		k, _, err := c.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("no answer to the ping: %v", err)
		}
		var m krpc.Msg
		err = abencode.Unmarshal(buf[:k], &m)
		if err == nil && m.Y == "q" {
			continue // the node asking the new node it heard of (find_node): not the answer
		}
		if err != nil || m.Y != "r" || m.T != "aa" || m.R == nil || m.R.ID != n.ID() {
			t.Fatalf("ping answered with %q (%v)", buf[:k], err)
		}
		break
	}
	eventually(t, 5*time.Second, func() bool { return n.Stats().Dropped == int64(len(invalidKRPC)) },
		func() string { return fmt.Sprintf("dropped %d of %d", n.Stats().Dropped, len(invalidKRPC)) })
}
