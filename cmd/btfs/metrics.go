package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/btfs/btfs/cache"
	"github.com/btfs/btfs/fetch"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/session"
	"github.com/btfs/btfs/tracker"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/urfave/cli/v2"
)

// Prometheus metrics. The packages keep plain counters and snapshots; the
// collectors here read them when Prometheus scrapes, so nothing on a hot
// path pushes to Prometheus except the read-latency histogram, which the
// fs layer feeds through its OnRead hook. Each process has a registry of its
// own.

func metricsFlag() cli.Flag {
	return &cli.StringFlag{Name: "metrics", Usage: "serve Prometheus metrics at http://`ADDR`/metrics (e.g. 127.0.0.1:9100)"}
}

// newRegistry returns a registry with the Go runtime's and the process's
// metrics.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// metricsServer serves a registry over HTTP.
type metricsServer struct {
	reg       *prometheus.Registry
	srv       *http.Server
	done      chan struct{} // closed when Serve has returned
	closeOnce sync.Once
}

// startMetrics listens on addr at once (a busy port fails the command before
// it does anything slow) and serves reg at /metrics until Close.
func startMetrics(addr string, reg *prometheus.Registry, log *slog.Logger) (*metricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	ms := &metricsServer{
		reg:  reg,
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		done: make(chan struct{}),
	}
	go func() {
		defer close(ms.done)
		if err := ms.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return ms, nil
}

// Close stops the server and waits for it. A nil server is fine, and so
// is a second Close (commands close it before what its collectors read).
func (ms *metricsServer) Close() {
	if ms == nil {
		return
	}
	ms.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if ms.srv.Shutdown(ctx) != nil {
			ms.srv.Close()
		}
		<-ms.done
	})
}

// Register adds collectors; on a nil server (no --metrics) it does nothing.
func (ms *metricsServer) Register(cs ...prometheus.Collector) {
	if ms != nil {
		ms.reg.MustRegister(cs...)
	}
}

// maybeStartMetrics starts the --metrics server if the flag is set, before
// any slow work, so that a busy port is reported at once; the commands
// register their collectors when they have them. Without the flag the
// server is nil (and its methods do nothing).
func maybeStartMetrics(c *cli.Context, log *slog.Logger) (*metricsServer, error) {
	addr := c.String("metrics")
	if addr == "" {
		return nil, nil
	}
	return startMetrics(addr, newRegistry(), log)
}

// statsTimeout bounds how long a scrape waits for a torrent's loop.
const statsTimeout = 2 * time.Second

// metricTorrent is a torrent a torrentCollector reports on.
type metricTorrent struct {
	t  *fetch.Torrent
	mi *metainfo.MetaInfo
}

// sessionTorrents lists the active torrents of a session for a
// torrentCollector (a parked torrent has no engine to report).
func sessionTorrents(s *session.Session) func() []metricTorrent {
	return func() []metricTorrent {
		var out []metricTorrent
		for _, t := range s.Torrents() {
			if e, mi := t.Engine(), t.MetaInfo(); e != nil && mi != nil {
				out = append(out, metricTorrent{e, mi})
			}
		}
		return out
	}
}

// torrentCollector reports the engines' Stats, labelled by torrent.
type torrentCollector struct {
	torrents func() []metricTorrent // read at each scrape: torrents come and go

	downloaded, uploaded, verified, failed *prometheus.Desc
	hits, misses, peers, seeders           *prometheus.Desc
	pieces, have, announces                *prometheus.Desc
	transports                             *prometheus.Desc
}

func newTorrentCollector(torrents func() []metricTorrent) *torrentCollector {
	labels := []string{"info_hash", "name"}
	d := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, append(labels, extra...), nil)
	}
	return &torrentCollector{
		torrents:   torrents,
		downloaded: d("btfs_downloaded_bytes_total", "Bytes of blocks received from peers that we asked for."),
		uploaded:   d("btfs_uploaded_bytes_total", "Bytes of blocks sent to peers."),
		verified:   d("btfs_pieces_verified_total", "Pieces downloaded that passed their SHA-1 check."),
		failed:     d("btfs_pieces_failed_total", "Pieces downloaded that failed their SHA-1 check."),
		hits:       d("btfs_cache_hits_total", "Piece reads served from storage without waiting for the network."),
		misses:     d("btfs_cache_misses_total", "Piece reads that waited for the piece to arrive from the swarm."),
		peers:      d("btfs_peers", "Connected peers."),
		seeders:    d("btfs_peers_seeders", "Connected peers that have every piece."),
		pieces:     d("btfs_pieces", "Pieces in the torrent."),
		have:       d("btfs_pieces_have", "Pieces held, verified."),
		transports: d("btfs_peers_transport", "Connected peers, by transport (tcp, utp) and encryption (rc4, plain).", "transport", "encryption"),
		announces:  d("btfs_announces_sent_total", "Announce rounds sent to the trackers, by result (ok: a tracker answered, failed: none did).", "result"),
	}
}

func (tc *torrentCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{tc.downloaded, tc.uploaded, tc.verified, tc.failed, tc.hits, tc.misses,
		tc.peers, tc.seeders, tc.pieces, tc.have, tc.announces, tc.transports} {
		ch <- d
	}
}

func (tc *torrentCollector) Collect(ch chan<- prometheus.Metric) {
	for _, mt := range tc.torrents() {
		ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
		s, err := mt.t.Stats(ctx)
		cancel()
		if err != nil {
			continue // stopping, or stuck: this scrape goes without it
		}
		lv := []string{mt.mi.InfoHash.String(), mt.mi.Info.Name}
		metric := func(d *prometheus.Desc, vt prometheus.ValueType, v float64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, vt, v, append(lv, extra...)...)
		}
		metric(tc.downloaded, prometheus.CounterValue, float64(s.Downloaded))
		metric(tc.uploaded, prometheus.CounterValue, float64(s.Uploaded))
		metric(tc.verified, prometheus.CounterValue, float64(s.Verified))
		metric(tc.failed, prometheus.CounterValue, float64(s.Failed))
		metric(tc.hits, prometheus.CounterValue, float64(s.CacheHits))
		metric(tc.misses, prometheus.CounterValue, float64(s.CacheMisses))
		metric(tc.peers, prometheus.GaugeValue, float64(s.Peers))
		metric(tc.seeders, prometheus.GaugeValue, float64(s.Seeders))
		metric(tc.pieces, prometheus.GaugeValue, float64(s.Pieces))
		metric(tc.have, prometheus.GaugeValue, float64(s.Have))
		byTransport := map[[2]string]int{{"tcp", "plain"}: 0, {"tcp", "rc4"}: 0, {"utp", "plain"}: 0, {"utp", "rc4"}: 0}
		for _, pc := range s.PeerConns {
			enc := "plain"
			if pc.Encrypted {
				enc = "rc4"
			}
			byTransport[[2]string{pc.Transport, enc}]++
		}
		for k, n := range byTransport {
			metric(tc.transports, prometheus.GaugeValue, float64(n), k[0], k[1])
		}
		if s.Announcing {
			metric(tc.announces, prometheus.CounterValue, float64(s.Tracker.Announced), "ok")
			metric(tc.announces, prometheus.CounterValue, float64(s.Tracker.Failed), "failed")
		}
	}
}

// readDurationBuckets span a read served from the page cache or the piece
// cache (~100 µs) to one waiting half a minute for a slow swarm.
var readDurationBuckets = prometheus.ExponentialBuckets(100e-6, 4, 10)

// newReadHistogram is btfs_read_duration_seconds, fed by fs.Options.OnRead.
func newReadHistogram() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "btfs_read_duration_seconds",
		Help:    "Time from a FUSE read request to its reply, failed reads included.",
		Buckets: readDurationBuckets,
	})
}

// cacheCollector reports a piece cache's size, measured once per scrape.
type cacheCollector struct {
	c                 *cache.Cache
	live, disk, bound *prometheus.Desc
}

func newCacheCollector(c *cache.Cache) *cacheCollector {
	return &cacheCollector{
		c:     c,
		live:  prometheus.NewDesc("btfs_cache_bytes", "Bytes of pieces in the piece cache.", nil, nil),
		disk:  prometheus.NewDesc("btfs_cache_disk_bytes", "The piece cache directory's size on disk.", nil, nil),
		bound: prometheus.NewDesc("btfs_cache_bound_bytes", "The bound on the piece cache's size on disk (--cache-size).", nil, nil),
	}
}

func (cc *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- cc.live
	ch <- cc.disk
	ch <- cc.bound
}

func (cc *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	u := cc.c.Usage()
	ch <- prometheus.MustNewConstMetric(cc.live, prometheus.GaugeValue, float64(u.Live))
	ch <- prometheus.MustNewConstMetric(cc.disk, prometheus.GaugeValue, float64(u.Disk))
	ch <- prometheus.MustNewConstMetric(cc.bound, prometheus.GaugeValue, float64(u.MaxSize))
}

// trackerCollector reports a tracker server's counts.
type trackerCollector struct {
	srv                               *tracker.Server
	announces, scrapes, errs, torrent *prometheus.Desc
	throttled, evicted                *prometheus.Desc
	peers                             *prometheus.Desc
}

func newTrackerCollector(srv *tracker.Server) *trackerCollector {
	return &trackerCollector{
		srv:       srv,
		announces: prometheus.NewDesc("btfs_tracker_announces_total", "Announces answered, by protocol.", []string{"protocol"}, nil),
		scrapes:   prometheus.NewDesc("btfs_tracker_scrapes_total", "Scrapes answered.", nil, nil),
		errs:      prometheus.NewDesc("btfs_tracker_refused_total", "Requests refused (malformed, not allowed, over a limit).", nil, nil),
		throttled: prometheus.NewDesc("btfs_tracker_throttled_total", "Announces refused for their address's rate (of refused).", nil, nil),
		evicted:   prometheus.NewDesc("btfs_tracker_evicted_total", "Torrents evicted to admit new ones when the table was full.", nil, nil),
		torrent:   prometheus.NewDesc("btfs_tracker_torrents", "Torrents with peers.", nil, nil),
		peers:     prometheus.NewDesc("btfs_tracker_peers", "Peers known, by role.", []string{"role"}, nil),
	}
}

func (tc *trackerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{tc.announces, tc.scrapes, tc.errs, tc.throttled, tc.evicted, tc.torrent, tc.peers} {
		ch <- d
	}
}

// Collect sums the tracker's counts once per scrape (Stats walks every torrent).
func (tc *trackerCollector) Collect(ch chan<- prometheus.Metric) {
	s := tc.srv.Stats()
	ch <- prometheus.MustNewConstMetric(tc.announces, prometheus.CounterValue, float64(s.HTTPAnnounces), "http")
	ch <- prometheus.MustNewConstMetric(tc.announces, prometheus.CounterValue, float64(s.UDPAnnounces), "udp")
	ch <- prometheus.MustNewConstMetric(tc.scrapes, prometheus.CounterValue, float64(s.Scrapes))
	ch <- prometheus.MustNewConstMetric(tc.errs, prometheus.CounterValue, float64(s.Errors))
	ch <- prometheus.MustNewConstMetric(tc.throttled, prometheus.CounterValue, float64(s.Throttled))
	ch <- prometheus.MustNewConstMetric(tc.evicted, prometheus.CounterValue, float64(s.Evicted))
	ch <- prometheus.MustNewConstMetric(tc.torrent, prometheus.GaugeValue, float64(s.Torrents))
	ch <- prometheus.MustNewConstMetric(tc.peers, prometheus.GaugeValue, float64(s.Seeders), "seeder")
	ch <- prometheus.MustNewConstMetric(tc.peers, prometheus.GaugeValue, float64(s.Leechers), "leecher")
}
