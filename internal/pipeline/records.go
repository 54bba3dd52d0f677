package pipeline

import (
	"strconv"

	"github.com/auditdrain/auditdrain/internal/record"
)

// The records below are of type record.TypeDaemonErr, stamped with serial 0
// (the kernel never assigns it) so they are told apart from kernel records.

// AppendLossRecord appends the payload of one op=lost accounting record for
// the loss d over the last interval and the jiffies audited programs were
// made to wait in it (stall_jiffies) to b:
//
//	audit(SEC.MS:0): op=lost kernel=0 overrun=0 ... sockdrop=0 stall_jiffies=0 res=failed
func AppendLossRecord(b []byte, unixMilli int64, d Losses, stallJiffies uint64) []byte {
	b = record.AppendStamp(b, unixMilli, 0)
	b = append(b, "op=lost "...)
	b = d.AppendText(b, false)
	b = append(b, " stall_jiffies="...)
	b = strconv.AppendUint(b, stallJiffies, 10)
	return append(b, " res=failed"...)
}

// AppendRateLimitRecord appends the payload of one op=ratelimit summary to b:
// how many records of key's events ("" for the default bucket) the rate
// limit suppressed since the previous summary.
func AppendRateLimitRecord(b []byte, unixMilli int64, key string, suppressed uint64) []byte {
	b = record.AppendStamp(b, unixMilli, 0)
	b = append(b, "op=ratelimit key="...)
	b = strconv.AppendQuote(b, key)
	b = append(b, " suppressed="...)
	b = strconv.AppendUint(b, suppressed, 10)
	return append(b, " res=failed"...)
}

// AppendRestartRecord appends the payload of one op=restart record to b: the
// previous run's last serial was prev, this run's first is first (> prev+1),
// and the serials between were not seen by any auditdrain.
func AppendRestartRecord(b []byte, unixMilli int64, prev, first uint64) []byte {
	b = record.AppendStamp(b, unixMilli, 0)
	b = append(b, "op=restart prev_last_serial="...)
	b = strconv.AppendUint(b, prev, 10)
	b = append(b, " first_serial="...)
	b = strconv.AppendUint(b, first, 10)
	b = append(b, " unseen_serials="...)
	b = strconv.AppendUint(b, prev+1, 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, first-1, 10)
	b = append(b, " unseen="...)
	b = strconv.AppendUint(b, first-prev-1, 10)
	return append(b, " res=failed"...)
}
