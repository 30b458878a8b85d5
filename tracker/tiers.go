package tracker

// tiers is a BEP 12 announce-list as the Announcer walks it: tiers in order,
// each tier's trackers in an order shuffled once, and a tracker that answers
// moved to the front of its tier so that it is asked first next time.
//
// Pure data, no locks: the Announcer's Run goroutine owns it.
type tiers [][]string

// newTiers copies lists, dropping empty URLs, repeated URLs and empty tiers,
// and shuffles each tier with shuffle (rand.Shuffle's signature).
func newTiers(lists [][]string, shuffle func(n int, swap func(i, j int))) tiers {
	seen := make(map[string]bool)
	var t tiers
	for _, list := range lists {
		var tier []string
		for _, u := range list {
			if u != "" && !seen[u] {
				seen[u] = true
				tier = append(tier, u)
			}
		}
		if len(tier) == 0 {
			continue
		}
		shuffle(len(tier), func(i, j int) { tier[i], tier[j] = tier[j], tier[i] })
		t = append(t, tier)
	}
	return t
}

// promote moves tracker i of tier to the front of that tier.
func (t tiers) promote(tier, i int) {
	u := t[tier][i]
	copy(t[tier][1:i+1], t[tier][:i])
	t[tier][0] = u
}
