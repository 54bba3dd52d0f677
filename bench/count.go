package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Matcher tells one load's events, tagged with one key, among the lines of a
// reader's RAW or ENRICHED text output. A Matcher is immutable and safe for
// concurrent use.
type Matcher struct {
	types  [][]byte // accepted "type=NAME " prefixes
	needle []byte   // must occur in the line
}

// keyMatcher matches records of the given type carrying rule key key.
func keyMatcher(typeName string, typeNum int, key string) Matcher {
	return Matcher{types: typePrefixes(typeName, typeNum), needle: []byte(`key="` + key + `"`)}
}

// markerMatcher matches records of the given type whose text holds the
// marker that userMessage puts in for key.
func markerMatcher(typeName string, typeNum int, key string) Matcher {
	return Matcher{types: typePrefixes(typeName, typeNum), needle: []byte(userMarker(key))}
}

// userMarker is the text a user message carries for key; it ends in a
// fixed word so that no key matches inside a longer one.
func userMarker(key string) string { return "auditdrain-bench key=" + key + " end" }

func typePrefixes(name string, num int) [][]byte {
	return [][]byte{
		[]byte("type=" + name + " "),
		[]byte("type=UNKNOWN[" + strconv.Itoa(num) + "] "),
	}
}

// Match reports whether line (without its newline) is one of the events.
func (m Matcher) Match(line []byte) bool {
	if bytes.HasPrefix(line, []byte("node=")) {
		i := bytes.IndexByte(line, ' ')
		if i < 0 {
			return false
		}
		line = line[i+1:]
	}
	for _, t := range m.types {
		if bytes.HasPrefix(line, t) {
			return bytes.Contains(line[len(t):], m.needle)
		}
	}
	return false
}

// Count is what counting a reader's output found.
type Count struct {
	// Records is the number of non-empty lines: every record written.
	Records int64
	// Matched is the number of lines the Matcher accepted.
	Matched int64
}

// Add returns the sum of two counts.
func (c Count) Add(o Count) Count {
	return Count{Records: c.Records + o.Records, Matched: c.Matched + o.Matched}
}

// CountLines counts the records in r and those m matches. Lines of any
// length are handled.
func CountLines(r io.Reader, m Matcher) (Count, error) {
	var c Count
	br := bufio.NewReaderSize(r, 1<<20)
	var long []byte // a line longer than the buffer, being assembled
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, chunk...)
			continue
		}
		line := chunk
		if len(long) > 0 {
			long = append(long, chunk...)
			line = long
			long = long[:0] // line stays valid until the next append
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		if len(line) > 0 {
			c.Records++
			if m.Match(line) {
				c.Matched++
			}
		}
		if err == io.EOF {
			return c, nil
		}
		if err != nil {
			return c, fmt.Errorf("bench: cannot read log: %w", err)
		}
	}
}

// countFiles counts the records in every regular file in dir whose name
// starts with prefix (auditd's audit.log and its rotated audit.log.N), and
// returns the bytes they take.
func countFiles(dir, prefix string, m Matcher) (Count, int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Count{}, 0, fmt.Errorf("bench: cannot list log directory %q: %w", dir, err)
	}
	var total Count
	var size int64
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		f, err := os.Open(path)
		if err != nil {
			return total, size, fmt.Errorf("bench: cannot open log %q: %w", path, err)
		}
		c, err := CountLines(f, m)
		f.Close()
		if err != nil {
			return total, size, fmt.Errorf("bench: log %q: %w", path, err)
		}
		total = total.Add(c)
		if info, err := e.Info(); err == nil {
			size += info.Size()
		}
	}
	return total, size, nil
}

// dirSize returns the bytes taken by the regular files under dir.
func dirSize(dir string) (int64, error) {
	var size int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			size += info.Size()
		}
		return nil
	})
	if err != nil {
		return size, fmt.Errorf("bench: cannot measure log directory %q: %w", dir, err)
	}
	return size, nil
}

// countCat counts the records that `bin cat dir` prints: auditdrain's own
// reading of its log, whatever its on-disk format.
func countCat(ctx context.Context, bin, dir string, m Matcher) (Count, error) {
	cmd := exec.CommandContext(ctx, bin, "cat", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return Count{}, fmt.Errorf("bench: cannot run %s cat: %w", bin, err)
	}
	if err := cmd.Start(); err != nil {
		return Count{}, fmt.Errorf("bench: cannot run %s cat %s: %w", bin, dir, err)
	}
	c, cerr := CountLines(out, m)
	if cerr != nil {
		io.Copy(io.Discard, out)
	}
	werr := cmd.Wait()
	if werr != nil {
		return c, fmt.Errorf("bench: %s cat %s: %w (stderr: %s)", bin, dir, werr, tail(stderr.String(), 500))
	}
	return c, cerr
}

// tail returns the last n bytes of s, trimmed.
func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}
