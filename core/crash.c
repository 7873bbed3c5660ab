/* SPDX-License-Identifier: MIT */
/* Fatal-signal reports naming the plugin that was running.  The marker is
 * a thread-local stack of borrowed string pointers set by the scheduler
 * around each plugin call; the handler runs on the faulting thread (the
 * kernel delivers SIGSEGV/SIGBUS/SIGILL/SIGFPE to the thread that caused
 * it, and abort() raises SIGABRT in the calling thread), so it reads that
 * thread's marker.  The handler uses only async-signal-safe calls
 * (write(2), sigaction, raise; POSIX.1-2008 §2.4.3) and no allocation:
 * strlen-like loops are written out.  It then restores the default action
 * and re-raises, so the exit status and any core dump are what they would
 * have been.  Why "the state file is consistent" is true: the state store
 * commits one SQLite transaction per message, and SQLite rolls back an
 * unfinished one on the next open; a message appended but not yet
 * recorded is found again through the sink's lookup() (or re-appended). */
#include <config.h>
#include "crash.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#define CRASH_DEPTH 8

struct frame {
	const char *plugin, *op, *mailbox, *folder;
};

static __thread struct frame stack[CRASH_DEPTH];
static __thread unsigned depth;
static int report_fd = -1; /* the front end's choice; write(-1) is a no-op */

void crash_enter(const char *plugin, const char *op, const char *mailbox, const char *folder)
{
	if (depth < CRASH_DEPTH)
		stack[depth] = (struct frame){ plugin, op, mailbox, folder };
	depth++;
}

void crash_leave(void)
{
	if (depth > 0)
		depth--;
}

static void put(const char *s)
{
	size_t n = 0;
	if (s == NULL)
		return;
	while (s[n] != '\0' && n < 1024)
		n++;
	while (n > 0) {
		ssize_t w = write(report_fd, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static const char *signame(int sig)
{
	switch (sig) {
	case SIGSEGV: return "SIGSEGV";
	case SIGBUS: return "SIGBUS";
	case SIGILL: return "SIGILL";
	case SIGFPE: return "SIGFPE";
	case SIGABRT: return "SIGABRT";
	default: return "a fatal signal";
	}
}

static void on_fatal(int sig)
{
	const struct frame *f = NULL;
	unsigned d = depth > CRASH_DEPTH ? CRASH_DEPTH : depth;
	if (d > 0)
		f = &stack[d - 1];
	if (f != NULL && f->plugin != NULL) {
		put("mailferry: plugin '");
		put(f->plugin);
		put("' crashed (");
		put(signame(sig));
		put(") while ");
		put(f->op);
		put(" ");
		put(f->mailbox);
		if (f->folder != NULL) {
			put(": ");
			put(f->folder);
		}
		put("; the state file is consistent; re-run to resume (and report the crash "
		    "to the plugin's author)\n");
	} else {
		put("mailferry: crashed (");
		put(signame(sig));
		put(f != NULL ? ") in the core while handling " : ") outside any plugin call");
		if (f != NULL) {
			put(f->mailbox);
			if (f->folder != NULL) {
				put(": ");
				put(f->folder);
			}
		}
		put("; the state file is consistent; re-run to resume, and please report "
		    "this bug\n");
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
	raise(sig);
}

void crash_install(int fd)
{
	report_fd = fd;
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESETHAND;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}
