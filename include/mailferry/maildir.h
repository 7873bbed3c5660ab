/* SPDX-License-Identifier: MIT */
/* Maildir conventions shared by whoever reads or writes a Maildir (the mbox
 * source's maildir: reader, the local sink): the info flag letters of a
 * file name (https://cr.yp.to/proto/maildir.html, after ":2,") and
 * Dovecot's dovecot-keywords file, which numbers the keywords carried as
 * the letters 'a'..'z'.  No state; safe from any thread. */
#ifndef MAILFERRY_MAILDIR_H
#define MAILFERRY_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The MF_FLAG_* bit of an info letter: D draft, F flagged, P passed
 * (forwarded), R replied, S seen, T trashed (deleted); 0 for any other. */
uint32_t mf_maildir_flag(char letter);
/* The letters of flags, in ASCII order as maildir(5) demands, + NUL into
 * out (7 bytes hold them all); returns how many were written. */
size_t mf_maildir_flag_letters(uint32_t flags, char *out);

/* dovecot-keywords: one "<index> <keyword>" line per keyword, index 0..25
 * standing for the letter 'a' + index.  names[i] is NULL or a malloc'd
 * keyword.  Lines that are not digits, one space and a non-empty name,
 * and indexes past 25, are skipped; a later line for an index replaces an
 * earlier one; a last line without its newline counts. */
#define MF_MAILDIR_KEYWORDS 26
/* Parse text[0..len) into names (entries it replaces are freed). */
void mf_maildir_keywords_parse(const char *text, size_t len, char *names[MF_MAILDIR_KEYWORDS]);
/* Free names and read the file path (relative to dirfd, or AT_FDCWD) into
 * them; false, with every entry NULL, if it cannot be opened or read. */
bool mf_maildir_keywords_read(int dirfd, const char *path, char *names[MF_MAILDIR_KEYWORDS]);
/* Free every entry and set it NULL. */
void mf_maildir_keywords_free(char *names[MF_MAILDIR_KEYWORDS]);

#ifdef __cplusplus
}
#endif
#endif
