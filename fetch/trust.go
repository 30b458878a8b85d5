package fetch

import "net/netip"

// Trust: who is to blame for a piece that fails its hash check. The policy
// is libtorrent's, kept per IP address (not address and port), so that a
// peer cannot shed its record by reconnecting from another port:
//
//  1. A peer starts with 0 trust points. A piece that passes its check gives
//     each address that sent blocks of it trustGood points, up to trustMax.
//  2. A piece that fails costs each address that sent blocks of it trustBad
//     points, down to trustBan; an address at trustBan is banned.
//  3. A failed piece whose every block came from one address bans that
//     address at once: the evidence is unambiguous.
//  4. A failed piece with several senders puts each of them on parole: it is
//     then given only whole pieces of its own (picker rule 7), so that its
//     next failure falls under rule 3. A piece of its own that passes ends
//     its parole.
//  5. If a sender of a failed piece is already banned (its blocks were on
//     their way when it was found out), it takes the blame alone.
//  6. Smart ban (smartban.go): once a piece that failed passes, a sender
//     whose earlier block differs from the good one is banned, and each
//     sender whose blocks all matched gets the trustBad points back.
//  7. Blocks we never asked for count against the sender's address; past
//     maxUnrequested of them it is banned.
//
// The table is pure bookkeeping: the engine (judge.go) applies its
// answers. It is owned by the loop.
const (
	// trustGood and trustBad: a failure costs twice what a success earns,
	// so that a peer that fails one piece in three at best holds its
	// ground, and one that fails more sinks to a ban.
	trustGood = 1
	trustBad  = 2
	// trustMax bounds what a long good record buys: at most four failures
	// more before a ban (libtorrent's cap).
	trustMax = 8
	// trustBan is where a peer is banned: four failures in a row from a
	// fresh start (libtorrent's -7).
	trustBan = -7
	// maxUnrequested is how many blocks an address may send that we did
	// not ask for (blocks cancelled or asked before a choke are forgiven)
	// before it is banned: a few from a confused client, a flood is an
	// attack on our memory and bandwidth.
	maxUnrequested = 64
	// maxTrustRecords bounds the table: one record per address that ever
	// sent a block of a checked piece. Past it, a record that holds nothing
	// of note (no parole, no debt) makes room.
	maxTrustRecords = 4096
)

// trustRecord is what we know of one address.
type trustRecord struct {
	points      int
	parole      bool
	unrequested int
}

// trustTable holds the records by address.
type trustTable struct {
	recs map[netip.Addr]*trustRecord
}

func newTrustTable() trustTable { return trustTable{recs: map[netip.Addr]*trustRecord{}} }

// get returns ip's record, creating it (and making room for it).
func (tt *trustTable) get(ip netip.Addr) *trustRecord {
	if r := tt.recs[ip]; r != nil {
		return r
	}
	if len(tt.recs) >= maxTrustRecords {
		tt.evict()
	}
	r := &trustRecord{}
	tt.recs[ip] = r
	return r
}

// evict drops one record, a plain one if there is one.
func (tt *trustTable) evict() {
	var any netip.Addr
	for ip, r := range tt.recs {
		if !r.parole && r.points >= 0 && r.unrequested == 0 {
			delete(tt.recs, ip)
			return
		}
		any = ip
	}
	delete(tt.recs, any)
}

// onParole reports whether ip is on parole.
func (tt *trustTable) onParole(ip netip.Addr) bool {
	r := tt.recs[ip]
	return r != nil && r.parole
}

// forget drops ip's record (it was banned: the ban says it all).
func (tt *trustTable) forget(ip netip.Addr) { delete(tt.recs, ip) }

// passed records a piece that passed, sent by the distinct addresses
// senders (rule 1), and returns those whose parole it ends (rule 4).
func (tt *trustTable) passed(senders []netip.Addr) (cleared []netip.Addr) {
	for _, ip := range senders {
		r := tt.get(ip)
		r.points = min(r.points+trustGood, trustMax)
		if r.parole && len(senders) == 1 {
			r.parole = false
			cleared = append(cleared, ip)
		}
	}
	return cleared
}

// failed records a piece that failed, sent by the distinct addresses
// senders, and returns the addresses to ban and those newly on parole
// (rules 2-5). banned says which addresses are banned already.
func (tt *trustTable) failed(senders []netip.Addr, banned func(netip.Addr) bool) (ban, parole []netip.Addr) {
	for _, ip := range senders {
		if banned(ip) {
			return nil, nil // rule 5
		}
	}
	if len(senders) == 1 {
		return senders, nil // rule 3
	}
	for _, ip := range senders {
		r := tt.get(ip)
		r.points = max(r.points-trustBad, trustBan)
		switch {
		case r.points <= trustBan:
			ban = append(ban, ip)
		case !r.parole:
			r.parole = true
			parole = append(parole, ip)
		}
	}
	return ban, parole
}

// cleared gives back what a failure cost ip, when smart ban finds that its
// blocks were good (rule 6).
func (tt *trustTable) cleared(ip netip.Addr) {
	r := tt.get(ip)
	r.points = min(r.points+trustBad, trustMax)
}

// unrequested counts a block ip sent that we did not ask for, and reports
// whether ip has now sent too many (rule 7).
func (tt *trustTable) unrequested(ip netip.Addr) (ban bool) {
	r := tt.get(ip)
	r.unrequested++
	return r.unrequested > maxUnrequested
}
