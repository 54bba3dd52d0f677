package pipeline

import (
	"strconv"

	"github.com/auditdrain/auditdrain/internal/record"
)

// The records below are of type record.TypeDaemonErr, stamped with serial 0
// (the kernel never assigns it) so they are told apart from kernel records.

// AppendLossRecord appends the payload of one op=lost accounting record for
// the loss d over the last interval, the jiffies audited programs were made
// to wait in it (stall_jiffies) and the records each plugin lost in it
// (those with a loss; see [PluginLoss]) to b:
//
//	audit(SEC.MS:0): op=lost kernel=0 overrun=0 ... sockdrop=0 forward=0 stall_jiffies=0 res=failed
//	audit(SEC.MS:0): op=lost kernel=0 ... sockdrop=0 forward=0 plugin=12 plugin_lost="remote.conf:12" stall_jiffies=0 res=failed
func AppendLossRecord(b []byte, unixMilli int64, d Losses, stallJiffies uint64, plugins ...PluginLoss) []byte {
	b = record.AppendStamp(b, unixMilli, 0)
	b = append(b, "op=lost "...)
	b = d.AppendText(b, false)
	b = AppendPluginLoss(b, plugins)
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

// CausePlugin is the name of the loss cause of records a plugin did not get
// (its queue was full, it was suspended, given up or dead). Plugin losses
// are not records missing from the log, so they are kept apart from
// [Losses] and its Total: per plugin, in [PluginLoss].
const CausePlugin = "plugin"

// PluginLoss is how many records one plugin (by its plugins.d file name)
// lost: counted under loss cause [CausePlugin].
type PluginLoss struct {
	Name string
	Lost uint64
}

// AppendPluginLoss appends the plugin part of an op=lost record to b: "
// plugin=TOTAL plugin_lost="NAME:N,NAME:N"" over the plugins with a loss,
// or nothing when none lost a record.
func AppendPluginLoss(b []byte, plugins []PluginLoss) []byte {
	var total uint64
	for _, p := range plugins {
		total += p.Lost
	}
	if total == 0 {
		return b
	}
	b = append(b, " "+CausePlugin+"="...)
	b = strconv.AppendUint(b, total, 10)
	b = append(b, " plugin_lost=\""...)
	first := true
	for _, p := range plugins {
		if p.Lost == 0 {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		for i := 0; i < len(p.Name); i++ { // a file name: keep the value one quoted word
			c := p.Name[i]
			if c <= ' ' || c == '"' || c == ',' || c == ':' || c >= 0x7f {
				c = '_'
			}
			b = append(b, c)
		}
		b = append(b, ':')
		b = strconv.AppendUint(b, p.Lost, 10)
	}
	return append(b, '"')
}
