package ring_test

import (
	"fmt"

	"github.com/auditdrain/auditdrain/internal/ring"
)

// A producer pushes records and closes the ring; the consumer waits, drains
// batches and stops once the ring is closed and empty. The payload slice is
// only valid inside the callback, so it is converted (copied) there.
func Example() {
	r, err := ring.New(64 << 10)
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan struct{})
	go func() { // consumer
		defer close(done)
		for r.Wait(0) {
			r.Drain(4096, func(typ uint16, p []byte) {
				fmt.Printf("type %d: %s\n", typ, p)
			})
		}
	}()
	for i, msg := range []string{"audit(1.000:1): syscall=59", "audit(1.000:1): cwd=/", "audit(1.000:1): proctitle=ls"} {
		if err := r.Push(uint16(1300+i), []byte(msg)); err != nil {
			fmt.Println(err)
		}
	}
	r.Close()
	<-done
	fmt.Println("closed:", r.Closed(), "len:", r.Len())
	// Output:
	// type 1300: audit(1.000:1): syscall=59
	// type 1301: audit(1.000:1): cwd=/
	// type 1302: audit(1.000:1): proctitle=ls
	// closed: true len: 0
}
