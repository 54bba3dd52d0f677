package rulesd

import "strings"

// verCompare orders file names as `ls -v` (GNU coreutils 9.1) does:
// filevercmp, with ties (names filevercmp calls equal, such as "a01" and
// "a1") broken by plain byte order. It returns a negative number, zero or a
// positive number as a sorts before, equal to or after b.
func verCompare(a, b string) int {
	if d := filevercmp(a, b); d != 0 {
		return d
	}
	return strings.Compare(a, b)
}

// filevercmp compares two file names as gnulib's filevercmp does: "" first,
// then ".", "..", other names starting with '.', then the rest; within
// those, runs of digits compare as numbers and other bytes in an order
// where '~' sorts first, then the end of the name, then letters, then every
// other byte. A trailing suffix matching (\.[A-Za-z~][A-Za-z0-9~]*)* is
// compared only when the names are equal without it.
func filevercmp(a, b string) int {
	switch {
	case a == "" || b == "":
		return boolCmp(a != "", b != "")
	case a[0] == '.' && b[0] != '.':
		return -1
	case a[0] != '.' && b[0] == '.':
		return 1
	case a[0] == '.':
		for _, special := range []string{".", ".."} {
			if a == special || b == special {
				return boolCmp(a != special, b != special)
			}
		}
	}
	ap, bp := filePrefixLen(a), filePrefixLen(b)
	if d := verrevcmp(a[:ap], b[:bp]); d != 0 || (ap == len(a) && bp == len(b)) {
		return d
	}
	return verrevcmp(a, b)
}

// boolCmp orders false before true.
func boolCmp(x, y bool) int {
	switch {
	case x == y:
		return 0
	case !x:
		return -1
	}
	return 1
}

// filePrefixLen returns the length of s without its file suffix: the
// longest tail matching (\.[A-Za-z~][A-Za-z0-9~]*)*. As in coreutils 9.1
// (and unlike later gnulib), the tail may be all of s: ".a0" is all suffix,
// which is why `ls -v` lists ".Z" before ".0a".
func filePrefixLen(s string) int {
	prefix := 0
	for i := 0; ; {
		for i+1 < len(s) && s[i] == '.' && (isAlpha(s[i+1]) || s[i+1] == '~') {
			for i += 2; i < len(s) && (isAlpha(s[i]) || isDigit(s[i]) || s[i] == '~'); i++ {
			}
		}
		if i >= len(s) {
			return prefix
		}
		i++
		prefix = i
	}
}

// order is the weight of the byte at pos in verrevcmp's non-digit runs.
func order(s string, pos int) int {
	if pos >= len(s) {
		return 0
	}
	c := s[pos]
	switch {
	case isDigit(c):
		return 0
	case isAlpha(c):
		return int(c)
	case c == '~':
		return -1
	}
	return int(c) + 256
}

// verrevcmp is Debian's version comparison on two strings.
func verrevcmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			if ac, bc := order(a, i), order(b, j); ac != bc {
				return ac - bc
			}
			i++
			j++
		}
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		firstDiff := 0
		for i < len(a) && j < len(b) && isDigit(a[i]) && isDigit(b[j]) {
			if firstDiff == 0 {
				firstDiff = int(a[i]) - int(b[j])
			}
			i++
			j++
		}
		if i < len(a) && isDigit(a[i]) {
			return 1
		}
		if j < len(b) && isDigit(b[j]) {
			return -1
		}
		if firstDiff != 0 {
			return firstDiff
		}
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
