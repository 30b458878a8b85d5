package watchdir

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/btfs/btfs/metainfo"
)

// Run watches the directory until ctx is done (it returns nil) or the
// directory is removed or renamed (an error wrapping ErrDirGone). handle is
// called on Run's goroutine, one event at a time, in order; a slow handle
// delays later events but loses none (the kernel queues them, and should its
// queue overflow the directory is scanned again). Run starts no goroutine
// that outlives it.
func (w *Watcher) Run(ctx context.Context, handle func(Event)) error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", w.dir, err)
	}
	defer fw.Close()
	// Watch first, scan second: a file that appears meanwhile is then seen by
	// the scan, the watch, or both (a second look at it reports nothing).
	if err := fw.Add(w.dir); err != nil {
		return fmt.Errorf("watch %s: %w", w.dir, err)
	}
	s := &scanner{
		w:        w,
		handle:   handle,
		reported: make(map[string]metainfo.Hash),
		due:      make(map[string]time.Time),
		deferred: make(map[string]bool),
	}
	names, err := s.list()
	if err != nil {
		return err
	}
	now := time.Now()
	for _, name := range names {
		s.process(name, now)
	}
	handle(Event{Op: Ready})

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	s.rearm(timer)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-fw.Events:
			if !ok {
				return fmt.Errorf("watch %s: watcher closed", w.dir)
			}
			if filepath.Clean(ev.Name) == w.dir && ev.Has(fsnotify.Remove|fsnotify.Rename) {
				return fmt.Errorf("watch %s: %w (removed or renamed; recreate it and mount again)", w.dir, ErrDirGone)
			}
			if name := filepath.Base(ev.Name); filepath.Dir(ev.Name) == w.dir && watched(name) {
				s.touch(name, time.Now())
			}
		case err, ok := <-fw.Errors:
			if !ok {
				return fmt.Errorf("watch %s: watcher closed", w.dir)
			}
			if !errors.Is(err, fsnotify.ErrEventOverflow) {
				handle(Event{Op: Error, Err: fmt.Errorf("watch %s: %w", w.dir, err)})
				continue
			}
			// Events were lost: look at every file again.
			if err := s.rescan(time.Now()); err != nil {
				return err
			}
		case <-timer.C:
			s.fire(time.Now())
		}
		s.rearm(timer)
	}
}

// scanner is the state of one Run, owned by its goroutine.
type scanner struct {
	w        *Watcher
	handle   func(Event)
	reported map[string]metainfo.Hash // name -> info-hash of its last Add
	due      map[string]time.Time     // name -> when to read it
	deferred map[string]bool          // name -> its parse error was put off once since its last change
	dirty    bool                     // due changed since the timer was armed
}

// list returns the watched names in the directory, sorted.
func (s *scanner) list() ([]string, error) {
	entries, err := os.ReadDir(s.w.dir)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", s.w.dir, err)
	}
	var names []string
	for _, e := range entries { // ReadDir sorts by name
		if watched(e.Name()) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// touch notes a change to name: it is read once it settles.
func (s *scanner) touch(name string, now time.Time) {
	s.due[name] = now.Add(s.w.opts.Settle)
	delete(s.deferred, name)
	s.dirty = true
}

// rescan schedules every file present and every one reported.
func (s *scanner) rescan(now time.Time) error {
	names, err := s.list()
	if err != nil {
		return err
	}
	for name := range s.reported {
		names = append(names, name)
	}
	for _, name := range names {
		s.touch(name, now)
	}
	return nil
}

// fire reads every file that is due, in name order.
func (s *scanner) fire(now time.Time) {
	var names []string
	for name, at := range s.due {
		if !at.After(now) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		delete(s.due, name)
		s.process(name, now)
	}
	s.dirty = true
}

// rearm points the timer at the earliest due file.
func (s *scanner) rearm(timer *time.Timer) {
	if !s.dirty {
		return
	}
	s.dirty = false
	var next time.Time
	for _, at := range s.due {
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	if next.IsZero() {
		timer.Stop()
		return
	}
	timer.Reset(time.Until(next))
}

// process reads name and reports what changed.
func (s *scanner) process(name string, now time.Time) {
	path := filepath.Join(s.w.dir, name)
	l, modTime, err := load(path)
	old, had := s.reported[name]
	switch {
	case errors.Is(err, errGone):
		delete(s.deferred, name)
		if had {
			delete(s.reported, name)
			s.handle(Event{Op: Remove, Key: name})
		}
	case err != nil:
		if fresh := now.Sub(modTime) < s.w.opts.ErrorGrace; fresh && !s.deferred[name] {
			// Maybe still being written: look again when it has been left
			// alone for the grace period.
			s.deferred[name] = true
			s.due[name] = now.Add(s.w.opts.ErrorGrace)
			s.dirty = true
			return
		}
		delete(s.deferred, name)
		s.handle(Event{Op: Error, Key: name, Err: fmt.Errorf("%s: %w (fix or remove the file)", path, err)})
	default:
		delete(s.deferred, name)
		if had && old == l.hash {
			return
		}
		if had {
			s.handle(Event{Op: Remove, Key: name})
		}
		s.reported[name] = l.hash
		s.handle(Event{Op: Add, Key: name, Torrent: l.torrent, Magnet: l.magnet})
	}
}
