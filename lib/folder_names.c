/* SPDX-License-Identifier: MIT */
/* Special-use guessing by folder name (include/mailferry/folder.h).  The
 * table holds the names that the clients and servers our users migrate
 * from actually create: Outlook/Exchange ("Sent Items", "Deleted Items",
 * "Junk E-mail"), Apple Mail ("Sent Messages", "Deleted Messages"), Gmail
 * ("Sent Mail", "Spam"), Thunderbird, and the Chinese webmails (Alibaba,
 * QQ, 163: 已发送, 草稿箱, 已删除, 垃圾邮件). */
#include <config.h>
#include <mailferry/folder.h>
#include <mailferry/util.h>

#include <string.h>

struct special_name {
	const char *name; /* lowercase ASCII or exact UTF-8 */
	enum mf_special_use use;
};

static const struct special_name special_names[] = {
	{ "inbox", MF_SPECIAL_INBOX },         { "收件箱", MF_SPECIAL_INBOX },
	{ "sent", MF_SPECIAL_SENT },           { "sent items", MF_SPECIAL_SENT },
	{ "sent messages", MF_SPECIAL_SENT },  { "sent mail", MF_SPECIAL_SENT },
	{ "sent-mail", MF_SPECIAL_SENT },      { "已发送", MF_SPECIAL_SENT },
	{ "已发送邮件", MF_SPECIAL_SENT },     { "drafts", MF_SPECIAL_DRAFTS },
	{ "draft", MF_SPECIAL_DRAFTS },        { "草稿箱", MF_SPECIAL_DRAFTS },
	{ "草稿", MF_SPECIAL_DRAFTS },         { "trash", MF_SPECIAL_TRASH },
	{ "deleted items", MF_SPECIAL_TRASH }, { "deleted messages", MF_SPECIAL_TRASH },
	{ "deleted", MF_SPECIAL_TRASH },       { "bin", MF_SPECIAL_TRASH },
	{ "已删除", MF_SPECIAL_TRASH },        { "已删除邮件", MF_SPECIAL_TRASH },
	{ "垃圾箱", MF_SPECIAL_TRASH },        { "junk", MF_SPECIAL_JUNK },
	{ "junk email", MF_SPECIAL_JUNK },     { "junk e-mail", MF_SPECIAL_JUNK },
	{ "junk mail", MF_SPECIAL_JUNK },      { "spam", MF_SPECIAL_JUNK },
	{ "bulk mail", MF_SPECIAL_JUNK },      { "垃圾邮件", MF_SPECIAL_JUNK },
	{ "archive", MF_SPECIAL_ARCHIVE },     { "archives", MF_SPECIAL_ARCHIVE },
	{ "归档", MF_SPECIAL_ARCHIVE },
};

enum mf_special_use mf_guess_special_use(const char *leaf)
{
	if (leaf == NULL)
		return MF_SPECIAL_NONE;
	while (*leaf == ' ' || *leaf == '\t')
		leaf++;
	size_t len = strlen(leaf);
	while (len > 0 && (leaf[len - 1] == ' ' || leaf[len - 1] == '\t'))
		len--;
	for (size_t i = 0; i < sizeof(special_names) / sizeof(special_names[0]); i++) {
		const char *n = special_names[i].name;
		if (strlen(n) == len && mf_ascii_strncasecmp(leaf, n, len) == 0)
			return special_names[i].use;
	}
	return MF_SPECIAL_NONE;
}

const char *mf_folder_leaf(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash != NULL ? slash + 1 : path;
}
