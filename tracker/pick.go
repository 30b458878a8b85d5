package tracker

import "math/rand/v2"

// pick appends to dst up to a.numWant peers for the announcing peer:
//
//   - a seeder gets leechers only (another seeder has nothing for it);
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
	var pools [4][]peer
	np, n := 0, 0
	for fam := range 2 {
		if a.fams&(1<<fam) == 0 {
			continue
		}
		for role := range 2 {
			if role == seeder && a.seeder {
				continue
			}
			if l := t.lists[fam][role]; len(l) > 0 {
				pools[np] = l
				np++
				n += len(l)
			}
		}
	}
	want := a.numWant
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
