// Package service owns running auditdrain as a systemd service: the unit
// file (auditdrain.service, embedded), installing and uninstalling it with a
// default config and switching auditd off and back on (Install, Uninstall),
// and the daemon's side of the sd_notify protocol: readiness, status lines
// and watchdog pings driven by the pipeline's health (Notifier, Watchdog).
//
// Install and Uninstall write only below InstallOptions.Root and run
// systemctl only through the Runner they are given, so that tests can use a
// temporary directory and record the commands instead of running them.
package service
