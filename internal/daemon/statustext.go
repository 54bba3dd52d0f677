package daemon

import (
	"bufio"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sections of the text form of the status, in the order printed.
const (
	sectionDaemon  = "daemon"
	sectionKernel  = "kernel"
	sectionLosses  = "losses by cause"
	sectionWriter  = "writer"
	sectionPlugins = "plugins"
	sectionForward = "forward"
)

var statusSections = []string{sectionDaemon, sectionKernel, sectionLosses, sectionWriter, sectionPlugins, sectionForward}

// statusTables lists the list fields printed as a table: a header row of
// the entries' JSON names, then one aligned row per entry.
var statusTables = map[string]bool{"plugins": true}

// statusJSONOnly lists the fields for programs, left out of the text form.
var statusJSONOnly = map[string]bool{"latency_counts": true}

// statusSection places a Status field (by its JSON name) in a section of
// the text form; a field not listed is in the daemon section.
var statusSection = map[string]string{
	"lost_total":            sectionLosses,
	"lost_by_cause":         sectionLosses,
	"records_not_written":   sectionLosses,
	"dropped_by_type":       sectionLosses,
	"dropped_events_by_key": sectionLosses,
	"ratelimited_by_key":    sectionLosses,
	"late_serial_records":   sectionLosses,

	"records_written":          sectionWriter,
	"batches":                  sectionWriter,
	"bytes_formatted":          sectionWriter,
	"bytes_written":            sectionWriter,
	"segments":                 sectionWriter,
	"segments_deleted":         sectionWriter,
	"fsyncs":                   sectionWriter,
	"fsync_max_ms":             sectionWriter,
	"fsync_avg_ms":             sectionWriter,
	"fsync_p50_ms":             sectionWriter,
	"fsync_p99_ms":             sectionWriter,
	"latency_p50_ms":           sectionWriter,
	"latency_p99_ms":           sectionWriter,
	"latency_max_ms":           sectionWriter,
	"durability_window_p50_ms": sectionWriter,
	"durability_window_p99_ms": sectionWriter,
	"durability_window_max_ms": sectionWriter,
	"records_synced":           sectionWriter,
	"writing_suspended":        sectionWriter,
	"suspend_cause":            sectionWriter,
	"log_fs_free_bytes":        sectionWriter,
	"write_errors":             sectionWriter,
	"last_write_error":         sectionWriter,

	"plugins": sectionPlugins,

	"forward_url": sectionForward, "forward_connected": sectionForward, "forward_cursor": sectionForward,
	"forward_records": sectionForward, "forward_bytes_sent": sectionForward, "forward_lag_bytes": sectionForward,
	"forward_lag_records": sectionForward, "forward_lag_seconds": sectionForward, "forward_errors": sectionForward,
	"forward_latency_p50_ms": sectionForward, "forward_latency_p99_ms": sectionForward,
	"forward_last_error": sectionForward,
}

// statusRow is one line of the text form: a name and its value, indented
// one more level when it is an entry of a map or list field. A list entry
// is all name (a line of its own), so it does not widen the name column.
type statusRow struct {
	nested, entry bool
	name, value   string
}

// WriteText writes s as `auditdrain status` prints it: "name value" lines
// with the values aligned, under the headings daemon, kernel, losses by
// cause and writer. Names are the JSON names of /status; sizes are shown in
// IEC units, times with their unit, map entries one per line below their
// name. kernel is the kernel's status as `auditctl -s` prints it, one
// "name value" line each, shown as the kernel section ("" leaves the
// section out). It returns the first write error.
func (s Status) WriteText(w io.Writer, kernel string) error {
	rows := map[string][]statusRow{}
	v := reflect.ValueOf(s)
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || (opts == "omitempty" && v.Field(i).IsZero()) || statusJSONOnly[name] {
			continue
		}
		sec := statusSection[name]
		if sec == "" {
			sec = sectionDaemon
		}
		rows[sec] = append(rows[sec], fieldRows(name, v.Field(i))...)
	}
	for line := range strings.Lines(kernel) {
		name, value, _ := strings.Cut(strings.TrimSpace(line), " ")
		rows[sectionKernel] = append(rows[sectionKernel], statusRow{name: name, value: value})
	}
	width := 0
	for _, rs := range rows {
		for _, r := range rs {
			if r.entry {
				continue
			}
			n := len(r.name)
			if r.nested {
				n += 2
			}
			width = max(width, n)
		}
	}
	bw := bufio.NewWriter(w)
	for _, sec := range statusSections {
		if len(rows[sec]) == 0 {
			continue
		}
		fmt.Fprintln(bw, sec)
		for _, r := range rows[sec] {
			name := r.name
			if r.nested {
				name = "  " + name
			}
			if r.value == "" {
				fmt.Fprintf(bw, "  %s\n", name)
			} else {
				fmt.Fprintf(bw, "  %-*s  %s\n", width, name, r.value)
			}
		}
	}
	return bw.Flush()
}

// fieldRows renders one Status field: one row, or for a map or a list a row
// with its name followed by one nested row per entry (map keys sorted).
func fieldRows(name string, v reflect.Value) []statusRow {
	switch v.Kind() {
	case reflect.Map:
		head := statusRow{name: name}
		if v.Len() == 0 {
			head.value = "none"
		}
		rows := []statusRow{head}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
		for _, k := range keys {
			rows = append(rows, statusRow{nested: true, name: fmt.Sprint(k), value: formatStatusValue(name, v.MapIndex(k))})
		}
		return rows
	case reflect.Slice, reflect.Array:
		if statusTables[name] && v.Type().Elem().Kind() == reflect.Struct {
			return tableRows(v)
		}
		rows := []statusRow{{name: name}}
		if v.Len() == 0 {
			rows[0].value = "none"
		}
		for i := range v.Len() {
			rows = append(rows, statusRow{nested: true, entry: true, name: formatStatusValue(name, v.Index(i))})
		}
		return rows
	}
	if name == "uptime_seconds" {
		return []statusRow{{name: "uptime", value: time.Duration(v.Float() * float64(time.Second)).Round(time.Second).String()}}
	}
	return []statusRow{{name: name, value: formatStatusValue(name, v)}}
}

// tableRows renders a list of structs as a table: a header of the fields'
// JSON names (an omitempty field zero in every entry is left out), then one
// row per entry, columns aligned.
func tableRows(v reflect.Value) []statusRow {
	t := v.Type().Elem()
	var (
		cols   []int
		header []string
	)
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		if opts == "omitempty" {
			empty := true
			for j := range v.Len() {
				empty = empty && v.Index(j).Field(i).IsZero()
			}
			if empty {
				continue
			}
		}
		cols = append(cols, i)
		header = append(header, name)
	}
	cells := [][]string{header}
	for j := range v.Len() {
		row := make([]string, len(cols))
		for k, i := range cols {
			row[k] = formatStatusValue(header[k], v.Index(j).Field(i))
		}
		cells = append(cells, row)
	}
	widths := make([]int, len(cols))
	for _, row := range cells {
		for k, c := range row {
			widths[k] = max(widths[k], len(c))
		}
	}
	rows := make([]statusRow, 0, len(cells))
	for _, row := range cells {
		var b strings.Builder
		for k, c := range row {
			if k > 0 {
				b.WriteString("  ")
			}
			if k == len(row)-1 {
				b.WriteString(c)
			} else {
				fmt.Fprintf(&b, "%-*s", widths[k], c)
			}
		}
		rows = append(rows, statusRow{entry: true, name: b.String()})
	}
	return rows
}

// formatStatusValue formats a value of the field name: bytes (a name
// starting or ending in "bytes", or a ring size) in IEC units, milliseconds
// with "ms", booleans as yes or no.
func formatStatusValue(name string, v reflect.Value) string {
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			return "yes"
		}
		return "no"
	case reflect.Float32, reflect.Float64:
		if strings.HasSuffix(name, "_ms") {
			return strconv.FormatFloat(v.Float(), 'f', 2, 64) + " ms"
		}
		return strconv.FormatFloat(v.Float(), 'f', -1, 64)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if isBytesField(name) {
			if v.Int() < 0 {
				return "not measured" // as log_fs_free_bytes before the first check
			}
			return formatIEC(v.Int())
		}
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if isBytesField(name) && v.Uint() < 1<<63 {
			return formatIEC(int64(v.Uint()))
		}
		return strconv.FormatUint(v.Uint(), 10)
	}
	if st, ok := v.Interface().(fmt.Stringer); ok {
		return st.String()
	}
	if v.Kind() == reflect.Struct {
		return formatStruct(v)
	}
	return fmt.Sprint(v.Interface())
}

// formatStruct formats a struct without a String method as its fields'
// "json_name=value" pairs, never as Go's {a b c}.
func formatStruct(v reflect.Value) string {
	var parts []string
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		val := formatStatusValue(name, v.Field(i))
		if v.Field(i).Kind() == reflect.String {
			val = strconv.Quote(val)
		}
		parts = append(parts, name+"="+val)
	}
	return strings.Join(parts, " ")
}

func isBytesField(name string) bool {
	return strings.HasPrefix(name, "bytes_") || strings.HasSuffix(name, "_bytes") || strings.HasPrefix(name, "ring_")
}

// formatIEC formats a byte count n >= 0: exact below 1 KiB, else with one
// decimal in the largest IEC unit it reaches.
func formatIEC(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	f, unit := float64(n), ""
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"} {
		if f < 1024 {
			break
		}
		f, unit = f/1024, u
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + unit
}
