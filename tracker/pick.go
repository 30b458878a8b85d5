package tracker

import "math/rand/v2"

// pick appends to dst up to a.numWant peers for the announcing peer:
//
//   - a seeder gets leechers first (another seeder has nothing for it),
//     then seeders if numWant leaves room: a client that does not know yet
//     what it lacks (aria2c fetching a magnet's metadata) says left=0 too,
//     and it needs peers all the same;
//   - anyone else gets a mix of seeders and leechers in the proportions the
//     swarm has them;
//   - only the address families a.fams allows;
//   - never the announcing peer itself (same endpoint or same peer id).
//
// The peers are a random walk over the candidate lists, seen as one array:
// a random start and a random stride coprime with the length visit every
// entry once, in an order that changes with each call. It is O(numWant) and
// needs neither scratch memory nor a shuffle of the stored lists.
func (t *torrent) pick(dst []peer, a *swarmAnnounce) []peer {
	if !a.seeder {
		return t.pickFrom(dst, a, a.numWant, leecher, seeder)
	}
	n := len(dst)
	dst = t.pickFrom(dst, a, a.numWant, leecher)
	return t.pickFrom(dst, a, a.numWant-(len(dst)-n), seeder)
}

// pickFrom appends up to want peers of the given roles, in the families
// a.fams allows, never a itself.
func (t *torrent) pickFrom(dst []peer, a *swarmAnnounce, want int, roles ...uint8) []peer {
	var pools [4][]peer
	np, n := 0, 0
	for fam := range 2 {
		if a.fams&(1<<fam) == 0 {
			continue
		}
		for _, role := range roles {
			if l := t.lists[fam][role]; len(l) > 0 {
				pools[np] = l
				np++
				n += len(l)
			}
		}
	}
	if want <= 0 || n == 0 {
		return dst
	}
	i, stride := rand.IntN(n), coprimeStride(n)
	for range n {
		p := at(&pools, i)
		if p.ep != a.ep && p.id != a.peerID {
			dst = append(dst, *p)
			if want--; want == 0 {
				break
			}
		}
		if i += stride; i >= n {
			i -= n
		}
	}
	return dst
}

// at returns the i-th peer of the pools taken as one array.
func at(pools *[4][]peer, i int) *peer {
	for k := range pools {
		if i < len(pools[k]) {
			return &pools[k][i]
		}
		i -= len(pools[k])
	}
	panic("tracker: pick index out of range")
}

// coprimeStride returns a random step in [1, n) sharing no factor with n, so
// that stepping by it modulo n visits every index; 1 after a few misses.
func coprimeStride(n int) int {
	if n <= 2 {
		return 1
	}
	for range 4 {
		if s := 1 + rand.IntN(n-1); gcd(s, n) == 1 {
			return s
		}
	}
	return 1
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
