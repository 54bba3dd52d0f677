package audittest

import (
	"bufio"
	"strings"
)

// CountLines counts the lines of a log that start with prefix (for example
// "type=SYSCALL ") and contain contains (for example `key="k"`). Lines may be
// up to 1 MiB long.
func CountLines(log, prefix, contains string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) && strings.Contains(sc.Text(), contains) {
			n++
		}
	}
	return n
}
