#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A small HTTP client for the "mailferry serve" tests: prints the status
# code on the first line and the body after it.  Secrets are read from
# files, never taken from argv (the tests must not put the token there).
#   serve_client.py METHOD URL [--token-file F] [--cookie-jar J]
#                   [--csrf-from-session] [--origin O] [--login-token-file F]
import argparse
import http.cookiejar
import json
import sys
import urllib.error
import urllib.parse
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def first_line(path):
    with open(path) as f:
        return f.readline().rstrip("\r\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("method")
    p.add_argument("url")
    p.add_argument("--token-file")
    p.add_argument("--cookie-jar")
    p.add_argument("--csrf-from-session", action="store_true")
    p.add_argument("--origin")
    p.add_argument("--login-token-file")
    p.add_argument("--headers", action="store_true", help="print response headers too")
    a = p.parse_args()
    jar = http.cookiejar.MozillaCookieJar(a.cookie_jar) if a.cookie_jar else None
    if jar is not None:
        try:
            jar.load(ignore_discard=True, ignore_expires=True)
        except FileNotFoundError:
            pass
    handlers = [NoRedirect()]
    if jar is not None:
        handlers.append(urllib.request.HTTPCookieProcessor(jar))
    opener = urllib.request.build_opener(*handlers)
    headers = {}
    if a.token_file:
        headers["Authorization"] = "Bearer " + first_line(a.token_file)
    if a.origin:
        headers["Origin"] = a.origin
    if a.csrf_from_session:
        base = urllib.parse.urljoin(a.url, "/api/session")
        with opener.open(urllib.request.Request(base), timeout=10) as r:
            headers["X-CSRF-Token"] = json.load(r)["csrf"]
    data = None
    if a.login_token_file:
        data = urllib.parse.urlencode({"token": first_line(a.login_token_file)}).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif a.method == "POST":
        data = b""
    req = urllib.request.Request(a.url, data=data, headers=headers, method=a.method)
    try:
        r = opener.open(req, timeout=10)
    except urllib.error.HTTPError as e:
        r = e
    body = r.read().decode("utf-8", "replace")
    print(r.status if hasattr(r, "status") else r.code)
    if a.headers:
        for k, v in r.headers.items():
            print(f"{k}: {v}")
        print()
    print(body)
    if jar is not None:
        jar.save(ignore_discard=True, ignore_expires=True)


if __name__ == "__main__":
    sys.exit(main())
