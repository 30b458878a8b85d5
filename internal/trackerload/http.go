package trackerload

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"
)

// httpAnnouncer speaks just enough HTTP/1.1 for announces, by hand: the
// generator shares the machine with the tracker it measures, so it must
// spend far less per request than the server does, and net/http's client
// would cost about as much as the server under test.
type httpAnnouncer struct {
	addr       string
	keepAlive  bool
	lane       net.Addr // source address of the keep-alive connection
	timeout    time.Duration
	reconnects *uint64

	conn net.Conn
	r    *bufio.Reader
	req  []byte
	body []byte
}

func newHTTPAnnouncer(cfg *Config, lane netip.Addr, reconnects *uint64) *httpAnnouncer {
	return &httpAnnouncer{
		addr:       cfg.Addr,
		keepAlive:  cfg.Mode == HTTP,
		lane:       &net.TCPAddr{IP: lane.AsSlice()},
		timeout:    cfg.Timeout,
		reconnects: reconnects,
		req:        make([]byte, 0, 512),
		body:       make([]byte, 4096),
	}
}

func (h *httpAnnouncer) close() {
	if h.conn != nil {
		h.conn.Close()
		h.conn = nil
	}
}

func (h *httpAnnouncer) dial(src net.Addr) error {
	d := net.Dialer{LocalAddr: src, Timeout: h.timeout}
	c, err := d.Dial("tcp", h.addr)
	if err != nil {
		return err
	}
	h.conn = c
	if h.r == nil {
		h.r = bufio.NewReaderSize(c, 4096)
	} else {
		h.r.Reset(c)
	}
	return nil
}

func (h *httpAnnouncer) announce(p *peer, event uint32) error {
	h.req = appendRequest(h.req[:0], h.addr, p, event, h.keepAlive)
	reused := h.conn != nil
	serverCloses, err := h.roundTrip(p)
	if reused && errors.Is(err, errIdleClosed) {
		// The server closed the idle connection without saying so (as
		// opentracker does after every reply): try once on a new one, as
		// an HTTP client does.
		*h.reconnects++
		serverCloses, err = h.roundTrip(p)
	}
	if err != nil {
		return classify(err)
	}
	if serverCloses || !h.keepAlive {
		// Wait for the server's FIN before closing, so the server, which
		// closed first, holds the TIME_WAIT, not our ephemeral ports.
		io.Copy(io.Discard, h.r)
		h.close()
		if h.keepAlive {
			*h.reconnects++
		}
	}
	return nil
}

// errIdleClosed is a reused connection that the server had closed: the
// request got no byte of reply.
var errIdleClosed = errors.New("connection closed by the server")

func (h *httpAnnouncer) roundTrip(p *peer) (serverCloses bool, err error) {
	if h.conn == nil {
		src := h.lane
		if !h.keepAlive {
			src = &net.TCPAddr{IP: p.src.AsSlice()}
		}
		if err := h.dial(src); err != nil {
			return false, err
		}
	}
	h.conn.SetDeadline(time.Now().Add(h.timeout))
	if _, err = h.conn.Write(h.req); err == nil {
		serverCloses, err = h.readReply()
	}
	if err != nil {
		h.close()
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
			err = errIdleClosed
		}
	}
	return serverCloses, err
}

// appendRequest writes the announce as a BEP 3 GET with compact peers.
func appendRequest(dst []byte, host string, p *peer, event uint32, keepAlive bool) []byte {
	dst = append(dst, "GET /announce?info_hash="...)
	dst = appendEscaped(dst, p.infoHash[:])
	dst = append(dst, "&peer_id="...)
	dst = appendEscaped(dst, p.id[:])
	dst = append(dst, "&port="...)
	dst = strconv.AppendUint(dst, uint64(p.port), 10)
	dst = append(dst, "&uploaded=0&downloaded=0&left="...)
	dst = strconv.AppendInt(dst, p.left, 10)
	dst = append(dst, "&compact=1"...)
	if event == eventStarted {
		dst = append(dst, "&event=started"...)
	}
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	if !keepAlive {
		dst = append(dst, "\r\nConnection: close"...)
	}
	return append(dst, "\r\n\r\n"...)
}

func appendEscaped(dst, b []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range b {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', hex[c>>4], hex[c&15])
		}
	}
	return dst
}

// readReply reads one response and checks that it is an announce reply
// with peers, not a refusal. It reports whether the server will close the
// connection after it.
func (h *httpAnnouncer) readReply() (serverCloses bool, err error) {
	line, err := h.r.ReadSlice('\n')
	if err != nil {
		return false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return false, fmt.Errorf("bad status line %q", line)
	}
	if !bytes.Equal(line[9:12], []byte("200")) {
		return false, fmt.Errorf("status %q", bytes.TrimSpace(line[9:]))
	}
	serverCloses = line[7] == '0' // HTTP/1.0 closes unless told otherwise
	length := -1
	for {
		line, err = h.r.ReadSlice('\n')
		if err != nil {
			return false, err
		}
		if len(line) <= 2 { // the blank line
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return false, fmt.Errorf("bad header %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 || length > len(h.body) {
				return false, fmt.Errorf("content length %q", value)
			}
		case bytes.EqualFold(name, []byte("Connection")):
			serverCloses = bytes.EqualFold(value, []byte("close"))
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return false, fmt.Errorf("transfer encoding %q not expected for a short reply", value)
		}
	}
	var body []byte
	if length >= 0 {
		body = h.body[:length]
		_, err = io.ReadFull(h.r, body)
	} else {
		serverCloses = true
		var n int
		n, err = io.ReadFull(h.r, h.body)
		body = h.body[:n]
		if err == io.ErrUnexpectedEOF {
			err = nil
		}
	}
	if err != nil {
		return false, err
	}
	return serverCloses, checkBody(body)
}

// checkBody accepts a bencoded dictionary with a "peers" key and no
// "failure reason".
func checkBody(b []byte) error {
	if i := bytes.Index(b, []byte("14:failure reason")); i >= 0 {
		return fmt.Errorf("refused: %q", b[i:])
	}
	if len(b) == 0 || b[0] != 'd' || !bytes.Contains(b, []byte("5:peers")) {
		return fmt.Errorf("not an announce reply: %q", b)
	}
	return nil
}

// classify turns a deadline into errTimeout, for counting.
func classify(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errTimeout
	}
	return err
}
