# SPDX-License-Identifier: MIT
"""IMAP's modified UTF-7 (RFC 3501 section 5.1.3), for the tests' own IMAP
clients and for Dovecot's LAYOUT=fs directory names: one copy for every
test script (imap_lib.sh, campaign_lib.sh, cyrus_compress.sh)."""
import base64


def encode(name):
    """A folder name as the server's mailbox name, unquoted."""
    out, buf = "", ""

    def flush():
        nonlocal out, buf
        if buf:
            b = base64.b64encode(buf.encode("utf-16-be")).decode()
            out += "&" + b.rstrip("=").replace("/", ",") + "-"
            buf = ""

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out += "&-" if ch == "&" else ch
        else:
            buf += ch
    flush()
    return out


def quote(name):
    """encode(name) as an IMAP quoted string, for imaplib's commands."""
    return '"' + encode(name).replace("\\", "\\\\").replace('"', '\\"') + '"'


def decode(s):
    """A mailbox name from the server back to UTF-8."""
    out, i = "", 0
    while i < len(s):
        if s[i] == "&":
            j = s.index("-", i)
            if j == i + 1:
                out += "&"
            else:
                b = s[i + 1:j].replace(",", "/")
                b += "=" * (-len(b) % 4)
                out += base64.b64decode(b).decode("utf-16-be")
            i = j + 1
        else:
            out += s[i]
            i += 1
    return out
