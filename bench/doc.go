// Package bench owns `auditdrain bench`: it measures how much audit load a
// reader takes before records are lost or audited programs stall, against the
// real kernel, side by side for several readers in one run.
//
// The pieces, one job per file:
//   - load*.go and pace.go: load generators (syscall, exec, file, user) that
//     run at a fixed offered rate, or flat out, on N locked OS threads for a
//     duration, each with the audit rules it needs scoped to the process that
//     runs it, and that count exactly how many audit events they caused.
//   - loadproc.go: each step runs the load in a process of its own
//     (`auditdrain bench load-worker`), started after audit is enabled: the
//     kernel gives no audit context to threads that existed before the
//     first enable. A step whose events reach no reader stops the bench with
//     ErrNotAudited rather than reporting 100% loss.
//   - count.go: counting the bench's events in a reader's own output (the
//     daemon's `cat`, or auditd's log files), so that records the kernel drops
//     without counting them in `lost` still show as loss.
//   - reader.go and proc.go: the readers under test (auditdrain, its discard
//     mode, the floor (floor.go: one thread blocking in recvmmsg and discarding,
//     the least any reader can cost on this machine), auditd with its shipped config, with RAW + flush NONE and with
//     RAW + flush DATA (auditd-data, on request), and no
//     reader at all), each started fresh per step with its log in a temporary
//     directory and stopped by its pid (SIGTERM, SIGKILL after 30 s); their
//     CPU time and peak RSS from /proc.
//   - kernel.go: the bench's kernel session: saved and restored status and
//     rules, the settings applied per step, and the backlog poller.
//   - sweep.go and step.go: the sweep over offered rates and readers and the
//     figures recorded per step; idle.go: the idle step (CPU ticks and
//     wake-ups with the rules loaded and no load).
//   - knee.go: the knee per reader and the ratios between readers.
//   - report.go, plot.go: the terminal table and progress line, JSON, SVG.
//   - machine.go: what the bench ran on (kernel, CPUs, HZ) for the report.
//   - command.go: the `bench` subcommand's flags.
//
// The bench holds the machine-wide audit lock (auditctl.LockMachine) for the
// whole run and restores the kernel's settings and removes its rules
// afterwards, even when its context is cancelled. It never changes the
// kernel's failure mode and never signals a process it did not start.
//
// API: Command is the `auditdrain bench` subcommand and Run the sweep behind
// it; the rest is exported for the report formats. No stability promise is
// made to programs outside this module.
package bench
