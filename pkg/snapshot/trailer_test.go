package snapshot

import (
	"bytes"
	"crypto/sha256"
	"math/rand"
	"testing"
)

func TestTrailerHashAnyChunking(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for trial := 0; trial < 200; trial++ {
		content := make([]byte, rng.Intn(5000))
		rng.Read(content)
		sum := sha256.Sum256(content)
		data := append(append([]byte{}, content...), sum[:]...)
		th := &trailerHash{h: sha256.New()}
		for rest := data; len(rest) > 0; {
			k := 1 + rng.Intn(70)
			if k > len(rest) {
				k = len(rest)
			}
			th.Write(rest[:k])
			rest = rest[k:]
		}
		if th.have != trailerLen || !bytes.Equal(th.tail[:], sum[:]) || !bytes.Equal(th.h.Sum(nil), sum[:]) {
			t.Fatalf("trial %d: trailer or hash wrong", trial)
		}
	}
}
