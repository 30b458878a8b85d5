package tracker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/btfs/btfs/metainfo"
)

// ErrScrapeUnsupported is returned by Scrape for an HTTP announce URL whose
// last path segment does not start with "announce": BEP 48 derives the
// scrape URL from it, and there is none to derive.
var ErrScrapeUnsupported = errors.New("tracker: scrape not supported by this tracker URL")

// ClientOptions configure a Client. Zero fields take the defaults named.
type ClientOptions struct {
	// HTTPClient makes HTTP requests (one without keep-alives: announces are
	// minutes apart, so idle connections would only hold goroutines).
	HTTPClient *http.Client
	// UDPTimeout is the first BEP 15 retransmission timeout (15 s); it
	// doubles after each try. UDPRetries is how many times a request is
	// sent again before giving up (8). The context can always end it sooner.
	UDPTimeout time.Duration
	UDPRetries int
	// Logger gets retransmissions at Debug; nil discards.
	Logger *slog.Logger
}

// Client announces to and scrapes trackers over HTTP(S) and UDP. It caches
// UDP connection ids; it is safe for concurrent use.
type Client struct {
	http       *http.Client
	udpTimeout time.Duration
	udpRetries int
	log        *slog.Logger
	now        func() time.Time // tests move the clock

	mu      sync.Mutex
	connIDs map[string]cachedConnID // by tracker host:port; guarded by mu
}

type cachedConnID struct {
	id      uint64
	expires time.Time
}

// NewClient returns a Client.
func NewClient(opts ClientOptions) *Client {
	c := &Client{
		http:       opts.HTTPClient,
		udpTimeout: opts.UDPTimeout,
		udpRetries: opts.UDPRetries,
		log:        opts.Logger,
		now:        time.Now,
		connIDs:    make(map[string]cachedConnID),
	}
	if c.http == nil {
		c.http = &http.Client{Transport: &http.Transport{
			Proxy:             http.ProxyFromEnvironment,
			DisableKeepAlives: true,
		}}
	}
	if c.udpTimeout <= 0 {
		c.udpTimeout = defaultUDPTimeout
	}
	if c.udpRetries <= 0 {
		c.udpRetries = defaultUDPRetries
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Announce sends one announce with a fresh Client. Use a Client to keep UDP
// connection ids between announces.
func Announce(ctx context.Context, trackerURL string, req AnnounceRequest) (AnnounceResponse, error) {
	return NewClient(ClientOptions{}).Announce(ctx, trackerURL, req)
}

// Scrape scrapes with a fresh Client; see Client.Scrape.
func Scrape(ctx context.Context, trackerURL string, hashes []metainfo.Hash) (map[metainfo.Hash]ScrapeStats, error) {
	return NewClient(ClientOptions{}).Scrape(ctx, trackerURL, hashes)
}

// Announce sends req to the tracker at trackerURL (http, https or udp). A
// tracker's refusal is a *FailureError inside the returned error.
func (c *Client) Announce(ctx context.Context, trackerURL string, req AnnounceRequest) (AnnounceResponse, error) {
	u, err := url.Parse(trackerURL)
	if err != nil {
		return AnnounceResponse{}, fmt.Errorf("tracker: announce: %w", err)
	}
	if req.Event == EventStopped {
		req.NumWant = 0 // a leaving peer needs no peers; say so explicitly
	}
	var resp AnnounceResponse
	switch u.Scheme {
	case "http", "https":
		resp, err = c.announceHTTP(ctx, u, &req)
	case "udp":
		resp, err = c.announceUDP(ctx, u, &req)
	default:
		err = fmt.Errorf("unsupported scheme %q", u.Scheme)
	}
	if err != nil {
		return AnnounceResponse{}, fmt.Errorf("tracker: announce %s: %w", safeURL(u), err)
	}
	return resp, nil
}

// Scrape asks the tracker for the counts of hashes (at most 74 for UDP).
// Torrents the tracker does not report are missing from the map.
func (c *Client) Scrape(ctx context.Context, trackerURL string, hashes []metainfo.Hash) (map[metainfo.Hash]ScrapeStats, error) {
	u, err := url.Parse(trackerURL)
	if err != nil {
		return nil, fmt.Errorf("tracker: scrape: %w", err)
	}
	var res map[metainfo.Hash]ScrapeStats
	switch u.Scheme {
	case "http", "https":
		res, err = c.scrapeHTTP(ctx, u, hashes)
	case "udp":
		res, err = c.scrapeUDP(ctx, u, hashes)
	default:
		err = fmt.Errorf("unsupported scheme %q", u.Scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("tracker: scrape %s: %w", safeURL(u), err)
	}
	return res, nil
}

// safeURL is the URL for messages: without its query and credentials, where
// private trackers put passkeys.
func safeURL(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}
