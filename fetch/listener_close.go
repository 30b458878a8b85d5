package fetch

// Close closes a listener that Serve will not run on (a command that gives
// up before its torrent starts); once Serve runs, its context closes it.
func (l *Listener) Close() error { return l.ln.Close() }
