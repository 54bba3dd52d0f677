// Package plugins owns auditdrain's plugin dispatcher: auditd 3.0.9's
// plugins.d (audisp) without its stall. It reads the plugin files of
// plugin_dir as auditd does ([LoadDir]), runs every active plugin (a
// program fed on its stdin, or the builtin_af_unix socket), hands each of
// them every record the drain passes to [Dispatcher.Dispatch], restarts a
// program that exits up to max_restarts, sends SIGHUP on [Dispatcher.Reload]
// and SIGTERM on [Dispatcher.Stop], and counts, per plugin, what it was
// handed and what it lost ([Dispatcher.Stats]).
//
// # The drain never waits for a plugin
//
// Every plugin has its own bounded queue (an internal/ring SPSC ring: the
// drain's Dispatch is its single producer, the plugin's feeder goroutine its
// single consumer) of QueueDepth records (auditd's q_depth). Dispatch copies
// the record into each plugin's queue with a non-blocking push; when a queue
// is full, that record is dropped for that plugin only and counted in its
// Lost (overflow_action decides whether that is also logged, or suspends the
// plugin until the next reload). Dispatch takes no lock and does not
// allocate; at most it wakes a plugin's idle feeder goroutine. A slow, stuck
// (a program that never reads its stdin) or dead plugin costs only its own
// records. auditd 3.0.9 instead
// sleeps and retries in its enqueue and blocks on a full plugin pipe, which
// stalls its reader.
//
// # What is lost, and counted
//
// A plugin's Lost counts the records it will never get: dropped by Dispatch
// (queue full, suspended, or given up after max_restarts until a reload);
// left unread in its stdin when its program exited (the dispatcher keeps a
// descriptor of the program's end of the socket, so after the exit it reads
// what the program left there and counts the records in it, and those it had
// not written yet); not written by the stop deadline. A record the program
// had read but not processed when it died cannot be seen and is not counted.
// An af_unix record counts once per connected client (Delivered or Lost);
// records while no client is connected are not counted.
//
// # Wire formats (auditd 3.0.9's)
//
// A program gets its records on stdin, one end of a unix stream socket pair,
// and is run as auditd runs it: argv[0] its path, then at most two args, an
// empty environment, working directory /.
//
// format = string: one line per record, "type=NAME msg=PAYLOAD\n", with
// "node=NODE " in front when a node name is configured (name_format): the
// payload up to its first NUL, every newline in it a space. This is the line
// auditd 3.0.9's dispatcher writes: the record's log line, except that
// without a node name a trailing space (as in EOE's "audit(...): ") is kept
// where the log line drops it. Options.Format replaces it.
//
// format = binary: per record one frame of FrameLen (16+8970) bytes, as
// auditd 3.0.9 writes it: the struct audit_dispatcher_header, four uint32 in
// host byte order {ver, hlen = 16, type, size}, then MAX_AUDIT_MESSAGE_LENGTH
// (8970) bytes of which the first size are the data and the rest zero
// (auditd 3.0.9 writes its whole event buffer; later versions send only size
// bytes). Without a node name ver is AUDISP_PROTOCOL_VER (0) and the data is
// the raw kernel payload, "audit(SECONDS.MILLIS:SERIAL): ..."; with one, ver
// is AUDISP_PROTOCOL_VER2 (1) and the data is the formatted line without its
// newline.
//
// builtin_af_unix (args: an octal mode and the socket path, in either
// order): a unix stream socket, created after removing any file at the path,
// whose every connected client gets every record in the plugin's format.
// Each client has its own queue (4 MiB) written to it by its own goroutine; a
// record that does not fit is lost for that client only. auditd 3.0.9 serves
// one client at a time and blocks on it; any number may connect here.
//
// # Config files
//
// LoadDir reads a plugin file as audisp/audispd-pconfig.c does: "key =
// value" lines whose words are separated by spaces, '#' comments, keys and
// values case-insensitive, keys active (yes|no, default no), direction
// (out), path (a program with an absolute path whose directory has at least
// four characters, or builtin_af_unix), type (always|builtin, default
// always), args (at most two), format (binary|string, default string). A
// file or an active plugin's program that someone other than root could have
// written (not owned by root, or writable by group or others) is refused, and
// a program must have at least the 0750 permission bits, as auditd requires.
package plugins
