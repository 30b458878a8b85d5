package main

import (
	"errors"
	"sync"

	"github.com/btfs/btfs/fs"
	"github.com/btfs/btfs/metainfo"
	"github.com/btfs/btfs/session"
)

// singleLibrary is a session.Library over fs.Mount and fs.MountPending: a
// mount of one torrent, mounted when the torrent is added.
type singleLibrary struct {
	mountpoint string
	opts       fs.Options
	ready      chan struct{} // closed once mounted, or unmounted before

	mu       sync.Mutex // guards m, readyOne
	m        *fs.Mounted
	readyOne bool
}

var _ session.Library = (*singleLibrary)(nil)

func newSingleLibrary(mountpoint string, opts fs.Options) *singleLibrary {
	return &singleLibrary{mountpoint: mountpoint, opts: opts, ready: make(chan struct{})}
}

var errOneTorrent = errors.New("this mount shows one torrent")

func (l *singleLibrary) mount(f func() (*fs.Mounted, error)) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.readyOne {
		return "", errOneTorrent
	}
	m, err := f()
	if err != nil {
		return "", err
	}
	l.m, l.readyOne = m, true
	close(l.ready)
	return "", nil
}

func (l *singleLibrary) Add(_, _ string, info *metainfo.Info, src fs.Source) (string, error) {
	return l.mount(func() (*fs.Mounted, error) { return fs.Mount(l.mountpoint, info, src, l.opts) })
}

func (l *singleLibrary) AddPending(_, _, note string) (string, error) {
	return l.mount(func() (*fs.Mounted, error) { return fs.MountPending(l.mountpoint, note, l.opts) })
}

func (l *singleLibrary) Populate(_ string, info *metainfo.Info, src fs.Source) error {
	l.mu.Lock()
	m := l.m
	l.mu.Unlock()
	if m == nil {
		return errors.New("populate before the mount")
	}
	return m.Populate(info, src)
}

func (l *singleLibrary) Remove(string) error { return errOneTorrent }

func (l *singleLibrary) OpenFiles() []fs.OpenFile {
	l.mu.Lock()
	m := l.m
	l.mu.Unlock()
	if m == nil {
		return nil
	}
	return m.OpenFiles()
}

// Unmount detaches the mount; before one, it ends Wait.
func (l *singleLibrary) Unmount() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		if !l.readyOne {
			l.readyOne = true
			close(l.ready)
		}
		return nil
	}
	return l.m.Unmount()
}

func (l *singleLibrary) Wait() {
	<-l.ready
	l.mu.Lock()
	m := l.m
	l.mu.Unlock()
	if m != nil {
		m.Wait()
	}
}
