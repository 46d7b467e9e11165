package snapshot

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestBlobPipe(t *testing.T) {
	t.Run("copy and read", func(t *testing.T) {
		for _, how := range []string{"WriteTo", "Read"} {
			r, w := newBlobPipe(2)
			go func() {
				for i := 0; i < 100; i++ {
					w.Write(bytes.Repeat([]byte{byte(i)}, i+1))
				}
				w.CloseWithError(nil)
			}()
			var got bytes.Buffer
			var err error
			if how == "WriteTo" {
				_, err = io.Copy(&got, r)
			} else {
				_, err = io.CopyBuffer(&got, struct{ io.Reader }{r}, make([]byte, 7))
			}
			var want bytes.Buffer
			for i := 0; i < 100; i++ {
				want.Write(bytes.Repeat([]byte{byte(i)}, i+1))
			}
			if err != nil || !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Fatalf("%s: %d bytes, err %v; want %d bytes", how, got.Len(), err, want.Len())
			}
		}
	})
	t.Run("the writer's error reaches the reader", func(t *testing.T) {
		r, w := newBlobPipe(2)
		broke := errors.New("stream broke")
		go func() {
			w.Write([]byte("abc"))
			w.CloseWithError(broke)
		}()
		if _, err := io.Copy(io.Discard, r); !errors.Is(err, broke) {
			t.Fatalf("got %v, want %v", err, broke)
		}
	})
	t.Run("a reader that stops stops the writer", func(t *testing.T) {
		r, w := newBlobPipe(1)
		stopped := errors.New("the store stopped reading")
		r.CloseWithError(stopped)
		// The first Write fails, with room left in the buffer.
		if _, err := w.Write([]byte("abc")); !errors.Is(err, stopped) {
			t.Fatalf("got %v, want %v", err, stopped)
		}
	})
}
