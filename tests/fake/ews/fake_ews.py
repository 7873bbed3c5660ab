#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A fake Exchange Web Services endpoint for mailferry's EWS tests.

Exchange has no free server, so this stands in for one: it parses the SOAP
requests it gets (xml.etree, namespace-aware, dispatching on the local name
of the first element in s:Body), checks Basic/Bearer credentials, the
ExchangeImpersonation header and X-AnchorMailbox, validates the child order
EWS's schema enforces, and answers GetFolder, FindFolder, SyncFolderItems,
FindItem and GetItem from a JSON fixture mailbox.  Sync states are opaque
signed tokens that encode the position in the folder.  Faults can be
injected: ErrorServerBusy (as a SOAP fault or inside a 200 reply), HTTP 503
with Retry-After, ErrorInvalidSyncStateData, an older server version, no
SyncFolderItems.  Python 3 standard library only.  It stops by itself after
--time-limit seconds and on SIGTERM.  Reply shapes follow
shared/docs/ews.md §6; it is not Exchange and never claims to be.
"""
import argparse
import base64
import gzip
import hashlib
import hmac
import json
import os
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape, quoteattr

NS_S = "http://schemas.xmlsoap.org/soap/envelope/"
NS_T = "http://schemas.microsoft.com/exchange/services/2006/types"
NS_M = "http://schemas.microsoft.com/exchange/services/2006/messages"
NS_E = "http://schemas.microsoft.com/exchange/services/2006/errors"
VERSIONS = ["Exchange2007_SP1", "Exchange2010", "Exchange2010_SP1",
            "Exchange2010_SP2", "Exchange2013", "Exchange2013_SP1",
            "Exchange2016"]
# Sync states are signed with a key derived from the fixture, so that a
# restarted server (a later "phase" of the same mailbox) accepts the states
# it handed out before, as Exchange does, and rejects forged ones.
SECRET = b""
CORRUPT = set()  # --corrupt: item ids whose MimeContent is broken base64


def q(ns, name):
    return "{%s}%s" % (ns, name)


def local(tag):
    return tag.rsplit("}", 1)[-1]


class SoapError(Exception):
    """Raised while handling a request: becomes a SOAP fault (HTTP 500)."""

    def __init__(self, code, text, backoff=None):
        super().__init__(text)
        self.code, self.text, self.backoff = code, text, backoff


class Mailbox:
    def __init__(self, smtp, spec, base):
        self.smtp = smtp
        self.root = spec.get("root", "ROOT-" + smtp)
        self.folders = spec["folders"]
        self.by_id = {f["id"]: f for f in self.folders}
        self.distinguished = {"msgfolderroot": self.root}
        for f in self.folders:
            if "distinguished" in f:
                self.distinguished[f["distinguished"]] = f["id"]
        self.items = []
        for it in spec.get("items", []):
            it = dict(it)
            if "mime_file" in it:
                with open(os.path.join(base, it["mime_file"]), "rb") as fh:
                    it["mime"] = fh.read()
            else:
                it["mime"] = it.get("mime_text", "").encode()
            self.items.append(it)
        self.item_by_id = {it["id"]: it for it in self.items}

    def visible(self, folder, phase):
        return [it for it in self.items
                if it["folder"] == folder and it.get("phase", 1) <= phase]


class State:
    def __init__(self, args):
        self.args = args
        global SECRET
        with open(args.fixture, "rb") as fh:
            raw = fh.read()
        SECRET = hashlib.sha256(b"fake-ews-sync-state:" + raw).digest()
        fx = json.loads(raw)
        base = os.path.dirname(os.path.abspath(args.fixture))
        self.mailboxes = {k.lower(): Mailbox(k, v, base)
                          for k, v in fx["mailboxes"].items()}
        CORRUPT.update(args.corrupt)
        for spec in args.big:
            self.add_big(spec)
        self.users = dict(u.split(":", 1) for u in args.user)
        self.tokens = dict(t.split(":", 1) for t in args.token)
        self.impersonators = set(args.impersonator)
        self.lock = threading.Lock()
        self.count = 0
        self.conns = 0
        self.log = open(args.log, "a") if args.log else None
        self.busy_on = set(int(x) for x in args.busy_on.split(",") if x)
        self.busy_msg_on = set(int(x) for x in args.busy_msg_on.split(",") if x)
        self.unavail_on = set(int(x) for x in args.unavailable_on.split(",") if x)
        self.stop_batch_on = set(int(x) for x in args.stop_batch_on.split(",") if x)
        self.unauth_on = set(int(x) for x in args.unauthorized_on.split(",") if x)

    def add_big(self, spec):
        """--big FOLDERID:ITEMID:BYTES:PATH: a generated message of BYTES
        bytes (its base64 exceeds libxml2's 10 MB text-node limit when
        BYTES > 7.5 MB), also written to PATH for comparison."""
        folder, item, size, path = spec.split(":", 3)
        size = int(size)
        head = ("From: big@example.com\r\nTo: alice@example.com\r\n"
                "Subject: big attachment\r\nMessage-ID: <%s@fixture.example>\r\n"
                "\r\n" % item).encode()
        lines, n = [], 0
        while len(head) + n < size:
            line = ("%08d " % n).encode() + b"0123456789abcdef" * 4 + b"\r\n"
            lines.append(line)
            n += len(line)
        mime = (head + b"".join(lines))[:size]
        with open(path, "wb") as fh:
            fh.write(mime)
        for mb in self.mailboxes.values():
            if folder in mb.by_id:
                it = {"id": item, "folder": folder, "mime": mime, "read": True,
                      "received": "2024-04-20T12:00:00Z"}
                mb.items.append(it)
                mb.item_by_id[item] = it

    def next_request(self):
        with self.lock:
            self.count += 1
            return self.count

    def next_conn(self):
        with self.lock:
            self.conns += 1
            return self.conns

    def record(self, entry):
        if self.log:
            with self.lock:
                self.log.write(json.dumps(entry) + "\n")
                self.log.flush()


# ---------------------------------------------------------------- sync states

def make_state(mailbox, folder, pos):
    payload = base64.b64encode(json.dumps(
        {"mb": mailbox, "f": folder, "pos": pos}).encode()).decode()
    mac = hmac.new(SECRET, payload.encode(), hashlib.sha256).hexdigest()[:16]
    return "H4sI" + payload + "." + mac


def read_state(token, mailbox, folder):
    try:
        if not token.startswith("H4sI"):
            raise ValueError
        payload, mac = token[4:].rsplit(".", 1)
        want = hmac.new(SECRET, payload.encode(), hashlib.sha256).hexdigest()[:16]
        if not hmac.compare_digest(mac, want):
            raise ValueError
        d = json.loads(base64.b64decode(payload))
        if d["mb"] != mailbox or d["f"] != folder:
            raise ValueError
        return int(d["pos"])
    except (ValueError, KeyError, TypeError):
        return None


# ---------------------------------------------------------------- XML output

def envelope(body):
    return ('<?xml version="1.0" encoding="utf-8"?>'
            '<s:Envelope xmlns:s="%s"><s:Header>'
            '<h:ServerVersionInfo MajorVersion="15" MinorVersion="1" '
            'MajorBuildNumber="2507" MinorBuildNumber="6" '
            'xmlns:h="%s"/></s:Header><s:Body '
            'xmlns:m="%s" xmlns:t="%s">%s</s:Body></s:Envelope>'
            % (NS_S, NS_T, NS_M, NS_T, body))


def fault(code, text, backoff=None):
    mx = ""
    if backoff is not None:
        mx = ('<t:MessageXml><t:Value Name="BackOffMilliseconds">%d</t:Value>'
              '</t:MessageXml>' % backoff)
    return envelope(
        '<s:Fault><faultcode xmlns:a="%s">a:%s</faultcode>'
        '<faultstring xml:lang="en-US">%s</faultstring><detail>'
        '<e:ResponseCode xmlns:e="%s">%s</e:ResponseCode>'
        '<e:Message xmlns:e="%s">%s</e:Message>%s</detail></s:Fault>'
        % (NS_T, code, escape(text), NS_E, code, NS_E, escape(text), mx))


def error_message(name, code, text, backoff=None, extra=""):
    mx = ""
    if backoff is not None:
        mx = ('<m:MessageXml><t:Value Name="BackOffMilliseconds">%d</t:Value>'
              '</m:MessageXml>' % backoff)
    return ('<m:%s ResponseClass="Error"><m:MessageText>%s</m:MessageText>'
            '<m:ResponseCode>%s</m:ResponseCode>'
            '<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>%s%s</m:%s>'
            % (name, escape(text), code, mx, extra, name))


def wrap(op, messages):
    return envelope('<m:%sResponse><m:ResponseMessages>%s</m:ResponseMessages>'
                    '</m:%sResponse>' % (op, "".join(messages), op))


FOLDER_ELEMENT = {"IPF.Appointment": "CalendarFolder",
                  "IPF.Contact": "ContactsFolder", "IPF.Task": "TasksFolder"}
ITEM_ELEMENT = {"IPM.Appointment": "CalendarItem", "IPM.Contact": "Contact",
                "IPM.Task": "Task",
                "IPM.Schedule.Meeting.Request": "MeetingRequest"}


def folder_xml(mb, f):
    cls = f.get("class", "IPF.Note")
    el = "SearchFolder" if f.get("search") else FOLDER_ELEMENT.get(cls, "Folder")
    kids = sum(1 for g in mb.folders if g.get("parent") == f["id"])
    total = sum(1 for it in mb.items if it["folder"] == f["id"])
    parent = f.get("parent", mb.root)
    return ('<t:%s><t:FolderId Id=%s ChangeKey="AQ=="/>'
            '<t:ParentFolderId Id=%s ChangeKey="AQ=="/>'
            '<t:FolderClass>%s</t:FolderClass><t:DisplayName>%s</t:DisplayName>'
            '<t:TotalCount>%d</t:TotalCount><t:ChildFolderCount>%d'
            '</t:ChildFolderCount></t:%s>'
            % (el, quoteattr(f["id"]), quoteattr(parent), escape(cls),
               escape(f["name"]), total, kids, el))


def item_xml(it, mime=False):
    cls = it.get("class", "IPM.Note")
    el = ITEM_ELEMENT.get(cls, "Message")
    parts = []
    if mime:
        parts.append('<t:MimeContent CharacterSet="UTF-8">%s</t:MimeContent>'
                     % ("QUJD!!not-base64!!" if it["id"] in CORRUPT
                        else base64.b64encode(it["mime"]).decode()))
    parts.append('<t:ItemId Id=%s ChangeKey="CQAAAB"/>' % quoteattr(it["id"]))
    parts.append("<t:ItemClass>%s</t:ItemClass>" % escape(cls))
    # Schema order of t:ItemType: ..., DateTimeReceived, Size, ...,
    # IsDraft, ..., DateTimeSent, ..., ExtendedProperty, then the
    # t:MessageType part (IsRead).
    parts.append("<t:DateTimeReceived>%s</t:DateTimeReceived>" % it["received"])
    parts.append("<t:Size>%d</t:Size>" % (len(it["mime"]) + 517))
    if mime:
        parts.append("<t:IsDraft>%s</t:IsDraft>" % str(bool(it.get("draft"))).lower())
        parts.append("<t:DateTimeSent>%s</t:DateTimeSent>" % it["received"])
        if it.get("flag"):
            parts.append('<t:ExtendedProperty><t:ExtendedFieldURI '
                         'PropertyTag="0x1090" PropertyType="Integer"/>'
                         '<t:Value>%d</t:Value></t:ExtendedProperty>' % it["flag"])
        if it.get("verb"):
            parts.append('<t:ExtendedProperty><t:ExtendedFieldURI '
                         'PropertyTag="0x1081" PropertyType="Integer"/>'
                         '<t:Value>%d</t:Value></t:ExtendedProperty>' % it["verb"])
        if el in ("Message", "MeetingRequest"):
            parts.append("<t:IsRead>%s</t:IsRead>" % str(bool(it.get("read"))).lower())
    return "<t:%s>%s</t:%s>" % (el, "".join(parts), el)


# ---------------------------------------------------------------- requests

def expect_order(op_el, names):
    """EWS validates against its XSD: child order matters (brief §1)."""
    got = [local(c.tag) for c in op_el]
    pos = -1
    for g in got:
        if g not in names:
            raise SoapError("ErrorSchemaValidation",
                            "The element '%s' is not expected here." % g)
        i = names.index(g)
        if i < pos:
            raise SoapError("ErrorSchemaValidation",
                            "The element '%s' is out of order." % g)
        pos = i


def page_view(op_el, view):
    v = op_el.find(q(NS_M, view))
    if v is None:
        return 0, 1000
    return int(v.get("Offset", "0")), int(v.get("MaxEntriesReturned", "1000"))


def resolve_folder(mb, el):
    """A t:FolderId or t:DistinguishedFolderId element -> folder id."""
    if local(el.tag) == "DistinguishedFolderId":
        return mb.distinguished.get(el.get("Id"))
    fid = el.get("Id")
    return fid if fid in mb.by_id or fid == mb.root else None


def op_get_folder(st, mb, op_el, entry):
    expect_order(op_el, ["FolderShape", "FolderIds"])
    msgs = []
    for fel in op_el.find(q(NS_M, "FolderIds")):
        fid = resolve_folder(mb, fel)
        if fid is None:
            msgs.append(error_message("GetFolderResponseMessage", "ErrorFolderNotFound",
                                      "The specified folder could not be found in the store.",
                                      extra="<m:Folders/>"))
            continue
        msgs.append('<m:GetFolderResponseMessage ResponseClass="Success">'
                    '<m:ResponseCode>NoError</m:ResponseCode><m:Folders><t:Folder>'
                    '<t:FolderId Id=%s ChangeKey="AQ=="/></t:Folder></m:Folders>'
                    '</m:GetFolderResponseMessage>' % quoteattr(fid))
    return wrap("GetFolder", msgs)


def op_find_folder(st, mb, op_el, entry):
    expect_order(op_el, ["FolderShape", "IndexedPageFolderView", "Restriction",
                         "ParentFolderIds"])
    if op_el.get("Traversal") != "Deep":
        raise SoapError("ErrorInvalidRequest", "fake: only Deep traversal")
    parent = resolve_folder(mb, op_el.find(q(NS_M, "ParentFolderIds"))[0])
    if parent != mb.root:
        raise SoapError("ErrorInvalidRequest", "fake: only msgfolderroot")
    offset, maxn = page_view(op_el, "IndexedPageFolderView")
    maxn = min(maxn, st.args.folder_page_cap)
    page = mb.folders[offset:offset + maxn]
    last = offset + len(page) >= len(mb.folders)
    return wrap("FindFolder", [
        '<m:FindFolderResponseMessage ResponseClass="Success">'
        '<m:ResponseCode>NoError</m:ResponseCode><m:RootFolder '
        'IndexedPagingOffset="%d" TotalItemsInView="%d" '
        'IncludesLastItemInRange="%s"><t:Folders>%s</t:Folders></m:RootFolder>'
        '</m:FindFolderResponseMessage>'
        % (offset + len(page), len(mb.folders), str(last).lower(),
           "".join(folder_xml(mb, f) for f in page))])


def op_sync(st, mb, op_el, entry):
    expect_order(op_el, ["ItemShape", "SyncFolderId", "SyncState", "Ignore",
                         "MaxChangesReturned", "SyncScope"])
    name = "SyncFolderItemsResponseMessage"
    if st.args.no_sync:
        return wrap("SyncFolderItems", [error_message(
            name, "ErrorInvalidOperation",
            "fake: SyncFolderItems is switched off for this test.")])
    mc = op_el.find(q(NS_M, "MaxChangesReturned"))
    if mc is None:
        raise SoapError("ErrorSchemaValidation", "MaxChangesReturned is required.")
    maxn = int(mc.text)
    if not 1 <= maxn <= 512:
        raise SoapError("ErrorInvalidRequest", "MaxChangesReturned out of range.")
    fid = resolve_folder(mb, op_el.find(q(NS_M, "SyncFolderId"))[0])
    if fid is None:
        return wrap("SyncFolderItems", [error_message(
            name, "ErrorSyncFolderNotFound", "The folder was not found.",
            extra="<m:SyncState/>")])
    ss = op_el.find(q(NS_M, "SyncState"))
    pos = 0
    if ss is not None and (ss.text or ""):
        pos = None if st.args.invalid_sync_state else read_state(ss.text, mb.smtp, fid)
        if pos is None:
            entry["sync_state_rejected"] = True
            return wrap("SyncFolderItems", [error_message(
                name, "ErrorInvalidSyncStateData", "Synchronization state data "
                "is corrupt or otherwise invalid.", extra="<m:SyncState/>")])
    items = mb.visible(fid, st.args.phase)
    page = items[pos:pos + maxn]
    newpos = pos + len(page)
    last = newpos >= len(items)
    changes = "".join("<t:Create>%s</t:Create>" % item_xml(it) for it in page)
    return wrap("SyncFolderItems", [
        '<m:%s ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
        '<m:SyncState>%s</m:SyncState><m:IncludesLastItemInRange>%s'
        '</m:IncludesLastItemInRange><m:Changes>%s</m:Changes></m:%s>'
        % (name, make_state(mb.smtp, fid, newpos), str(last).lower(), changes, name)])


def op_find_item(st, mb, op_el, entry):
    expect_order(op_el, ["ItemShape", "IndexedPageItemView", "Restriction",
                         "SortOrder", "ParentFolderIds"])
    fid = resolve_folder(mb, op_el.find(q(NS_M, "ParentFolderIds"))[0])
    if fid is None:
        return wrap("FindItem", [error_message("FindItemResponseMessage",
                                               "ErrorFolderNotFound", "No folder.")])
    offset, maxn = page_view(op_el, "IndexedPageItemView")
    maxn = min(maxn, st.args.item_page_cap)  # partial pages happen (§3)
    items = mb.visible(fid, st.args.phase)
    page = items[offset:offset + maxn]
    last = offset + len(page) >= len(items)
    return wrap("FindItem", [
        '<m:FindItemResponseMessage ResponseClass="Success">'
        '<m:ResponseCode>NoError</m:ResponseCode><m:RootFolder '
        'IndexedPagingOffset="%d" TotalItemsInView="%d" '
        'IncludesLastItemInRange="%s"><t:Items>%s</t:Items></m:RootFolder>'
        '</m:FindItemResponseMessage>'
        % (offset + len(page), len(items), str(last).lower(),
           "".join(item_xml(it) for it in page))])


def op_get_item(st, mb, op_el, entry):
    expect_order(op_el, ["ItemShape", "ItemIds"])
    shape = op_el.find(q(NS_M, "ItemShape"))
    inc = shape.find(q(NS_T, "IncludeMimeContent"))
    mime = inc is not None and inc.text == "true"
    msgs = []
    stop = entry["n"] in st.stop_batch_on
    for iel in op_el.find(q(NS_M, "ItemIds")):
        it = mb.item_by_id.get(iel.get("Id"))
        if stop and msgs:
            # The budget ran out after the first item (brief §4): the
            # client must send the remaining ids again.
            entry["injected"] = "batch-stopped"
            msgs.append('<m:GetItemResponseMessage ResponseClass="Warning">'
                        '<m:MessageText>The batch was stopped.</m:MessageText>'
                        '<m:ResponseCode>ErrorBatchProcessingStopped</m:ResponseCode>'
                        '<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey><m:Items/>'
                        '</m:GetItemResponseMessage>')
        elif it is None or it.get("phase", 1) > st.args.phase or it["id"] in st.args.vanish:
            msgs.append(error_message("GetItemResponseMessage", "ErrorItemNotFound",
                                      "The specified object was not found in the store.",
                                      extra="<m:Items/>"))
        elif it.get("fail"):
            msgs.append(error_message("GetItemResponseMessage", it["fail"],
                                      "fake: this item cannot be converted to MIME.",
                                      extra="<m:Items/>"))
        else:
            msgs.append('<m:GetItemResponseMessage ResponseClass="Success">'
                        '<m:ResponseCode>NoError</m:ResponseCode><m:Items>%s'
                        '</m:Items></m:GetItemResponseMessage>' % item_xml(it, mime))
    return wrap("GetItem", msgs)


OPS = {"GetFolder": op_get_folder, "FindFolder": op_find_folder,
       "SyncFolderItems": op_sync, "FindItem": op_find_item,
       "GetItem": op_get_item}


# ---------------------------------------------------------------- NTLM

def md4(data):
    """RFC 1320; hashlib's md4 is gone with OpenSSL 3's default provider."""
    def rol(v, n):
        v &= 0xffffffff
        return ((v << n) | (v >> (32 - n))) & 0xffffffff
    msg = data + b"\x80" + b"\0" * ((55 - len(data)) % 64) + struct.pack("<Q", len(data) * 8)
    h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]
    f = lambda x, y, z: (x & y) | (~x & z)
    g = lambda x, y, z: (x & y) | (x & z) | (y & z)
    k = lambda x, y, z: x ^ y ^ z
    rounds = [(f, 0, list(range(16)), (3, 7, 11, 19)),
              (g, 0x5a827999, [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15], (3, 5, 9, 13)),
              (k, 0x6ed9eba1, [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15], (3, 9, 11, 15))]
    for off in range(0, len(msg), 64):
        x = struct.unpack("<16I", msg[off:off + 64])
        a, b, c, d = h
        for fn, const, order, shifts in rounds:
            for i, xi in enumerate(order):
                a = rol(a + fn(b, c, d) + x[xi] + const, shifts[i % 4])
                a, b, c, d = d, a, b, c
        h = [(v + w) & 0xffffffff for v, w in zip(h, (a, b, c, d))]
    return struct.pack("<4I", *h)


def ntlm_challenge_message(challenge):
    """NTLM CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2) with target info, so that
    the client answers with NTLMv2."""
    target = "FAKE".encode("utf-16-le")
    info = struct.pack("<HH", 2, len(target)) + target + struct.pack("<HH", 0, 0)
    flags = (0x00000001 | 0x00000004 | 0x00000200 | 0x00008000 | 0x00010000 |
             0x00080000 | 0x00800000 | 0x20000000 | 0x80000000)
    return (b"NTLMSSP\0" + struct.pack("<I", 2) +
            struct.pack("<HHI", len(target), len(target), 48) +
            struct.pack("<I", flags) + challenge + b"\0" * 8 +
            struct.pack("<HHI", len(info), len(info), 48 + len(target)) +
            target + info)


def ntlm_check(users, challenge, msg):
    """Verify an NTLMv2 AUTHENTICATE_MESSAGE; the login it proves, or None."""
    def field(off):
        ln, _, at = struct.unpack_from("<HHI", msg, off)
        return msg[at:at + ln]
    if len(msg) < 64 or msg[:8] != b"NTLMSSP\0" or struct.unpack_from("<I", msg, 8)[0] != 3:
        return None
    nt = field(20)
    domain = field(28).decode("utf-16-le", "replace")
    user = field(36).decode("utf-16-le", "replace")
    login = domain + "\\" + user if domain else user
    pw = users.get(login)
    if pw is None or len(nt) <= 24:
        return None  # unknown user, or NTLMv1: refused
    ntowf = hmac.new(md4(pw.encode("utf-16-le")),
                     (user.upper() + domain).encode("utf-16-le"), "md5").digest()
    proof = hmac.new(ntowf, challenge + nt[16:], "md5").digest()
    return login if hmac.compare_digest(proof, nt[:16]) else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-ews/1"
    timeout = 30

    def log_message(self, fmt, *args):
        if self.server.state.args.verbose:
            sys.stderr.write("fake_ews: " + fmt % args + "\n")

    def send(self, status, body, extra=None):
        data = body.encode() if isinstance(body, str) else body
        headers = dict(extra or {})
        if status in (200, 500):
            headers["Content-Type"] = "text/xml; charset=utf-8"
            if "gzip" in self.headers.get("Accept-Encoding", ""):
                data = gzip.compress(data)
                headers["Content-Encoding"] = "gzip"
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def setup(self):
        super().setup()
        self.conn_id = self.server.state.next_conn()
        self.ntlm_user = None
        self.ntlm_challenge = None

    def authenticate(self, entry):
        """The login of this request; None for 401.  NTLM authenticates the
        connection (MS-NLMP), so a finished handshake covers every later
        request on it."""
        st = self.server.state
        auth = self.headers.get("Authorization", "")
        if auth.startswith("NTLM ") and st.args.ntlm:
            try:
                msg = base64.b64decode(auth[5:])
            except ValueError:
                return None
            if msg[8:12] == struct.pack("<I", 1):
                entry["ntlm"] = "negotiate"
                self.ntlm_user = None
                self.ntlm_challenge = os.urandom(8)
                return None
            if msg[8:12] == struct.pack("<I", 3) and self.ntlm_challenge:
                entry["ntlm"] = "authenticate"
                self.ntlm_user = ntlm_check(st.users, self.ntlm_challenge, msg)
                self.ntlm_challenge = None
            return self.ntlm_user
        if not auth and self.ntlm_user is not None:
            return self.ntlm_user
        if auth.startswith("Basic "):
            try:
                user, pw = base64.b64decode(auth[6:]).decode().split(":", 1)
            except (ValueError, UnicodeDecodeError):
                return None
            if st.users.get(user) == pw:
                return user
        elif auth.startswith("Bearer "):
            return st.tokens.get(auth[7:].strip())
        return None

    def do_GET(self):
        self.send(405, "POST only\n", {"Allow": "POST"})

    def do_POST(self):
        st = self.server.state
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        entry = {"conn": self.conn_id, "ua": self.headers.get("User-Agent"),
                 "anchor": self.headers.get("X-AnchorMailbox"),
                 "ctype": self.headers.get("Content-Type"),
                 "gzip": "gzip" in self.headers.get("Accept-Encoding", "")}
        user = self.authenticate(entry)
        entry["user"] = user
        if user is None:
            entry["status"] = 401
            st.record(entry)
            if self.ntlm_challenge is not None:
                chal = base64.b64encode(ntlm_challenge_message(self.ntlm_challenge)).decode()
                self.send(401, "Unauthorized\n", {"WWW-Authenticate": "NTLM " + chal})
            elif st.args.ntlm:
                self.send(401, "Unauthorized\n", {"WWW-Authenticate": "NTLM"})
            else:
                self.send(401, "Unauthorized\n",
                          {"WWW-Authenticate": 'Basic realm="fake-ews"'})
            return
        # Request numbers count authenticated requests only, so that
        # injected faults land on the same operation whatever the auth.
        n = entry["n"] = st.next_request()
        if n in st.unauth_on:
            # What NTLM under load or an expired token looks like.
            entry["injected"] = "401"
            entry["status"] = 401
            st.record(entry)
            self.send(401, "Unauthorized\n", {"WWW-Authenticate": 'Basic realm="fake-ews"'})
            return
        status, body, extra = self.handle_soap(st, n, user, raw, entry)
        entry["status"] = status
        st.record(entry)
        self.send(status, body, extra)

    def handle_soap(self, st, n, user, raw, entry):
        if n in st.unavail_on:
            entry["injected"] = "503"
            return 503, "Service Unavailable\n", {"Retry-After": str(st.args.retry_after)}
        try:
            root = ET.fromstring(raw)
        except ET.ParseError as e:
            return 500, fault("ErrorSchemaValidation", "XML: %s" % e), None
        try:
            return 200, self.dispatch(st, n, user, root, entry), None
        except SoapError as e:
            entry["fault"] = e.code
            return 500, fault(e.code, e.text, e.backoff), None

    def dispatch(self, st, n, user, root, entry):
        if root.tag != q(NS_S, "Envelope"):
            raise SoapError("ErrorSchemaValidation", "Not a SOAP envelope.")
        if not (self.headers.get("Content-Type") or "").startswith("text/xml"):
            raise SoapError("ErrorInvalidRequest", "Content-Type must be text/xml.")
        header = root.find(q(NS_S, "Header"))
        body = root.find(q(NS_S, "Body"))
        if body is None or len(body) == 0:
            raise SoapError("ErrorSchemaValidation", "Empty body.")
        op_el = body[0]
        op = local(op_el.tag)
        entry["op"] = op
        if op_el.tag != q(NS_M, op) or op not in OPS:
            raise SoapError("ErrorInvalidRequest", "fake: unsupported operation %s" % op)
        rsv = header.find(q(NS_T, "RequestServerVersion")) if header is not None else None
        version = rsv.get("Version") if rsv is not None else None
        entry["version"] = version
        if version not in VERSIONS:
            raise SoapError("ErrorInvalidServerVersion",
                            "The specified server version is invalid.")
        if VERSIONS.index(version) > VERSIONS.index(st.args.max_version):
            raise SoapError("ErrorInvalidServerVersion",
                            "The specified server version is invalid.")
        imp = None
        ei = header.find(q(NS_T, "ExchangeImpersonation"))
        if ei is not None:
            sid = ei.find(q(NS_T, "ConnectingSID"))
            addr = sid.find(q(NS_T, "PrimarySmtpAddress")) if sid is not None else None
            if addr is None or not (addr.text or "").strip():
                raise SoapError("ErrorInvalidExchangeImpersonationHeaderData",
                                "fake: only PrimarySmtpAddress is supported.")
            imp = addr.text.strip()
        entry["impersonate"] = imp
        if imp is not None:
            if user not in st.impersonators:
                raise SoapError("ErrorImpersonateUserDenied",
                                "The account does not have permission to "
                                "impersonate the requested user.")
            if (self.headers.get("X-AnchorMailbox") or "").lower() != imp.lower():
                raise SoapError("ErrorInvalidRequest",
                                "fake: X-AnchorMailbox must name the impersonated mailbox.")
            smtp = imp
        else:
            smtp = user
        mb = st.mailboxes.get(smtp.lower())
        if mb is None:
            raise SoapError("ErrorNonExistentMailbox",
                            "No mailbox with such guid / SMTP address: %s" % smtp)
        if op == "SyncFolderItems":
            ss = op_el.find(q(NS_M, "SyncState"))
            entry["sync_state"] = ss is not None and bool(ss.text)
        if n in st.busy_on:
            entry["injected"] = "busy-fault"
            raise SoapError("ErrorServerBusy", "The server cannot service this "
                            "request right now. Try again later.", st.args.busy_ms)
        if n in st.busy_msg_on:
            entry["injected"] = "busy-message"
            return wrap(op, [error_message(
                op + "ResponseMessage", "ErrorServerBusy",
                "The request failed because the server is busy: policy part "
                "'ConcurrentSyncCalls', policy value '5'. Suggested backoff "
                "time %d ms." % st.args.busy_ms, st.args.busy_ms)])
        return OPS[op](st, mb, op_el, entry)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--user", action="append", default=[], help="LOGIN:PASSWORD")
    ap.add_argument("--token", action="append", default=[], help="TOKEN:LOGIN")
    ap.add_argument("--ntlm", action="store_true", help="accept NTLMv2 (per connection)")
    ap.add_argument("--impersonator", action="append", default=[])
    ap.add_argument("--log")
    ap.add_argument("--time-limit", type=float, default=120)
    ap.add_argument("--phase", type=int, default=1)
    ap.add_argument("--busy-on", default="", help="request numbers, 1-based")
    ap.add_argument("--busy-msg-on", default="")
    ap.add_argument("--busy-ms", type=int, default=1000)
    ap.add_argument("--unavailable-on", default="")
    ap.add_argument("--retry-after", type=int, default=1)
    ap.add_argument("--unauthorized-on", default="",
                    help="request numbers answered 401 although the credentials are good")
    ap.add_argument("--invalid-sync-state", action="store_true")
    ap.add_argument("--big", action="append", default=[],
                    help="FOLDERID:ITEMID:BYTES:PATH generated message")
    ap.add_argument("--corrupt", action="append", default=[],
                    help="item id whose MimeContent is not valid base64")
    ap.add_argument("--vanish", action="append", default=[],
                    help="item id listed, but deleted before GetItem")
    ap.add_argument("--stop-batch-on", default="",
                    help="GetItem request numbers answered ErrorBatchProcessingStopped after one item")
    ap.add_argument("--no-sync", action="store_true")
    ap.add_argument("--max-version", default="Exchange2016", choices=VERSIONS)
    ap.add_argument("--item-page-cap", type=int, default=1000)
    ap.add_argument("--folder-page-cap", type=int, default=1000)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.state = State(args)
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as fh:
        fh.write("%d\n" % port)
    os.rename(tmp, args.port_file)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    deadline = time.monotonic() + args.time_limit
    server.timeout = 0.2
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            server.handle_request()
        except (ssl.SSLError, socket.error):
            pass
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
