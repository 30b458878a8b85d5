package tracker

// torrent holds one torrent's peers. Its lists are split by address family
// and role so that counting seeders and leechers is free and a reply can be
// drawn from exactly the lists it may contain; removal swaps the last peer
// of a list into the hole.
//
// A small torrent finds a peer by scanning its lists; from indexMin peers
// on, index maps each peer to its slot, so that updates stay O(1). Most
// torrents on a tracker are small, and for them the scan is the cheaper:
// the lists are read anyway to pick the reply, whereas a map is memory of
// its own that an announce for a torrent gone cold in the cache has to
// fetch (under load the map lookup took a quarter of an announce).
//
// A torrent is guarded by its shard's mutex.
type torrent struct {
	lists      [2][2][]peer      // [family][role]
	index      map[endpoint]slot // nil while the torrent is small
	n          int               // peers in lists
	downloaded int64             // completed events counted (scrape's "downloaded")
	// owner is the source address that created the torrent; owned says
	// that every peer stored since came from it too, and is counted in
	// owner's sources entry (see swarm.create). A peer from anywhere else
	// clears it for good.
	owner sourceKey
	owned bool
	seen  int64 // unix ns of the torrent's last announce, for eviction
}

// indexMin is the size from which a torrent keeps an index. It is dropped
// again below indexMin/2, so that a torrent hovering around the threshold
// does not rebuild it over and over.
const indexMin = 32

// peer is one stored announce: 48 bytes.
type peer struct {
	ep   endpoint
	id   [20]byte
	seen int64 // unix ns of the last announce
}

// slot is where a peer sits in torrent.lists.
type slot struct {
	fam, role uint8
	i         int32
}

// Roles, as indexes of torrent.lists.
const (
	leecher = 0
	seeder  = 1
)

func roleOf(isSeeder bool) uint8 {
	if isSeeder {
		return seeder
	}
	return leecher
}

func newTorrent() *torrent { return &torrent{} }

// find returns where the peer at ep sits.
func (t *torrent) find(ep endpoint) (slot, bool) {
	if t.index != nil {
		s, ok := t.index[ep]
		return s, ok
	}
	fam := uint8(ep.family())
	for role := range uint8(2) {
		l := t.lists[fam][role]
		for i := range l {
			if l[i].ep == ep {
				return slot{fam: fam, role: role, i: int32(i)}, true
			}
		}
	}
	return slot{}, false
}

func (t *torrent) count(role uint8) int {
	return len(t.lists[fam4][role]) + len(t.lists[fam6][role])
}

// result returns the counts for a reply; t may be nil (an unknown torrent).
func (t *torrent) result(dst []peer) swarmResult {
	if t == nil {
		return swarmResult{peers: dst}
	}
	return swarmResult{seeders: t.count(seeder), leechers: t.count(leecher), peers: dst}
}

func (t *torrent) insert(p peer, role uint8) {
	fam := uint8(p.ep.family())
	l := &t.lists[fam][role]
	if t.index != nil {
		t.index[p.ep] = slot{fam: fam, role: role, i: int32(len(*l))}
	}
	*l = append(*l, p)
	t.n++
	if t.index == nil && t.n >= indexMin {
		t.index = make(map[endpoint]slot, t.n)
		for fam := range t.lists {
			for role := range t.lists[fam] {
				for i, p := range t.lists[fam][role] {
					t.index[p.ep] = slot{fam: uint8(fam), role: uint8(role), i: int32(i)}
				}
			}
		}
	}
}

// update refreshes the peer at s, moving it to the other list if its role
// changed (a leecher that finished).
func (t *torrent) update(s slot, p peer, role uint8) {
	if s.role == role {
		t.lists[s.fam][s.role][s.i] = p
		return
	}
	t.removeAt(s)
	t.insert(p, role)
}

// remove drops the peer at ep and reports whether there was one.
func (t *torrent) remove(ep endpoint) bool {
	s, ok := t.find(ep)
	if !ok {
		return false
	}
	t.removeAt(s)
	return true
}

func (t *torrent) removeAt(s slot) {
	l := &t.lists[s.fam][s.role]
	if t.index != nil {
		delete(t.index, (*l)[s.i].ep)
	}
	last := len(*l) - 1
	if int(s.i) != last {
		(*l)[s.i] = (*l)[last]
		if t.index != nil {
			t.index[(*l)[s.i].ep] = s
		}
	}
	(*l)[last] = peer{}
	*l = (*l)[:last]
	t.n--
	if t.index != nil && t.n < indexMin/2 {
		t.index = nil
	}
}

// expire drops the peers last seen before cutoff and returns how many.
func (t *torrent) expire(cutoff int64) int {
	n := 0
	for fam := range t.lists {
		for role := range t.lists[fam] {
			l := &t.lists[fam][role]
			for i := 0; i < len(*l); {
				if (*l)[i].seen >= cutoff {
					i++
					continue
				}
				t.removeAt(slot{fam: uint8(fam), role: uint8(role), i: int32(i)})
				n++ // the last peer moved into i: look at i again
			}
		}
	}
	return n
}
