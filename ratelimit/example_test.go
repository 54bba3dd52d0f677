package ratelimit_test

import (
	"fmt"
	"time"

	"github.com/auditdrain/auditdrain/ratelimit"
)

// The drain loop asks Allow about every record and, once a second, writes a
// summary for each key that had records suppressed.
func Example() {
	rule, err := ratelimit.ParseRule("key=noisy rate=2 burst=2")
	if err != nil {
		fmt.Println(err)
		return
	}
	l, err := ratelimit.New(ratelimit.Config{Rules: []ratelimit.Rule{rule}})
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Now()
	for serial := 1; serial <= 5; serial++ {
		syscall := fmt.Sprintf(`audit(1795636980.303:%d): arch=c000003e syscall=59 success=yes exit=0 comm="noise" key="noisy"`, serial)
		path := fmt.Sprintf(`audit(1795636980.303:%d): item=0 name="/usr/bin/noise" nametype=NORMAL`, serial)
		fmt.Println(serial, l.Allow(now, 1300, []byte(syscall)), l.Allow(now, 1302, []byte(path)))
	}
	l.Flush(func(key string, suppressed uint64) {
		fmt.Printf("key=%s suppressed=%d\n", key, suppressed)
	})
	fmt.Printf("%+v\n", l.Stats())
	// Output:
	// 1 true true
	// 2 true true
	// 3 false false
	// 4 false false
	// 5 false false
	// key=noisy suppressed=6
	// [{Key: Allowed:0 Suppressed:0} {Key:noisy Allowed:4 Suppressed:6}]
}
