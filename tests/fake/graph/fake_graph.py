#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A fake Microsoft Graph (mail) + OAuth 2.0 token endpoint for mailferry's tests.

There is no free Exchange Online, so this stands in for the parts of it that
mailferry's Graph source and OAuth code use.  It is NOT Microsoft Graph, not
the Microsoft identity platform and not Google's OAuth server; it imitates
their published request and response shapes:

  Microsoft Graph v1.0
    mailFolder resource type, List mailFolders, List childFolders, Get
      mailFolder (well-known names)   learn.microsoft.com/graph/api/resources/mailfolder
    mailSearchFolder resource type    .../graph/api/resources/mailsearchfolder
    message: delta                    .../graph/api/message-delta
    Use delta query (state tokens,
      @removed, synchronization reset) .../graph/delta-query-overview
    Get MIME content of a message     .../graph/outlook-get-mime-message
    JSON batching (20 requests max)   .../graph/json-batching
    Paging ($top, @odata.nextLink)    .../graph/paging
    Throttling (429 + Retry-After)    .../graph/throttling, throttling-limits
    Error responses                   .../graph/errors
  Microsoft identity platform v2
    OAuth 2.0 client credentials flow .../entra/identity-platform/v2-oauth2-client-creds-grant-flow
    Certificate credentials (x5t,
      x5t#S256, aud/iss/sub/jti/exp)  .../entra/identity-platform/certificate-credentials
    Refresh tokens                    .../entra/identity-platform/v2-oauth2-auth-code-flow
    AADSTS error codes                .../entra/identity-platform/reference-error-codes
  Google
    OAuth 2.0 for server-to-server
      (service account JWT)           developers.google.com/identity/protocols/oauth2/service-account
  RFC 7662 token introspection (for Dovecot's oauth2 passdb, introspection_mode=post)

Python 3 standard library only; RS256 signatures are verified with the
`openssl` command-line tool.  HTTPS on 127.0.0.1 only, port chosen by the
kernel and written to --port-file; stops by itself after --time-limit.
See README.md next to this file.
"""
import argparse
import base64
import email.errors
import email.header
import email.parser
import email.utils
import hashlib
import hmac
import json
import os
import random
import re
import secrets
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

# Top-level directory names of a fixture mailbox -> Graph well-known names.
WELL_KNOWN = {"Inbox": "inbox", "Sent Items": "sentitems", "Drafts": "drafts",
              "Deleted Items": "deleteditems", "Junk Email": "junkemail",
              "Archive": "archive"}
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"  # Graph's own app id
MAILBOX_CONCURRENCY = 4      # Graph's per-app-per-mailbox concurrent limit
BATCH_MAX = 20               # JSON batching limit
FOLDER_PAGE_DEFAULT = 10     # Graph's default $top for mailFolders
DELTA_PAGE_DEFAULT = 50      # default odata.maxpagesize for this fake
CHUNK = 64 * 1024            # $value is streamed in chunks of this size

ARGS = None
STATE = None


def now_iso():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    text = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(text.encode())


def opaque_id(*parts):
    """Exchange-looking ids ("AAMk" + base64 + "="): stable across restarts
    because they are derived from the mailbox and the path, not counters.
    The trailing '=' and '-'/'_' make clients URL-encode them properly."""
    digest = hashlib.sha256("\0".join(parts).encode()).digest()
    return "AAMk" + b64url(digest[:30] + hashlib.sha1(digest).digest()[:3]) + "="


# ------------------------------------------------------------------ mailbox model

class Message:
    """One message.  Its bytes stay on disk (path) unless generated or added
    at runtime (data), so $value of a big message never loads the others."""

    def __init__(self, mb, folder, name, path=None, data=None, meta=None):
        self.id = opaque_id(mb.address, folder.path_key(), name)
        self.folder = folder
        self.name = name
        self.path = path
        self.data = data
        meta = dict(meta or {})
        self.is_read = bool(meta.get("isRead", False))
        self.is_draft = bool(meta.get("isDraft", folder.well_known == "drafts"))
        self.flag = meta.get("flagStatus", "notFlagged")
        headers = self.read_headers()
        self.subject = decode_header(headers.get("Subject", ""))
        self.message_id = (headers.get("Message-ID") or "").strip()
        self.received = meta.get("receivedDateTime") or self.date_from(headers)
        # Change times (ns) drive delta: a file's mtime/ctime, so that a
        # restarted server reports files added to (or sidecars edited in)
        # the fixture after an earlier deltaLink as new/changed.
        self.created = self.changed = meta.get("_changed", 0)
        self.deleted = None  # ns of deletion: a tombstone for delta

    def read_headers(self):
        if self.data is not None:
            raw = self.data[:65536]
        else:
            with open(self.path, "rb") as fh:
                raw = fh.read(65536)
        end = re.search(rb"\r?\n\r?\n", raw)
        raw = raw[:end.start()] if end else raw
        return email.parser.BytesHeaderParser().parsebytes(raw + b"\r\n\r\n")

    def date_from(self, headers):
        try:
            dt = email.utils.parsedate_to_datetime(headers.get("Date"))
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=timezone.utc)
        except (TypeError, ValueError):
            mtime = os.path.getmtime(self.path) if self.path else time.time()
            dt = datetime.fromtimestamp(mtime, timezone.utc)
        return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def size(self):
        return len(self.data) if self.data is not None else os.path.getsize(self.path)

    def chunks(self):
        if self.data is not None:
            for i in range(0, len(self.data), CHUNK):
                yield self.data[i:i + CHUNK]
            return
        with open(self.path, "rb") as fh:
            while True:
                block = fh.read(CHUNK)
                if not block:
                    return
                yield block

    def etag(self):
        tag = hashlib.sha256(("%s:%d" % (self.id, self.changed)).encode()).digest()
        return 'W/"CQAAABYAAAA' + b64url(tag[:15]) + '"'

    def to_json(self, select=None):
        obj = {"@odata.type": "#microsoft.graph.message",
               "@odata.etag": self.etag(), "id": self.id,
               "receivedDateTime": self.received, "isRead": self.is_read,
               "isDraft": self.is_draft, "flag": {"flagStatus": self.flag},
               "parentFolderId": self.folder.id,
               "internetMessageId": self.message_id, "subject": self.subject}
        if select:
            # $select: Graph still returns id and @odata.etag.
            keep = set(select) | {"id", "@odata.etag", "@odata.type"}
            obj = {k: v for k, v in obj.items() if k in keep}
        return obj


def decode_header(value):
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (UnicodeDecodeError, LookupError, email.errors.HeaderParseError):
        return value


class Folder:
    def __init__(self, mb, names, parent, well_known=None, hidden=False, search=None):
        self.mb = mb
        self.names = tuple(names)        # path of display names below the root
        self.id = opaque_id(mb.address, "folder", self.path_key())
        self.display = names[-1] if names else "Top of Information Store"
        self.parent = parent
        self.well_known = well_known
        self.hidden = hidden
        self.search = search             # {"sourceFolders": [...], "filter": ...}
        self.children = []
        self.messages = {}               # file name -> Message (incl. tombstones)

    def path_key(self):
        return "/".join(self.names)

    def live(self):
        return [m for m in self.messages.values() if m.deleted is None]

    def members(self):
        """Messages a delta of this folder reports (tombstones included).
        A search folder shows the unread messages of its source folders,
        under their own ids, as Exchange does."""
        if not self.search:
            return list(self.messages.values())
        out = []
        for name in self.search.get("sourceFolders", []):
            src = self.mb.by_path.get(name)
            if src is not None:
                out += [m for m in src.live() if not m.is_read]
        return out

    def to_json(self):
        live = [m for m in self.members() if m.deleted is None]
        obj = {"id": self.id, "displayName": self.display,
               "parentFolderId": self.parent.id if self.parent else
               opaque_id(self.mb.address, "folder", "\0root-parent"),
               "childFolderCount": len(self.children),
               "unreadItemCount": sum(1 for m in live if not m.is_read),
               "totalItemCount": len(live),
               "sizeInBytes": sum(m.size() for m in live),
               "isHidden": self.hidden}
        if self.search:
            obj = {"@odata.type": "#microsoft.graph.mailSearchFolder", **obj,
                   "isSupported": True, "includeNestedFolders": False,
                   "sourceFolderIds": [self.mb.by_path[p].id for p in
                                       self.search.get("sourceFolders", [])
                                       if p in self.mb.by_path],
                   "filterQuery": self.search.get("filter", "isRead eq false")}
        return obj


class Mailbox:
    def __init__(self, address):
        self.address = address
        self.guid = str(uuid.uuid5(uuid.NAMESPACE_DNS, "fake-graph:" + address.lower()))
        self.root = Folder(self, [], None, well_known="msgfolderroot")
        self.by_id = {self.root.id: self.root}
        self.by_path = {"": self.root}
        self.messages = {}               # id -> Message (incl. tombstones)
        self.inflight = 0
        self.max_inflight = 0

    def add_folder(self, names, hidden=False, search=None):
        key = "/".join(names)
        if key in self.by_path:
            f = self.by_path[key]
            f.hidden = f.hidden or hidden
            f.search = f.search or search
            return f
        parent = self.add_folder(names[:-1]) if len(names) > 1 else self.root
        wk = WELL_KNOWN.get(names[0]) if len(names) == 1 else None
        f = Folder(self, names, parent, wk, hidden, search)
        parent.children.append(f)
        self.by_id[f.id] = f
        self.by_path[key] = f
        return f

    def add_message(self, folder, name, **kw):
        m = Message(self, folder, name, **kw)
        folder.messages[name] = m
        self.messages[m.id] = m
        return m

    def folder(self, ref):
        """A folder by id or well-known name (case-insensitive, as Graph)."""
        if ref in self.by_id:
            return self.by_id[ref]
        for f in self.by_id.values():
            if f.well_known and f.well_known == ref.lower():
                return f
        return None


def load_fixture(top):
    mailboxes = {}
    for address in sorted(os.listdir(top)):
        base = os.path.join(top, address)
        if not os.path.isdir(base) or "@" not in address:
            continue
        mb = Mailbox(address)
        for name in WELL_KNOWN:           # every Exchange mailbox has these
            mb.add_folder([name])
        load_dir(mb, base, [])
        mailboxes[address.lower()] = mb
    return mailboxes


def load_dir(mb, path, names):
    """Directories are folders; an optional .folder.json in one gives
    {"isHidden": true} or {"searchFolder": {"sourceFolders": ["Inbox"]}}."""
    folder = mb.root
    if names:
        spec = {}
        sidecar = os.path.join(path, ".folder.json")
        if os.path.exists(sidecar):
            with open(sidecar) as fh:
                spec = json.load(fh)
        folder = mb.add_folder(names, bool(spec.get("isHidden")), spec.get("searchFolder"))
    for entry in sorted(os.listdir(path)):
        full = os.path.join(path, entry)
        if os.path.isdir(full):
            load_dir(mb, full, names + [entry])
        elif entry.endswith(".eml") and names:
            meta = {}
            changed = file_change_ns(full)
            if os.path.exists(full + ".json"):
                with open(full + ".json") as fh:
                    meta = json.load(fh)
                changed = max(changed, file_change_ns(full + ".json"))
            meta["_changed"] = changed
            mb.add_message(folder, entry, path=full, meta=meta)


def file_change_ns(path):
    st = os.stat(path)
    return max(st.st_mtime_ns, st.st_ctime_ns)


def generate(spec):
    """--generate USER:N:DEPTH: a deterministic synthetic mailbox."""
    user, n, depth = spec.rsplit(":", 2)
    n, depth = int(n), max(1, int(depth))
    rng = random.Random("fake-graph:" + spec)
    mb = Mailbox(user)
    for name in WELL_KNOWN:
        mb.add_folder([name])
    nested = ["Inbox"]
    for level in ["Projects", "2026", "Q1", "Week 1", "Day 1"][:depth]:
        nested.append(level)
        mb.add_folder(list(nested))
    mb.add_folder(["Données"])
    mb.add_folder(["Données", "Sous-dossier été"])
    mb.add_folder(["Conversation History"], hidden=True)
    mb.add_folder(["Unread Mail"], search={"sourceFolders": ["Inbox"],
                                           "filter": "isRead eq false"})
    targets = [f for f in mb.by_id.values() if f.names and not f.search]
    targets.sort(key=lambda f: f.path_key())
    words = ["budget", "meeting", "report", "launch", "invoice", "review",
             "déjà vu", "naïve café", "Grüße", "日本語", "offsite", "roadmap"]
    for i in range(n):
        # Every folder gets one message; after that half go to the Inbox
        # tree, which is where real mailboxes keep most of their mail.
        if i < len(targets):
            folder = targets[i]
        elif rng.random() < 0.5:
            folder = mb.by_path[rng.choice(["Inbox"] * 3 + ["/".join(nested[:k]) for k in
                                                             range(2, len(nested) + 1)])]
        else:
            folder = rng.choice(targets)
        utf8 = i % 3 == 0
        subject = "Message %d about %s" % (i, rng.choice(words[:6]))
        body_words = [rng.choice(words if utf8 else words[:6]) for _ in range(rng.randint(200, 600))]
        body = ("Hello,\r\n\r\nThis is message %d.\r\n" % i
                + "\r\n".join(" ".join(body_words[j:j + 12])
                              for j in range(0, len(body_words), 12))
                + "\r\n\r\n-- \r\nGenerated %s\r\n" % rng.getrandbits(64))
        date = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp() + i * 3607
        head = ("From: Sender %d <sender%d@example.net>\r\nTo: %s\r\n"
                "Subject: %s\r\nDate: %s\r\nMessage-ID: <gen-%d-%x@fake-graph.example>\r\n"
                "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=%s\r\n"
                "Content-Transfer-Encoding: %s\r\n\r\n"
                % (i % 17, i % 17, user, subject, email.utils.formatdate(date),
                   i, rng.getrandbits(32), "utf-8" if utf8 else "us-ascii",
                   "8bit" if utf8 else "7bit"))
        meta = {"isRead": rng.random() < 0.6,
                "flagStatus": rng.choice(["notFlagged"] * 4 + ["flagged", "complete"]),
                "isDraft": folder.well_known == "drafts", "_changed": 0}
        mb.add_message(folder, "gen%05d.eml" % i,
                       data=(head + body).encode("utf-8"), meta=meta)
    return mb


# ------------------------------------------------------------------ server state

class State:
    def __init__(self, args):
        self.lock = threading.RLock()
        self.mailboxes = load_fixture(args.fixture) if args.fixture else {}
        for spec in args.generate:
            mb = generate(spec)
            self.mailboxes[mb.address.lower()] = mb
        self.by_guid = {mb.guid: mb for mb in self.mailboxes.values()}
        # Delta tokens are HMAC-signed with a key derived from the fixture,
        # so a restarted server accepts its earlier tokens, forged ones fail.
        seed = "fake-graph:%s:%s" % (os.path.realpath(args.fixture or ""), args.generate)
        self.secret = hashlib.sha256(seed.encode()).digest()
        self.apps = dict(a.split(":", 1) for a in args.app)
        self.app_certs = {c: load_cert(p) for c, p in
                          (a.split(":", 1) for a in args.app_cert)}
        self.refresh = {}
        for spec in args.refresh_token:
            tok, client, mailbox = spec.split(":", 2)
            self.refresh[tok] = (client, mailbox)
        self.service_accounts = {e: load_pubkey(p) for e, p in
                                 (a.split(":", 1) for a in args.service_account)}
        self.tenants = set(t.lower() for t in args.tenant)
        self.tokens = {}       # access token -> dict(kind, client_id, sub, scope, exp)
        self.graph_count = 0   # for --throttle-every / --unavailable-every
        self.value_count = 0   # for --delete-on-value
        self.stats = {"token": {}, "token_errors": 0, "introspect": 0,
                      "users": 0, "mailFolders": 0, "childFolders": 0,
                      "folder": 0, "message": 0, "delta_pages": 0,
                      "delta_initial": 0, "value": 0, "value_bytes": 0,
                      "batch": 0, "batch_items": 0,
                      "status": {}, "max_inflight": {}}
        self.log = open(args.log, "a") if args.log else None

    def count(self, key, n=1):
        with self.lock:
            self.stats[key] += n

    def count_status(self, status):
        with self.lock:
            s = self.stats["status"]
            s[str(status)] = s.get(str(status), 0) + 1

    def record(self, entry):
        if self.log:
            with self.lock:
                self.log.write(json.dumps(entry) + "\n")
                self.log.flush()

    def mailbox(self, ref):
        ref = unquote(ref)
        return self.mailboxes.get(ref.lower()) or self.by_guid.get(ref.lower())

    def issue(self, kind, client_id, sub, scope):
        tok = "EwB" + b64url(secrets.token_bytes(48))
        with self.lock:
            self.tokens[tok] = {"kind": kind, "client_id": client_id, "sub": sub,
                                "scope": scope, "exp": time.time() + ARGS.token_lifetime}
        return tok

    def sign(self, payload):
        body = b64url(json.dumps(payload, separators=(",", ":")).encode())
        mac = hmac.new(self.secret, body.encode(), hashlib.sha256).digest()
        return body + "." + b64url(mac[:16])

    def unsign(self, token):
        try:
            body, mac = token.rsplit(".", 1)
            want = hmac.new(self.secret, body.encode(), hashlib.sha256).digest()[:16]
            if not hmac.compare_digest(b64url_decode(mac), want):
                return None
            return json.loads(b64url_decode(body))
        except (ValueError, TypeError):
            return None


def load_cert(path):
    """(public key PEM path, x5t, x5t#S256) of an app's certificate."""
    with open(path) as fh:
        pem = fh.read()
    der = ssl.PEM_cert_to_DER_cert(pem[pem.index("-----BEGIN CERTIFICATE"):])
    return (load_pubkey(path), b64url(hashlib.sha1(der).digest()),
            b64url(hashlib.sha256(der).digest()))


def load_pubkey(path):
    """A PEM public key file for openssl dgst -verify; a certificate's key is
    extracted once at startup."""
    with open(path) as fh:
        text = fh.read()
    if "BEGIN CERTIFICATE" not in text:
        return path
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", path],
                         check=True, capture_output=True).stdout
    fd, out = tempfile.mkstemp(prefix="fake-graph-pub-", suffix=".pem")
    with os.fdopen(fd, "wb") as fh:
        fh.write(pub)
    return out


# ------------------------------------------------------------------ JWT (RS256)

class JwtError(Exception):
    pass


def parse_jwt(token):
    try:
        h, p, s = token.split(".")
        header, claims = json.loads(b64url_decode(h)), json.loads(b64url_decode(p))
        sig = b64url_decode(s)
    except (ValueError, TypeError, UnicodeDecodeError):
        raise JwtError("malformed")
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwtError("malformed")
    return header, claims, (h + "." + p).encode(), sig


def rs256_ok(pubkey, signing_input, sig):
    fd, sigfile = tempfile.mkstemp(prefix="fake-graph-sig-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(sig)
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pubkey,
                            "-signature", sigfile], input=signing_input,
                           capture_output=True, timeout=10)
        return r.returncode == 0 and b"Verified OK" in r.stdout
    finally:
        os.unlink(sigfile)


# ------------------------------------------------------------------ errors

class Reply(Exception):
    """A complete HTTP answer, raised from anywhere in a handler."""

    def __init__(self, status, body, headers=None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, dict(headers or {})


def graph_error(status, code, message, headers=None):
    return Reply(status, {"error": {"code": code, "message": message, "innerError": {
        "date": now_iso(), "request-id": str(uuid.uuid4()),
        "client-request-id": str(uuid.uuid4())}}}, headers)


def aad_error(status, error, code, text):
    trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    return Reply(status, {
        "error": error,
        "error_description": "AADSTS%d: %s Trace ID: %s Correlation ID: %s "
                             "Timestamp: %s" % (code, text, trace, corr, stamp),
        "error_codes": [code], "timestamp": stamp, "trace_id": trace,
        "correlation_id": corr,
        "error_uri": "https://login.microsoftonline.com/error?code=%d" % code})


def unauthorized(message):
    return graph_error(401, "InvalidAuthenticationToken", message, {
        "WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.'
        'microsoftonline.com/common/oauth2/authorize", client_id="%s"' % GRAPH_APP_ID})


NOT_FOUND = ("ErrorItemNotFound", "The specified object was not found in the store.")


# ------------------------------------------------------------------ token endpoints

def ms_token(tenant, form, token_url):
    """POST /{tenant}/oauth2/v2.0/token (client credentials, refresh)."""
    if STATE.tenants and tenant.lower() not in STATE.tenants:
        raise aad_error(400, "invalid_request", 90002,
                        "Tenant '%s' not found. Check to make sure you have the "
                        "correct tenant ID and are signing into the correct cloud." % tenant)
    grant = form.get("grant_type", "")
    client = form.get("client_id", "")
    if grant == "client_credentials":
        client = ms_client_auth(tenant, form, token_url)
        scope = form.get("scope", "")
        if not scope:
            raise aad_error(400, "invalid_request", 90014,
                            "The required field 'scope' is missing from the credential.")
        if not all(s.endswith("/.default") for s in scope.split()):
            raise aad_error(400, "invalid_scope", 1002012,
                            "The provided value for scope %s is not valid. Client "
                            "credential flows must have a scope value with /.default "
                            "suffixed to the resource identifier (application ID URI)." % scope)
        tok = STATE.issue("app", client, None, scope)
        return {"token_type": "Bearer", "expires_in": ARGS.token_lifetime,
                "ext_expires_in": ARGS.token_lifetime, "access_token": tok}
    if grant == "refresh_token":
        if client not in STATE.apps and client not in STATE.app_certs:
            raise unknown_app(client, tenant)
        if "client_secret" in form and STATE.apps.get(client) != form["client_secret"]:
            raise bad_secret(client)
        with STATE.lock:
            entry = STATE.refresh.get(form.get("refresh_token", ""))
            if entry is None or entry[0] != client:
                raise aad_error(400, "invalid_grant", 70000,
                                "Provided grant is invalid or malformed.")
            # Rotation: the old refresh token is spent.
            del STATE.refresh[form["refresh_token"]]
            new_rt = "M.C5" + b64url(secrets.token_bytes(48))
            STATE.refresh[new_rt] = entry
        scope = form.get("scope") or ("https://graph.microsoft.com/Mail.Read "
                                      "https://outlook.office.com/IMAP.AccessAsUser.All")
        tok = STATE.issue("delegated", client, entry[1], scope)
        return {"token_type": "Bearer", "scope": scope,
                "expires_in": ARGS.token_lifetime,
                "ext_expires_in": ARGS.token_lifetime,
                "access_token": tok, "refresh_token": new_rt}
    raise aad_error(400, "unsupported_grant_type", 70003,
                    "The app requested an unsupported grant type '%s'." % grant)


def unknown_app(client, tenant):
    return aad_error(400, "unauthorized_client", 700016,
                     "Application with identifier '%s' was not found in the "
                     "directory '%s'. This can happen if the application has not "
                     "been installed by the administrator of the tenant or "
                     "consented to by any user in the tenant." % (client, tenant))


def bad_secret(client):
    return aad_error(401, "invalid_client", 7000215,
                     "Invalid client secret provided. Ensure the secret being sent "
                     "in the request is the client secret value, not the client "
                     "secret ID, for a secret added to app '%s'." % client)


def ms_client_auth(tenant, form, token_url):
    """The client_id a client-credentials request authenticates as."""
    client = form.get("client_id", "")
    if "client_assertion" in form:
        if form.get("client_assertion_type") != \
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            raise aad_error(400, "invalid_request", 50027,
                            "JWT token is invalid or malformed (client_assertion_type).")
        return check_assertion(tenant, client, form["client_assertion"], token_url)
    if client not in STATE.apps and client not in STATE.app_certs:
        raise unknown_app(client, tenant)
    if STATE.apps.get(client) != form.get("client_secret"):
        if "client_secret" not in form:
            raise aad_error(401, "invalid_client", 7000218,
                            "The request body must contain the following parameter: "
                            "'client_assertion' or 'client_secret'.")
        raise bad_secret(client)
    return client


def check_assertion(tenant, client, assertion, token_url):
    try:
        header, claims, signing_input, sig = parse_jwt(assertion)
    except JwtError:
        raise aad_error(400, "invalid_request", 50027, "JWT token is invalid or malformed.")
    iss = claims.get("iss")
    client = client or iss
    if client not in STATE.app_certs:
        if client in STATE.apps:
            raise aad_error(401, "invalid_client", 700027,
                            "Client assertion failed signature validation. "
                            "[Reason - The key was not found.]")
        raise unknown_app(client, tenant)
    pub, x5t, x5t256 = STATE.app_certs[client]
    if header.get("alg") != "RS256":
        raise aad_error(400, "invalid_request", 5002738,
                        "Invalid JWT token. '%s' is not a supported signature "
                        "algorithm." % header.get("alg"))
    if header.get("x5t") != x5t and header.get("x5t#S256") != x5t256:
        raise aad_error(401, "invalid_client", 700027,
                        "Client assertion failed signature validation. "
                        "[Reason - The key was not found., Thumbprint of key "
                        "used by client: '%s']" % (header.get("x5t") or header.get("x5t#S256")))
    if iss != client or claims.get("sub") != client:
        raise aad_error(401, "invalid_client", 700021,
                        "Client assertion application identifier doesn't match "
                        "'client_id' parameter.")
    auds = {token_url, "https://login.microsoftonline.com/%s/oauth2/v2.0/token" % tenant}
    if claims.get("aud") not in auds:
        raise aad_error(401, "invalid_client", 700212,
                        "Client assertion audience claim does not match Realm "
                        "issuer ('%s')." % claims.get("aud"))
    now = time.time()
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or exp <= now or claims.get("nbf", 0) > now + 300:
        raise aad_error(401, "invalid_client", 700024,
                        "Client assertion is not within its valid time range.")
    if not claims.get("jti"):
        raise aad_error(400, "invalid_request", 50027,
                        "JWT token is invalid or malformed (no jti).")
    if not rs256_ok(pub, signing_input, sig):
        raise aad_error(401, "invalid_client", 700027,
                        "Client assertion contains an invalid signature.")
    return client


def google_token(form, token_url):
    """POST /token: the service-account JWT bearer grant (RFC 7523)."""
    if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
        raise Reply(400, {"error": "unsupported_grant_type",
                          "error_description": "Invalid grant_type: %s"
                          % form.get("grant_type", "")})
    bad = lambda text: Reply(400, {"error": "invalid_grant", "error_description": text})
    try:
        header, claims, signing_input, sig = parse_jwt(form.get("assertion", ""))
    except JwtError:
        raise bad("Invalid JWT: Token must be a short-lived token (60 minutes) "
                  "and in a reasonable timeframe.")
    pub = STATE.service_accounts.get(claims.get("iss"))
    if pub is None:
        raise Reply(401, {"error": "unauthorized_client",
                          "error_description": "Client is unauthorized to retrieve "
                          "access tokens using this method, or client not authorized "
                          "for any of the scopes requested."})
    if header.get("alg") != "RS256" or not rs256_ok(pub, signing_input, sig):
        raise bad("Invalid JWT Signature.")
    if claims.get("aud") not in (token_url, "https://oauth2.googleapis.com/token",
                                 "https://www.googleapis.com/oauth2/v4/token"):
        raise bad("Invalid JWT: Failed audience check. The right audience is %s" % token_url)
    now = time.time()
    exp, iat = claims.get("exp"), claims.get("iat")
    if not all(isinstance(v, (int, float)) for v in (exp, iat)) or exp <= now \
            or iat > now + 300 or exp - iat > 3600:
        raise bad("Invalid JWT: Token must be a short-lived token (60 minutes) and in "
                  "a reasonable timeframe. Check your iat and exp values in the JWT claim.")
    if not claims.get("scope"):
        raise Reply(400, {"error": "invalid_scope", "error_description":
                          "Empty or missing scope not allowed."})
    sub = claims.get("sub")
    if sub and STATE.mailbox(sub) is None:
        raise bad("Invalid email or User ID")
    tok = STATE.issue("google", claims["iss"], sub, claims["scope"])
    return {"access_token": tok, "expires_in": ARGS.token_lifetime, "token_type": "Bearer"}


def introspect(form, query):
    """RFC 7662.  App tokens have no subject: ?user= names one (see README)."""
    with STATE.lock:
        info = STATE.tokens.get(form.get("token", ""))
    if info is None or info["exp"] <= time.time():
        return {"active": False}
    out = {"active": True, "scope": info["scope"], "client_id": info["client_id"],
           "exp": int(info["exp"]), "token_type": "Bearer"}
    sub = info["sub"] or (query.get("user", [None])[0] if info["kind"] == "app" else None)
    if sub:
        out["username"] = out["email"] = sub
    return out


# ------------------------------------------------------------------ Graph

class Ctx:
    """What a Graph request needs besides its path: the token's claims and the
    absolute base for links."""

    def __init__(self, base, token, prefer):
        self.base, self.token, self.prefer = base, token, prefer


def check_token(auth):
    if not auth.startswith("Bearer ") or not auth[7:].strip():
        raise unauthorized("Access token is empty.")
    with STATE.lock:
        info = STATE.tokens.get(auth[7:].strip())
    if info is None:
        raise unauthorized("IDX14100: JWT is not well formed, there are no dots (.).")
    if info["exp"] <= time.time():
        raise unauthorized("Lifetime validation failed, the token is expired.")
    return info


def resolve_user(ctx, seg):
    if seg[0] == "me":
        if not ctx.token["sub"]:
            raise graph_error(400, "BadRequest", "/me request is only valid with "
                              "delegated authentication flow.")
        mb, rest = STATE.mailbox(ctx.token["sub"]), seg[1:]
    elif seg[0] == "users" and len(seg) > 1:
        mb, rest = STATE.mailbox(seg[1]), seg[2:]
        if mb is None:
            raise graph_error(404, "ErrorInvalidUser",
                              "The requested user '%s' is invalid." % seg[1])
    else:
        raise graph_error(400, "BadRequest", "Resource not found for the segment '%s'."
                          % (seg[0] if seg else ""))
    sub = ctx.token["sub"]
    if sub and sub.lower() != mb.address.lower():
        raise graph_error(403, "ErrorAccessDenied",
                          "Access is denied. Check credentials and try again.")
    return mb, rest


def graph_get(ctx, path, query):
    """Dispatch one GET below /v1.0.  Returns (status, body, headers) where
    body is a dict (JSON) or a Message (for $value)."""
    seg = [unquote(s) for s in path.strip("/").split("/") if s]
    mb, rest = resolve_user(ctx, seg)
    user_path = "/".join(quote(s, safe="@") for s in seg[:len(seg) - len(rest)])
    if not rest:
        STATE.count("users")
        return 200, {"@odata.context": ctx.base + "/$metadata#users/$entity",
                     "id": mb.guid, "mail": mb.address, "userPrincipalName": mb.address,
                     "displayName": mb.address.split("@")[0]}, {}
    if rest[0] == "messages" and len(rest) in (2, 3):
        return message_get(mb, rest[1], rest[2:], query)
    if rest[0] != "mailFolders":
        raise graph_error(400, "BadRequest", "Resource not found for the segment '%s'." % rest[0])
    if len(rest) == 1:
        STATE.count("mailFolders")
        return folder_list(ctx, mb, mb.root, user_path + "/mailFolders", query)
    with STATE.lock:
        folder = mb.folder(rest[1])
    if folder is None:
        raise graph_error(404, *NOT_FOUND)
    if len(rest) == 2:
        STATE.count("folder")
        body = {"@odata.context": ctx.base + "/$metadata#users('%s')/mailFolders/$entity"
                % quote(mb.address)}
        with STATE.lock:
            body.update(folder.to_json())
        return 200, body, {}
    if rest[2] == "childFolders" and len(rest) == 3:
        STATE.count("childFolders")
        return folder_list(ctx, mb, folder, "%s/mailFolders/%s/childFolders"
                           % (user_path, quote(rest[1], safe="")), query)
    if rest[2] == "messages" and len(rest) == 4 and rest[3] in ("delta", "microsoft.graph.delta"):
        return delta(ctx, mb, folder, "%s/mailFolders/%s/messages/delta"
                     % (user_path, quote(rest[1], safe="")), query)
    if rest[2] == "messages" and len(rest) in (4, 5):
        return message_get(mb, rest[3], rest[4:], query)
    raise graph_error(400, "BadRequest", "Resource not found for the segment '%s'." % rest[2])


def folder_list(ctx, mb, parent, link_path, query):
    try:
        top = int(query.get("$top", [FOLDER_PAGE_DEFAULT])[0])
        skip = int(query.get("$skip", [0])[0])
    except ValueError:
        raise graph_error(400, "BadRequest", "Invalid $top or $skip value.")
    top = max(1, min(top, 1000))
    hidden = query.get("includeHiddenFolders", ["false"])[0].lower() == "true"
    with STATE.lock:
        kids = [f for f in parent.children if hidden or not f.hidden]
        page = [f.to_json() for f in kids[skip:skip + top]]
    body = {"@odata.context": ctx.base + "/$metadata#users('%s')/mailFolders"
            % quote(mb.address), "value": page}
    if skip + top < len(kids):
        nxt = "%s/%s?$top=%d&$skip=%d" % (ctx.base, link_path, top, skip + top)
        if hidden:
            nxt += "&includeHiddenFolders=true"
        body["@odata.nextLink"] = nxt
    return 200, body, {}


def message_get(mb, msg_id, tail, query):
    with STATE.lock:
        m = mb.messages.get(msg_id)
        if m is not None and tail == ["$value"] and ARGS.delete_on_value:
            STATE.value_count += 1
            if STATE.value_count == ARGS.delete_on_value:
                delete_message(m)       # the client sees ErrorItemNotFound
    if m is None or m.deleted is not None:
        raise graph_error(404, *NOT_FOUND)
    if tail == ["$value"]:
        STATE.count("value")
        return 200, m, {"Content-Type": "text/plain"}
    if tail:
        raise graph_error(400, "BadRequest", "Resource not found for the segment '%s'." % tail[0])
    STATE.count("message")
    select = query.get("$select", [""])[0].split(",") if "$select" in query else None
    return 200, m.to_json(select), {}


def delta(ctx, mb, folder, link_path, query):
    """messages/delta.  Every message carries change times (ns); a session
    is (since, upto]: the first call has since=0 and upto=now, pages walk
    (changed, id) after the last key shown, and the deltaLink's since is the
    session's upto.  Tombstones are reported only to sessions that started
    after the message had been seen (created <= since < deleted)."""
    page_size = DELTA_PAGE_DEFAULT
    m = re.search(r"odata\.maxpagesize\s*=\s*(\d+)", ctx.prefer or "")
    headers = {}
    if m:
        page_size = max(1, int(m.group(1)))
        headers["Preference-Applied"] = "odata.maxpagesize=%d" % page_size
    if "$skiptoken" in query or "$deltatoken" in query:
        is_delta = "$deltatoken" in query
        raw = query.get("$deltatoken", query.get("$skiptoken"))[0]
        if is_delta and ARGS.expire_delta:
            raise graph_error(410, "SyncStateNotFound",
                              "The sync state generation is not found; "
                              "generation=1;[highest=2][2].")
        tok = STATE.unsign(raw)
        if tok is None or tok.get("mb") != mb.address or tok.get("f") != folder.id \
                or tok.get("k") != ("d" if is_delta else "s"):
            raise graph_error(400, "SyncStateInvalid",
                              "The sync state is invalid or was not issued for this folder.")
        select = tok.get("sel")
        if is_delta:
            since, upto, after = tok["upto"], time.time_ns(), None
        else:
            since, upto, after = tok["since"], tok["upto"], tok["after"]
    else:
        sel = query.get("$select", [""])[0]
        select = [s for s in sel.split(",") if s] or None
        # since = -1 marks an initial sync: everything present, no tombstones
        # (generated messages have change time 0).
        since, upto, after = -1, time.time_ns(), None
        STATE.count("delta_initial")
    STATE.count("delta_pages")
    with STATE.lock:
        rows = []
        for msg in folder.members():
            if msg.deleted is None:
                if since < msg.changed <= upto:
                    rows.append(((msg.changed, msg.id), msg, False))
            elif since >= 0 and msg.created <= since < msg.deleted <= upto:
                # Only a client that saw the message is told it is gone.
                rows.append(((msg.deleted, msg.id), msg, True))
        rows.sort(key=lambda r: r[0])
        if after is not None:
            rows = [r for r in rows if r[0] > tuple(after)]
        page, more = rows[:page_size], len(rows) > page_size
        value = [{"@odata.type": "#microsoft.graph.message", "id": msg.id,
                  "@removed": {"reason": "deleted"}} if gone else msg.to_json(select)
                 for _, msg, gone in page]
    body = {"@odata.context": ctx.base + "/$metadata#Collection(message)", "value": value}
    common = {"mb": mb.address, "f": folder.id, "sel": select}
    if more:
        tok = STATE.sign(dict(common, k="s", since=since, upto=upto, after=list(page[-1][0])))
        body["@odata.nextLink"] = "%s/%s?$skiptoken=%s" % (ctx.base, link_path, tok)
    else:
        tok = STATE.sign(dict(common, k="d", upto=upto))
        body["@odata.deltaLink"] = "%s/%s?$deltatoken=%s" % (ctx.base, link_path, tok)
    return 200, body, headers


def delete_message(m):
    m.deleted = max(time.time_ns(), m.changed + 1)


# ------------------------------------------------------------------ throttling

def admit(mailbox):
    """Injected faults and the per-mailbox concurrency limit; returns
    a release function to call once the answer has been sent."""
    with STATE.lock:
        STATE.graph_count += 1
        n = STATE.graph_count
    if ARGS.throttle_every and n % ARGS.throttle_every == 0:
        raise throttled()
    if ARGS.unavailable_every and n % ARGS.unavailable_every == 0:
        raise graph_error(503, "ServiceNotAvailable", "The service is temporarily "
                          "unavailable. Please retry later.", {"Retry-After": "1"})
    if mailbox is None:
        return lambda: None
    with STATE.lock:
        if mailbox.inflight >= MAILBOX_CONCURRENCY:
            raise throttled()
        mailbox.inflight += 1
        mailbox.max_inflight = max(mailbox.max_inflight, mailbox.inflight)
        STATE.stats["max_inflight"][mailbox.address] = mailbox.max_inflight

    def release():
        with STATE.lock:
            mailbox.inflight -= 1
    return release


def throttled():
    return graph_error(429, "ApplicationThrottled",
                       "Application is over its MailboxConcurrency limit.",
                       {"Retry-After": "1"})


def mailbox_of(path):
    seg = [unquote(s) for s in path.strip("/").split("/") if s]
    if len(seg) > 1 and seg[0] == "users":
        return STATE.mailbox(seg[1])
    return None


def run_graph(ctx, path, query):
    """admit + dispatch, for top-level requests and batch items alike."""
    mb = mailbox_of(path)
    if mb is None and path.strip("/").startswith("me"):
        mb = STATE.mailbox(ctx.token["sub"] or "")
    release = admit(mb)
    try:
        return graph_get(ctx, path, query), release
    except Reply:
        release()   # an error answer must not keep the mailbox's slot
        raise


def batch(ctx, body):
    try:
        reqs = json.loads(body or b"{}").get("requests")
    except (ValueError, AttributeError):
        reqs = None
    if not isinstance(reqs, list):
        raise graph_error(400, "BadRequest", "Invalid batch payload format.")
    if len(reqs) > BATCH_MAX:
        raise graph_error(400, "BadRequest", "The number of batch requests exceeds "
                          "the limit of %d." % BATCH_MAX)
    STATE.count("batch")
    out = []
    for req in reqs:
        STATE.count("batch_items")
        rid = str(req.get("id", ""))
        url = req.get("url", "")
        if req.get("method", "GET").upper() != "GET":
            status, rbody, hdrs = 405, {"error": {"code": "ErrorInvalidRequest",
                                                  "message": "fake: only GET"}}, {}
        elif not url or "://" in url:
            status, rbody, hdrs = 400, {"error": {"code": "BadRequest",
                                                  "message": "Invalid request URI: %s" % url}}, {}
        else:
            status, rbody, hdrs = run_item(ctx, url)
        if isinstance(rbody, Message):
            # Non-JSON bodies come back base64-encoded inside a batch.
            rbody = base64.b64encode(b"".join(rbody.chunks())).decode()
        else:
            hdrs = dict(hdrs, **{"Content-Type": "application/json"})
        STATE.count_status(status) if status >= 400 else None
        out.append({"id": rid, "status": status, "headers": hdrs, "body": rbody})
    return 200, {"responses": out}, {}


def run_item(ctx, url):
    parts = urlsplit(url if url.startswith("/") else "/" + url)
    try:
        (status, body, hdrs), release = run_graph(ctx, parts.path, parse_qs(parts.query))
        release()
        return status, body, hdrs
    except Reply as r:
        return r.status, r.body, r.headers


# ------------------------------------------------------------------ test control

def control(path, body):
    if path == "/_control/stats":
        with STATE.lock:
            return json.loads(json.dumps(STATE.stats))
    req = json.loads(body or b"{}")
    mb = STATE.mailbox(req.get("user", ""))
    if mb is None:
        raise Reply(404, {"error": "no such user"})
    with STATE.lock:
        folder = mb.by_path.get(req.get("folder", "").strip("/"))
        if folder is None and req.get("id") in mb.messages:
            m = mb.messages[req["id"]]
            folder, req["name"] = m.folder, m.name
        if folder is None or folder is mb.root:
            raise Reply(404, {"error": "no such folder"})
        old = folder.messages.get(req.get("name", ""))
        if path == "/_control/add":
            mime = req["mime"].encode() if isinstance(req.get("mime"), str) else \
                base64.b64decode(req.get("mime_b64", ""))
            stamp = time.time_ns()
            m = mb.add_message(folder, req["name"], data=mime, meta={
                "isRead": req.get("isRead", False), "isDraft": req.get("isDraft", False),
                "flagStatus": req.get("flagStatus", "notFlagged"),
                "receivedDateTime": req.get("receivedDateTime"), "_changed": stamp})
            if old is not None and old.deleted is None:
                m.created = old.created   # same id: a change, not a new message
            return {"id": m.id, "folderId": folder.id}
        if old is None or old.deleted is not None:
            raise Reply(404, {"error": "no such message"})
        if path == "/_control/delete":
            delete_message(old)
            return {"id": old.id, "deleted": True}
        if path == "/_control/update":
            old.is_read = req.get("isRead", old.is_read)
            old.flag = req.get("flagStatus", old.flag)
            old.changed = max(time.time_ns(), old.changed + 1)
            return {"id": old.id}
    raise Reply(404, {"error": "unknown control"})


# ------------------------------------------------------------------ HTTP

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"    # keep-alive, as Graph and libcurl use
    server_version = "fake-graph"

    def log_message(self, fmt, *a):
        if ARGS.verbose:
            sys.stderr.write("fake-graph: " + fmt % a + "\n")

    def base(self):
        return "https://%s" % (self.headers.get("Host") or
                               "127.0.0.1:%d" % self.server.server_address[1])

    def do_GET(self):
        self.handle_any(b"")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.handle_any(self.rfile.read(length) if length else b"")

    def do_PATCH(self):
        self.do_POST()

    do_DELETE = do_PUT = do_PATCH

    def handle_any(self, body):
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query, keep_blank_values=True)
        entry = {"t": round(time.time(), 3), "method": self.command, "path": path,
                 "query": parts.query, "user": None, "token_kind": None}
        release = lambda: None
        try:
            status, out, headers, release = self.route(path, query, body, entry)
        except Reply as r:
            status, out, headers = r.status, r.body, r.headers
            if path.startswith(("/token", "/introspect")) or "/oauth2/" in path:
                STATE.count("token_errors")
        entry["status"] = status
        if status >= 400:
            STATE.count_status(status)
        if ARGS.latency_ms and not path.startswith("/_control"):
            time.sleep(ARGS.latency_ms / 1000.0)
        try:
            self.send(status, out, headers)
        finally:
            release()
            STATE.record(entry)

    def route(self, path, query, body, entry):
        none = lambda: None
        if path.startswith("/_control/"):
            return 200, control(path, body), {}, none
        if self.command == "POST" and path == "/introspect":
            STATE.count("introspect")
            return 200, introspect(self.form(body), query), {}, none
        if self.command == "POST" and path == "/token":
            self.count_grant(self.form(body), "google")
            return 200, google_token(self.form(body), self.base() + path), {}, none
        m = re.fullmatch(r"/([^/]+)/oauth2/v2\.0/token", path)
        if m and self.command == "POST":
            form = self.form(body)
            self.count_grant(form, "ms")
            entry["client_id"] = form.get("client_id")
            return 200, ms_token(m.group(1), form, self.base() + path), {}, none
        if not path.startswith("/v1.0/"):
            raise Reply(404, {"error": {"code": "NotFound", "message": "fake: no such endpoint"}})
        token = check_token(self.headers.get("Authorization", ""))
        entry["user"], entry["token_kind"] = token["sub"] or token["client_id"], token["kind"]
        ctx = Ctx(self.base() + "/v1.0", token, self.headers.get("Prefer"))
        sub = path[len("/v1.0"):]
        if sub == "/$batch":
            if self.command != "POST":
                raise graph_error(405, "BadRequest", "$batch takes POST.")
            status, out, headers = batch(ctx, body)
            return status, out, headers, none
        if self.command != "GET":
            raise graph_error(405, "ErrorInvalidRequest", "fake: only GET is implemented.")
        (status, out, headers), release = run_graph(ctx, sub, query)
        return status, out, headers, release

    def count_grant(self, form, kind):
        grant = form.get("grant_type", "?")
        if kind == "ms" and "client_assertion" in form:
            grant += "+assertion"
        with STATE.lock:
            STATE.stats["token"][grant] = STATE.stats["token"].get(grant, 0) + 1

    def form(self, body):
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("application/x-www-form-urlencoded"):
            raise aad_error(400, "invalid_request", 900144,
                            "The request body must be application/x-www-form-urlencoded.")
        return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}

    def send(self, status, out, headers):
        headers = dict(headers)
        headers.setdefault("request-id", str(uuid.uuid4()))
        if isinstance(out, Message):
            STATE.count("value_bytes", out.size())
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(out.size()))
            self.end_headers()
            for block in out.chunks():
                self.wfile.write(block)
            return
        data = json.dumps(out, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fixture", help="DIR/<mailbox address>/<folders>/*.eml")
    ap.add_argument("--generate", action="append", default=[], metavar="USER:N:DEPTH")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log")
    ap.add_argument("--time-limit", type=float, default=120)
    ap.add_argument("--app", action="append", default=[], metavar="CLIENT_ID:SECRET")
    ap.add_argument("--app-cert", action="append", default=[], metavar="CLIENT_ID:CERT.pem")
    ap.add_argument("--refresh-token", action="append", default=[],
                    metavar="TOKEN:CLIENT_ID:MAILBOX")
    ap.add_argument("--tenant", action="append", default=[])
    ap.add_argument("--service-account", action="append", default=[],
                    metavar="EMAIL:PUBKEY_OR_CERT.pem")
    ap.add_argument("--token-lifetime", type=int, default=3599)
    ap.add_argument("--throttle-every", type=int, default=0)
    ap.add_argument("--unavailable-every", type=int, default=0)
    ap.add_argument("--expire-delta", action="store_true",
                    help="answer 410 SyncStateNotFound to every $deltatoken")
    ap.add_argument("--delete-on-value", type=int, default=0,
                    help="delete the message of the Nth $value request first")
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    if not args.fixture and not args.generate:
        ap.error("--fixture or --generate is required")
    return args


def main(argv):
    global ARGS, STATE
    ARGS = parse_args(argv)
    STATE = State(ARGS)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ARGS.cert, ARGS.key)
    # The handshake happens in the handler thread (first read), so one slow
    # client cannot stall accept() for the others.
    server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                    do_handshake_on_connect=False)
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as fh:
        fh.write("%d\n" % server.server_address[1])
    os.rename(tmp, ARGS.port_file)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              daemon=True)
    thread.start()
    stop.wait(ARGS.time_limit)
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
