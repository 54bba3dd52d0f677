package record

// Header parses the "audit(SECONDS.MILLIS:SERIAL):" prefix of a kernel audit
// record payload. It returns ok false when p does not start with a well-formed
// prefix: "audit(", decimal digits fitting an int64, '.', exactly three digits
// (the kernel prints %03lu), ':', decimal digits fitting a uint64, and "):".
// It does not allocate.
func Header(p []byte) (sec int64, milli int32, serial uint64, ok bool) {
	const prefix = "audit("
	if len(p) < len(prefix) || string(p[:len(prefix)]) != prefix {
		return 0, 0, 0, false
	}
	i := len(prefix)

	// Seconds: an int64 without sign.
	secs, i := digitsAt(p, i)
	if i < 0 || secs > 1<<63-1 || i >= len(p) || p[i] != '.' {
		return 0, 0, 0, false
	}
	i++

	// Milliseconds: exactly three digits.
	if len(p)-i < 3 || !isDigit(p[i]) || !isDigit(p[i+1]) || !isDigit(p[i+2]) {
		return 0, 0, 0, false
	}
	ms := int32(p[i]-'0')*100 + int32(p[i+1]-'0')*10 + int32(p[i+2]-'0')
	i += 3
	if i >= len(p) || p[i] != ':' {
		return 0, 0, 0, false
	}
	i++

	// Serial: a uint64 (the kernel's is 32 bits wide).
	n, i := digitsAt(p, i)
	if i < 0 || len(p)-i < 2 || p[i] != ')' || p[i+1] != ':' {
		return 0, 0, 0, false
	}
	return int64(secs), ms, n, true
}

// digitsAt parses the decimal digits starting at p[i] and returns their value
// and the index after them, or -1 when there are none or they overflow a
// uint64.
func digitsAt(p []byte, i int) (uint64, int) {
	start := i
	var n uint64
	for _, c := range p[i:] {
		d := c - '0'
		if d > 9 {
			break
		}
		n = n*10 + uint64(d)
		i++
	}
	if i == start {
		return 0, -1
	}
	if i-start >= 20 {
		// Could have overflowed: redo with checks (leading zeros or
		// values near the top of the range only).
		n = 0
		for j := start; j < i; j++ {
			d := uint64(p[j] - '0')
			if n > (1<<64-1-d)/10 {
				return 0, -1
			}
			n = n*10 + d
		}
	}
	return n, i
}

func isDigit(c byte) bool { return c-'0' <= 9 }
