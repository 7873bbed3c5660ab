/* SPDX-License-Identifier: MIT */
/* Crash reports that name the plugin: the scheduler marks each call into a
 * plugin with crash_enter()/crash_leave() (a per-thread stack, since a
 * source's fetch() calls back into the core, which calls the sink), and a
 * SIGSEGV/SIGBUS/SIGILL/SIGFPE/SIGABRT handler prints which plugin was
 * running, for which mailbox and folder, before the process dies with the
 * same signal.  Nothing is recovered: a crashed plugin may have corrupted
 * the process; the state file is what makes the re-run safe. */
#ifndef MF_CORE_CRASH_H
#define MF_CORE_CRASH_H

/* Install the handlers (once, from main). */
void crash_install(int report_fd); /* the report goes to report_fd (stderr for cli/) */

/* Mark the calling thread as inside plugin (its module name; NULL means
 * "the core itself", for core code that runs inside a plugin callback),
 * doing op ("fetching", "appending to", ...) for mailbox, in folder (may
 * be NULL).  The strings are borrowed and must stay valid until the
 * matching crash_leave().  Calls nest (at most 8 deep; deeper ones are
 * counted but not recorded). */
void crash_enter(const char *plugin, const char *op, const char *mailbox, const char *folder);
void crash_leave(void);

#endif
