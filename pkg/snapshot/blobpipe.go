package snapshot

import (
	"io"
	"sync"
)

// blobPipe is io.Pipe for a stream whose writer hands over slices it never
// touches again (etcd's snapshot messages): Write keeps the slice, up to a
// bounded number of them, and the reader's WriteTo passes each one on as
// it is. The stream runs ahead of a slow store by that many messages, and
// no byte is copied between the stream and the store.
type blobPipe struct {
	ch   chan []byte
	stop chan struct{}
	once sync.Once
	werr error // set before ch is closed
	rerr error // set before stop is closed
	cur  []byte
}

func newBlobPipe(n int) (*blobReader, *blobWriter) {
	p := &blobPipe{ch: make(chan []byte, n), stop: make(chan struct{})}
	return &blobReader{p}, &blobWriter{p}
}

// blobWriter is the writing end.
type blobWriter struct{ p *blobPipe }

// Write keeps b: the caller must not change it afterwards. Once the
// reader has stopped, it fails at once, as io.Pipe's does, even with room
// left.
func (w *blobWriter) Write(b []byte) (int, error) {
	select {
	case <-w.p.stop:
		return 0, w.p.rerr
	default:
	}
	select {
	case w.p.ch <- b:
		return len(b), nil
	case <-w.p.stop:
		return 0, w.p.rerr
	}
}

// CloseWithError ends the stream; the reader sees err, or io.EOF for nil.
// It is called once.
func (w *blobWriter) CloseWithError(err error) error {
	w.p.werr = err
	close(w.p.ch)
	return nil
}

// blobReader is the reading end.
type blobReader struct{ p *blobPipe }

func (r *blobReader) Read(b []byte) (int, error) {
	p := r.p
	for len(p.cur) == 0 {
		next, ok := <-p.ch
		if !ok {
			return 0, p.end()
		}
		p.cur = next
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}

// WriteTo writes every slice on to w as it came (io.Copy takes it).
func (r *blobReader) WriteTo(w io.Writer) (int64, error) {
	p := r.p
	var n int64
	for {
		if len(p.cur) > 0 {
			m, err := w.Write(p.cur)
			n += int64(m)
			p.cur = p.cur[m:]
			if err != nil {
				return n, err
			}
		}
		next, ok := <-p.ch
		if !ok {
			if err := p.end(); err != io.EOF {
				return n, err
			}
			return n, nil
		}
		p.cur = next
	}
}

// CloseWithError stops the writer: its next Write fails with err, or
// io.ErrClosedPipe for nil, as io.Pipe's does.
func (r *blobReader) CloseWithError(err error) error {
	if err == nil {
		err = io.ErrClosedPipe
	}
	r.p.once.Do(func() {
		r.p.rerr = err
		close(r.p.stop)
	})
	return nil
}

func (p *blobPipe) end() error {
	if p.werr != nil {
		return p.werr
	}
	return io.EOF
}
