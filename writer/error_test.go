package writer

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A full disk makes the writer fail cleanly: Append and Close return an
// error naming the file, no panic, no torn frame left behind, and what was
// written is a prefix of whole records.
func TestStickyErrorDiskFull(t *testing.T) {
	for _, comp := range []string{"zstd", "none"} {
		t.Run(comp, func(t *testing.T) {
			dir := t.TempDir()
			if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m,mode=0700"); err != nil {
				t.Skipf("skipping: requires root to mount a 1 MiB tmpfs: %v", err)
			}
			t.Cleanup(func() {
				if err := unix.Unmount(dir, 0); err != nil {
					t.Errorf("unmount %s: %v", dir, err)
				}
			})
			w, err := Open(Config{Dir: dir, Compression: comp, LogGroup: -1, BatchBytes: 64 << 10,
				MaxSegmentBytes: 300 << 10, FsyncInterval: 0})
			if err != nil {
				t.Fatal(err)
			}
			// Incompressible records: random hex.
			r := rand.New(rand.NewPCG(1, 2))
			var recs []rec
			var appendErr error
			for i := 0; i < 100000 && appendErr == nil; i++ {
				p := fmt.Appendf(nil, "audit(1732564000.%03d:%d): proctitle=", i%1000, i)
				for range 40 {
					p = fmt.Appendf(p, "%08X", r.Uint32())
				}
				if appendErr = w.Append(1327, p); appendErr == nil {
					recs = append(recs, rec{1327, p})
				}
				if i%100 == 0 {
					time.Sleep(100 * time.Microsecond) // let the appender catch up
				}
			}
			if appendErr == nil {
				t.Fatal("no error after 100000 records on a 1 MiB file system")
			}
			closeErr := w.Close()
			t.Logf("Append: %v; stats %+v", appendErr, w.Stats().Records)
			for _, err := range []error{appendErr, closeErr, w.Err(), w.Stats().Err} {
				if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(fmt.Sprint(err), dir) {
					t.Errorf("error %v: want ENOSPC naming a file in %s", err, dir)
				}
			}
			st := w.Stats()
			if st.RecordsLost == 0 || st.Records+st.RecordsLost > uint64(len(recs)) {
				t.Errorf("Records=%d RecordsLost=%d of %d appended", st.Records, st.RecordsLost, len(recs))
			}
			paths, _ := Segments(dir)
			for _, p := range paths {
				data, _ := os.ReadFile(p)
				if comp == "none" && len(data) > 0 && data[len(data)-1] != '\n' {
					t.Errorf("%s ends with a partial line", p)
				}
			}
			if comp == "zstd" {
				zstdCmd(t, dir, append([]string{"-q", "-t"}, paths...)...)
			}
			got := catDir(t, dir)
			if want := wantText(recs[:st.Records], ""); got != want {
				t.Errorf("written text is not the first %d records: %s", st.Records, firstDiff(got, want))
			}
			if !bytes.HasSuffix([]byte(got), []byte("\n")) && got != "" {
				t.Error("text does not end with a newline")
			}
		})
	}
}
