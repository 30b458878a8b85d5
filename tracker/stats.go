package tracker

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// statsMaxAge is how stale /stats may be. Summing the counts walks every
// torrent, and the endpoint is open to anyone: recomputing at most once a
// second keeps it from being a way to keep the shard locks busy.
const statsMaxAge = time.Second

// Stats are the tracker's counts, for operators.
type Stats struct {
	Torrents  int    `json:"torrents"`
	Seeders   int    `json:"seeders"`
	Leechers  int    `json:"leechers"`
	Announces uint64 `json:"announces"` // answered, refusals not included
	// Of Announces, those answered over HTTP and UDP (BEP 15).
	HTTPAnnounces uint64 `json:"http_announces"`
	UDPAnnounces  uint64 `json:"udp_announces"`
	Scrapes       uint64 `json:"scrapes"`
	Errors        uint64 `json:"errors"` // requests refused
	UDPConnects   uint64 `json:"udp_connects"`
	// Of Errors, announces over their address's rate; and torrents
	// evicted to make room for new ones (see evict.go).
	Throttled uint64 `json:"throttled"`
	Evicted   uint64 `json:"evicted"`
}

type statsCache struct {
	mu    sync.Mutex // also makes concurrent /stats requests wait for one sum
	at    time.Time
	stats Stats
}

// Stats returns the current counts. Announces, scrapes, errors and connects
// count since the Server was made.
func (s *Server) Stats() Stats {
	st := Stats{Scrapes: s.scrapes.Load(), Errors: s.refusals.Load(), UDPConnects: s.udpConnects.Load(),
		HTTPAnnounces: s.httpAnnounces.Load(), UDPAnnounces: s.udpAnnounces.Load(),
		Throttled: s.throttled.Load(), Evicted: s.swarm.evicted.Load()}
	st.Torrents, st.Seeders, st.Leechers, st.Announces = s.swarm.totals(s.opts.Now().UnixNano())
	return st
}

// serveStats answers /stats with the counts as JSON, at most statsMaxAge old.
func (s *Server) serveStats(w http.ResponseWriter) {
	c := &s.statsCache
	c.mu.Lock()
	if now := s.opts.Now(); c.at.IsZero() || now.Sub(c.at) >= statsMaxAge || now.Before(c.at) {
		c.stats, c.at = s.Stats(), now
	}
	st := c.stats
	c.mu.Unlock()
	b, err := json.Marshal(st)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}
