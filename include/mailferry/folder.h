/* SPDX-License-Identifier: MIT */
/* Folder-name helpers of libmailferry: guess the RFC 6154 special-use role
 * of a folder from its name, for sources that have no SPECIAL-USE
 * information (mbox files, maildirs, .eml trees, POP3, servers without
 * RFC 6154).  Pure functions, no global state. */
#ifndef MAILFERRY_FOLDER_H
#define MAILFERRY_FOLDER_H

#include <mailferry/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Role of a folder whose last path level is folder_leaf: "INBOX" →
 * MF_SPECIAL_INBOX; "Sent", "Sent Items", "Sent Messages", "Sent Mail",
 * "已发送" → SENT; "Drafts", "草稿箱" → DRAFTS; "Trash", "Deleted Items",
 * "Deleted Messages", "已删除" → TRASH; "Junk", "Junk Email", "Junk
 * E-mail", "Spam", "垃圾邮件" → JUNK; "Archive" → ARCHIVE (the full list is
 * in lib/folder_names.c).  ASCII case is ignored, surrounding spaces too.
 * MF_SPECIAL_NONE for anything else and for NULL. */
enum mf_special_use mf_guess_special_use(const char *folder_leaf);

/* The last level of a '/'-separated folder path ("A/B/Sent" → "Sent"). */
const char *mf_folder_leaf(const char *path);

#ifdef __cplusplus
}
#endif
#endif
