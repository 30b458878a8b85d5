package main

import (
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows a bar for long work when w is a terminal, and nothing otherwise.
type progress struct {
	bar *progressbar.ProgressBar
}

func newProgress(w io.Writer, total int64, description string) *progress {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return &progress{}
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(description),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100e6),
		progressbar.OptionClearOnFinish(),
	)
	return &progress{bar: bar}
}

// Set moves the bar to done; safe to call on a quiet progress.
func (p *progress) Set(done int64) {
	if p.bar != nil {
		_ = p.bar.Set64(done)
	}
}

// Describe changes the text before the bar.
func (p *progress) Describe(s string) {
	if p.bar != nil {
		p.bar.Describe(s)
	}
}

// Finish clears the bar.
func (p *progress) Finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
