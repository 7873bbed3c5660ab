# SPDX-License-Identifier: MIT
# The checks of deploy_files.sh (run by it, not alone): the files under
# deploy/ and docs/distributed.md against each other, the program, the
# man page and this machine's Debian archive.  Offline: apt-cache, dpkg,
# ldd and readelf only.  Prints what it checked; exits 1 on any FAIL.
#
#   deploy_files.py SRCDIR BUILDDIR HELP.txt
import csv
import glob
import io
import json
import os
import re
import shlex
import subprocess
import sys

import yaml

SRC, BUILD, HELP = sys.argv[1:4]
DEPLOY = os.path.join(SRC, "deploy")
K8S = os.path.join(DEPLOY, "kubernetes")
bad = 0
# Options the worker/lease work adds (issue 14: migrate --worker and
# --lease, status --workers); until the program knows them they are
# reported, not failed.  Nothing else is.
PENDING_OPTS = {"--worker", "--lease", "--workers"}
PENDING_ENV = {"MAILFERRY_WORKER"}


def fail(msg):
    global bad
    print("FAIL: " + msg, file=sys.stderr)
    bad = 1


def note(msg):
    print("   " + msg)


def rel(path):
    return os.path.relpath(path, SRC)


def run(argv, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, **kw)


# ---------------------------------------------------------------- YAML
print("== every YAML document under deploy/ parses")
docs = {}
for path in sorted(glob.glob(os.path.join(DEPLOY, "**", "*.y*ml"), recursive=True)):
    try:
        with open(path) as f:
            docs[rel(path)] = [d for d in yaml.safe_load_all(f) if d is not None]
    except yaml.YAMLError as e:
        fail("%s does not parse: %s" % (rel(path), e))
        continue
    note("%s: %d document(s)" % (rel(path), len(docs[rel(path)])))
for need in ("deploy/compose.yaml", "deploy/kubernetes/kustomization.yaml",
             "deploy/kubernetes/configmap.yaml", "deploy/kubernetes/secret.example.yaml",
             "deploy/kubernetes/job.yaml"):
    if need not in docs:
        fail("%s is missing or empty" % need)
if bad:
    sys.exit(1)

# ---------------------------------------------------------- Kubernetes
print("== Kubernetes manifests: namespace-agnostic, consistent with each other")
objs = []  # (file, object)
for name, ds in docs.items():
    if name.startswith("deploy/kubernetes/") and not name.endswith("kustomization.yaml"):
        for d in ds:
            objs.append((name, d))
            for k in ("apiVersion", "kind"):
                if k not in d:
                    fail("%s: a document without %s" % (name, k))
            md = d.get("metadata", {})
            if not md.get("name"):
                fail("%s: a %s without metadata.name" % (name, d.get("kind")))
            if "namespace" in md:
                fail("%s: %s %s names a namespace (the manifests are namespace-agnostic)"
                     % (name, d.get("kind"), md.get("name")))


def by_kind(kind):
    return [(f, o) for f, o in objs if o.get("kind") == kind]


kust = docs["deploy/kubernetes/kustomization.yaml"][0]
for r in kust.get("resources", []):
    if not os.path.exists(os.path.join(K8S, r)):
        fail("kustomization.yaml lists %s, which does not exist" % r)
if any("secret" in r for r in kust.get("resources", [])):
    fail("kustomization.yaml applies a Secret: its placeholders would overwrite the real one")
for f, o in objs:
    if f.endswith("secret.example.yaml"):
        continue
    if os.path.basename(f) not in kust.get("resources", []):
        fail("%s is not in kustomization.yaml's resources" % f)
img_names = {i.get("name") for i in kust.get("images", [])}

configmaps = {o["metadata"]["name"]: o for f, o in by_kind("ConfigMap")}
secrets = {o["metadata"]["name"]: o for f, o in by_kind("Secret")}
for name, s in secrets.items():
    if "data" in s:
        fail("Secret %s: use stringData for the example placeholders" % name)
    for k, v in s.get("stringData", {}).items():
        if "CHANGE-ME" not in str(v):
            fail("Secret %s key %s: example value is not a CHANGE-ME placeholder" % (name, k))


def keys_of(kind, name):
    src = configmaps if kind == "configmap" else secrets
    o = src.get(name)
    if o is None:
        return None
    return set((o.get("data") or {}).keys()) | set((o.get("stringData") or {}).keys())


def check_ref(where, kind, name, key):
    ks = keys_of(kind, name)
    if ks is None:
        fail("%s: refers to %s %s, which no manifest defines" % (where, kind, name))
    elif key is not None and key not in ks:
        fail("%s: refers to key %s of %s %s, which it lacks" % (where, key, kind, name))


# The accounts CSV of the ConfigMap the workers mount.
def csv_rows(text, where):
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) < 3:
        fail("%s: the example accounts CSV has fewer than 2 rows" % where)
    if rows and any(len(r) != len(rows[0]) for r in rows[1:]):
        fail("%s: a row has more or fewer fields than the header" % where)
    return rows


TEMPLATE = re.compile(r"\{([A-Za-z0-9_]+)(?:\.(?:local|domain))?\}")
invocations = []  # (where, argv after "mailferry")
env_used = []  # (where, name)
workloads = by_kind("Job") + by_kind("Deployment")
jobs = by_kind("Job")
if len(jobs) != 1:
    fail("expected one Job in deploy/kubernetes, found %d" % len(jobs))
for f, o in workloads:
    kind, oname = o["kind"], o["metadata"]["name"]
    where = "%s %s/%s" % (f, kind, oname)
    spec = o.get("spec", {})
    pod = spec.get("template", {}).get("spec", {})
    if kind == "Job":
        if spec.get("parallelism", 1) < 2:
            fail("%s: parallelism %s: several workers are the point" % (where, spec.get("parallelism")))
        if pod.get("restartPolicy") != "OnFailure":
            fail("%s: restartPolicy is %s, not OnFailure" % (where, pod.get("restartPolicy")))
        if "backoffLimit" not in spec:
            fail("%s: no backoffLimit" % where)
        note("%s: parallelism %d, restartPolicy %s, backoffLimit %s"
             % (where, spec["parallelism"], pod.get("restartPolicy"), spec.get("backoffLimit")))
    psc = pod.get("securityContext", {})
    if not psc.get("runAsNonRoot") or not psc.get("runAsUser"):
        fail("%s: pods must run as a non-root uid (runAsNonRoot, runAsUser)" % where)
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    # mount path -> {file name -> (kind, object name, key)}
    mounted = {}
    for v in vols.values():
        if "secret" in v:
            sv = v["secret"]
            if sv.get("defaultMode") != 0o400:
                fail("%s: secret volume %s: defaultMode %s, not 0400" % (where, v["name"], sv.get("defaultMode")))
            check_ref(where, "secret", sv["secretName"], None)
            if "items" not in sv:
                fail("%s: secret volume %s mounts every key: list the files it needs (items)" % (where, v["name"]))
            for it in sv.get("items", []):
                check_ref(where, "secret", sv["secretName"], it["key"])
        if "configMap" in v:
            for it in v["configMap"].get("items", []):
                check_ref(where, "configmap", v["configMap"]["name"], it["key"])
    for c in pod.get("containers", []):
        cname = "%s container %s" % (where, c["name"])
        if c.get("image") not in img_names:
            fail("%s: image %s is not one kustomization.yaml's images: sets" % (cname, c.get("image")))
        if c.get("command") and os.path.basename(c["command"][0]) != "mailferry":
            fail("%s: overrides the entrypoint (%s); run mailferry directly" % (cname, c["command"][0]))
        args = [str(a) for a in c.get("args", [])]
        invocations.append((cname, args))
        for m in c.get("volumeMounts", []):
            v = vols.get(m["name"])
            if v is None:
                fail("%s: mounts volume %s, which the pod lacks" % (cname, m["name"]))
                continue
            files = {}
            if "secret" in v:
                for it in v["secret"].get("items", []):
                    files[it["path"]] = ("secret", v["secret"]["secretName"], it["key"])
            elif "configMap" in v:
                for it in v["configMap"].get("items", []):
                    files[it["path"]] = ("configmap", v["configMap"]["name"], it["key"])
            else:
                files = None  # emptyDir and the like: anything goes
            mounted[m["mountPath"].rstrip("/")] = files
        envs = {}
        for e in c.get("env", []):
            env_used.append((cname, e["name"]))
            envs[e["name"]] = e
            vf = e.get("valueFrom", {})
            if "configMapKeyRef" in vf:
                check_ref(cname, "configmap", vf["configMapKeyRef"]["name"], vf["configMapKeyRef"]["key"])
            if "secretKeyRef" in vf:
                check_ref(cname, "secret", vf["secretKeyRef"]["name"], vf["secretKeyRef"]["key"])
        if "MAILFERRY_STATE" not in envs and "--state" not in args:
            fail("%s: no MAILFERRY_STATE and no --state" % cname)
        pgpw = envs.get("PGPASSWORD", {}).get("valueFrom", {}).get("secretKeyRef")
        if not pgpw and "PGPASSFILE" not in envs:
            fail("%s: the database password comes neither from a Secret (PGPASSWORD) nor PGPASSFILE" % cname)
        if kind == "Job":
            w = envs.get("MAILFERRY_WORKER", {}).get("valueFrom", {}).get("fieldRef", {})
            if w.get("fieldPath") != "metadata.name":
                fail("%s: MAILFERRY_WORKER is not the pod's name (downward API metadata.name)" % cname)
        st = envs.get("MAILFERRY_STATE", {})
        url = st.get("value")
        if "configMapKeyRef" in st.get("valueFrom", {}):
            r = st["valueFrom"]["configMapKeyRef"]
            url = (configmaps.get(r["name"], {}).get("data") or {}).get(r["key"])
        if url is not None:
            if not re.match(r"^postgres(ql)?://[^:@/]+@[^/]+/[^/?]+", url):
                fail("%s: MAILFERRY_STATE %s is not postgresql://user@host:port/db" % (cname, url))
            if re.match(r"^postgres(ql)?://[^@/]*:[^@/]*@", url):
                fail("%s: MAILFERRY_STATE has a password in it" % cname)
        for a in args:
            if re.search(r"postgres(ql)?://[^@/]*:[^@/]*@", a) or re.search(r"(?i)password=", a):
                fail("%s: a password on the command line: %s" % (cname, a))

        # Paths the arguments and the accounts CSV name must be files of a
        # mount that provides them.
        def provided(path, why):
            d, base = os.path.split(path)
            if d in mounted:
                if mounted[d] is not None and base not in mounted[d]:
                    fail("%s: %s names %s, but the volume at %s has no %s" % (cname, why, path, d, base))
                return mounted[d] and mounted[d].get(base)
            fail("%s: %s names %s, which no volume provides" % (cname, why, path))
            return None

        csvsrc = None
        for i, a in enumerate(args):
            if a.startswith("/"):
                got = provided(a, args[i - 1] if i else "an argument")
                if args[i - 1:i] == ["--accounts"] and got:
                    csvsrc = got
        if args[:1] == ["migrate"]:
            if csvsrc is None:
                fail("%s: migrate without an --accounts file from a ConfigMap or Secret" % cname)
                continue
            kind_, oname_, key_ = csvsrc
            src = configmaps if kind_ == "configmap" else secrets
            text = (src[oname_].get("data") or src[oname_].get("stringData"))[key_]
            rows = csv_rows(text, "%s %s key %s" % (kind_, oname_, key_))
            header = rows[0]
            for a in args:
                for col in TEMPLATE.findall(a):
                    if col not in header:
                        fail("%s: template %s uses {%s}, not a column of the accounts CSV" % (cname, a, col))
            nfile = 0
            for r in rows[1:]:
                for col, val in zip(header, r):
                    if col.endswith("_file") and val:
                        provided(val, "accounts CSV column %s" % col)
                        nfile += 1
            note("%s: %d CSV rows, %d file paths in them, all mounted" % (cname, len(rows) - 1, nfile))

# ------------------------------------------------------------- compose
print("== compose.yaml: PostgreSQL 15 and workers built from the Containerfile")
comp = docs["deploy/compose.yaml"][0]
svcs = comp.get("services", {})
pg = [n for n, s in svcs.items() if str(s.get("image", "")).startswith("postgres:15")]
if not pg:
    fail("compose.yaml: no postgres:15 service")
workers = 0
for n, s in svcs.items():
    b = s.get("build")
    if isinstance(b, dict):
        ctx = os.path.normpath(os.path.join(DEPLOY, b.get("context", ".")))
        if not os.path.isfile(os.path.join(ctx, b.get("dockerfile", "Dockerfile"))):
            fail("compose.yaml %s: build file %s not found in %s" % (n, b.get("dockerfile"), ctx))
    cmd = s.get("command")
    if cmd is None or str(s.get("image", "")).startswith("postgres"):
        continue
    argv = shlex.split(cmd) if isinstance(cmd, str) else [str(a) for a in cmd]
    invocations.append(("compose.yaml service %s" % n, argv))
    for e in (s.get("environment") or {}):
        env_used.append(("compose.yaml service %s" % n, e))
    binds = {}
    for v in s.get("volumes", []):
        parts = str(v).split(":")
        host = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", parts[0])
        if host.startswith("."):
            hp = os.path.normpath(os.path.join(DEPLOY, host))
            if not os.path.exists(hp):
                fail("compose.yaml %s: bind mount source %s does not exist" % (n, host))
            binds[parts[1]] = hp
    if argv[:1] == ["migrate"]:
        workers += (s.get("deploy") or {}).get("replicas", 1)
        acc = argv[argv.index("--accounts") + 1] if "--accounts" in argv else None
        if acc not in binds:
            fail("compose.yaml %s: --accounts %s is not a bind-mounted file" % (n, acc))
            continue
        rows = csv_rows(open(binds[acc]).read(), rel(binds[acc]))
        header = rows[0]
        for a in argv:
            for col in TEMPLATE.findall(a):
                if col not in header:
                    fail("compose.yaml %s: template %s uses {%s}, not a column of %s"
                         % (n, a, col, rel(binds[acc])))
        # The try's source paths exist in the directory mounted for them.
        for r in rows[1:]:
            for col, val in zip(header, r):
                if val.startswith("/"):
                    for mp, hp in binds.items():
                        if val.startswith(mp.rstrip("/") + "/"):
                            if not os.path.exists(hp + val[len(mp.rstrip("/")):]):
                                fail("compose.yaml %s: %s %s is not in %s" % (n, col, val, rel(hp)))
if workers != 3:
    fail("compose.yaml: %d migrate workers, the try wants 3" % workers)
note("%s + %d workers" % (", ".join(pg), workers))

# ---------------------------------------------------------- Containerfile
print("== deploy/Containerfile: stages, runtime packages, no compiler")
cf_path = os.path.join(DEPLOY, "Containerfile")
text = open(cf_path).read()
lines, cur = [], ""
for ln in text.splitlines():
    if ln.lstrip().startswith("#") and not cur:
        continue
    if ln.lstrip().startswith("#"):
        continue
    cur += ln.rstrip("\\").strip() + " "
    if not ln.rstrip().endswith("\\"):
        if cur.strip():
            lines.append(cur.strip())
        cur = ""
stages, st = [], None
for ln in lines:
    instr, _, rest = ln.partition(" ")
    if instr.upper() == "FROM":
        st = {"from": rest, "lines": []}
        stages.append(st)
    elif st is not None:
        st["lines"].append((instr.upper(), rest))
if len(stages) < 2:
    fail("Containerfile: not multi-stage")
    sys.exit(1)


def apt_installs(stage):
    pk = []
    for instr, rest in stage["lines"]:
        if instr != "RUN":
            continue
        for m in re.finditer(r"apt-get install ([^&;|]*)", rest):
            pk += [w for w in m.group(1).split() if not w.startswith("-")]
    return pk


final, build = stages[-1], stages[0]
if not re.match(r"debian:(12|\$\{DEBIAN_RELEASE\})-slim\b", final["from"]):
    fail("Containerfile: final stage is FROM %s, not debian:12-slim" % final["from"])
if not re.match(r"debian:(12|\$\{DEBIAN_RELEASE\})(\s|$)", build["from"]):
    fail("Containerfile: build stage is FROM %s, not debian:12" % build["from"])
if "ARG DEBIAN_RELEASE=12" not in text and "${DEBIAN_RELEASE}" in text:
    fail("Containerfile: DEBIAN_RELEASE is not 12 by default")
runtime = apt_installs(final)
buildpk = apt_installs(build)
COMPILERS = {"gcc", "g++", "cc", "c++", "cpp", "clang", "make", "build-essential",
             "binutils", "libtool", "autoconf", "automake", "pkg-config", "pkgconf"}


def compiler_like(p):
    """A compiler, linker, build tool or headers (not gcc-12-base, the
    directory package every libgcc needs)."""
    return (p in COMPILERS or p.endswith("-dev") or p == "libc-dev-bin" or
            re.match(r"^(gcc|g\+\+|cpp|clang|llvm|lld|binutils)(-\d+)?(-[a-z0-9_-]*-linux-gnu[a-z]*)?$", p))


for p in runtime:
    if compiler_like(p):
        fail("Containerfile: the final stage installs %s" % p)
for instr, rest in final["lines"]:
    if instr == "COPY" and "--from" in rest and not re.search(r"--from=\S+ /out/? /$", rest):
        fail("Containerfile: the final stage copies %s (only the install tree /out belongs there)" % rest)
users = [rest for instr, rest in final["lines"] if instr == "USER"]
if not users or users[-1].split(":")[0] in ("0", "root"):
    fail("Containerfile: the final stage does not end as a non-root USER")
ep = [rest for instr, rest in final["lines"] if instr == "ENTRYPOINT"]
if not ep or ep[-1].replace(" ", "") != '["mailferry"]':
    fail("Containerfile: ENTRYPOINT is not [\"mailferry\"]")
for instr, rest in final["lines"]:
    if instr == "CMD":
        invocations.append(("Containerfile CMD", json.loads(rest)))
for stage in stages:
    for instr, rest in stage["lines"]:
        if instr == "RUN":
            for m in re.finditer(r"(?:^|[\s;&|])mailferry((?:\s+[^&;|\s]+)+)", rest):
                invocations.append(("Containerfile RUN", shlex.split(m.group(1))))
note("final stage: %s" % " ".join(runtime))
# The build stage installs nothing tools/install-deps.sh does not know.
deps = open(os.path.join(SRC, "tools", "install-deps.sh")).read()
for p in buildpk:
    if not re.search(r"(^|\s)%s(\s|$)" % re.escape(p), deps):
        fail("Containerfile: build stage installs %s, which tools/install-deps.sh does not list" % p)

# Debian's archive as apt on this machine knows it.
def apt_closure(pkgs):
    r = run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
             "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"] + pkgs)
    return {ln.strip().split(":")[0] for ln in r.stdout.splitlines()
            if ln and not ln.startswith(" ") and not ln.startswith("<")}


# What every Debian image has without asking: the Essential packages and
# what they depend on (libc6 among them).
base_pkgs = {"libc6", "libgcc-s1"}
have_lists = bool(glob.glob("/var/lib/apt/lists/*Packages*"))
if not have_lists:
    print("   SKIP: apt lists are empty (apt-get update): package names not checked")
else:
    r = run(["dpkg-query", "-W", "-f=${Package} ${Essential}\n"])
    essential = [ln.split()[0] for ln in r.stdout.splitlines() if ln.endswith(" yes")]
    if essential:
        base_pkgs |= set(essential) | apt_closure(essential)
    r = run(["apt-cache", "show", "--no-all-versions"] + runtime)
    known_pkgs = set(re.findall(r"(?m)^Package: (\S+)$", r.stdout))
    for p in runtime:
        if p not in known_pkgs:
            fail("Containerfile: runtime package %s is not in the archive (apt-cache show)" % p)
    # Their whole dependency closure, as apt-get would install it with
    # --no-install-recommends: still no compiler.
    closure = apt_closure(runtime)
    leaked = sorted(p for p in closure if compiler_like(p))
    if leaked:
        fail("Containerfile: the runtime packages pull in %s" % " ".join(leaked))
    note("%d runtime packages in the archive; %d in their dependency closure, no compiler"
         % (len(runtime), len(closure)))

# ------------------------------------------------ libraries the build needs
print("== every library the binary and plugins need comes from a runtime package")
elves = [os.path.join(BUILD, "cli", ".libs", "mailferry")]
elves += glob.glob(os.path.join(BUILD, "lib", ".libs", "libmailferry.so.*.*"))
elves += glob.glob(os.path.join(BUILD, "plugins", "*", ".libs", "*.so"))
elves += glob.glob(os.path.join(BUILD, "sinks", ".libs", "*.so"))
elves = [e for e in elves if os.path.isfile(e) and not os.path.islink(e)]
if len(elves) < 4 or not os.path.isfile(elves[0]):
    fail("built binary or plugins not found under %s (build first)" % BUILD)
ours = {"libmailferry.so.0"}
# The sanitizer runtimes an --enable-sanitizers build (CI's second pass)
# links: the image's build stage configures without sanitizers, so the
# final stage never needs them.
sanitizer = re.compile(r"^lib(asan|ubsan|lsan|tsan|hwasan)\.so")
skipped_sanitizer = set()
env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(BUILD, "lib", ".libs"))
owner = {}  # soname -> package
wanted = {}  # soname -> (file needing it, path ldd resolved it to)
for e in elves:
    r = run(["readelf", "-d", e])
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", r.stdout)
    if r.returncode != 0 or not needed:
        fail("readelf -d %s: no NEEDED entries" % rel(e))
        continue
    paths = {}
    for ln in run(["ldd", e], env=env).stdout.splitlines():
        m = re.match(r"\s*(\S+)\s+=>\s+(/\S+)", ln) or re.match(r"\s*((/\S+))\s+\(", ln)
        if m:
            paths[os.path.basename(m.group(1))] = m.group(2)
    for so in needed:
        if so in ours or so in wanted:
            continue
        if sanitizer.match(so):
            skipped_sanitizer.add(so)
            continue
        if so not in paths:
            fail("%s needs %s, which ldd does not resolve here" % (rel(e), so))
            continue
        wanted[so] = (e, paths[so])


# The path as dpkg knows it: with or without /usr (merged /usr), or the
# symlink's target.
def spellings(p):
    return [p, os.path.realpath(p), re.sub(r"^/usr/", "/", p), "/usr" + p]


cands = sorted({c for e, p in wanted.values() for c in spellings(p)})
by_path = {}
for ln in run(["dpkg", "-S"] + cands).stdout.splitlines():
    m = re.match(r"^([^:,\s]+)(?::[a-z0-9]+)?(?:, [^:]+)*: (/\S+)$", ln)
    if m:
        by_path[m.group(2)] = m.group(1)
for so, (e, p) in sorted(wanted.items()):
    pkg = next((by_path[c] for c in spellings(p) if c in by_path), None)
    if pkg is None:
        fail("%s needs %s (%s), which no installed package owns" % (rel(e), so, p))
        continue
    owner[so] = pkg
base = []
for so, pkg in sorted(owner.items()):
    if pkg in runtime:
        continue
    if pkg in base_pkgs:
        base.append("%s (%s)" % (so, pkg))
        continue
    fail("%s is needed and comes from %s, which the final stage does not install" % (so, pkg))
note("%d files, %d libraries: %s" % (len(elves), len(owner),
     " ".join("%s=%s" % (s, p) for s, p in sorted(owner.items()))))
if skipped_sanitizer:
    note("sanitizer runtimes of this build, not of the image's: %s"
         % " ".join(sorted(skipped_sanitizer)))
note("from every Debian base (Essential and their dependencies): %s" % (" ".join(base) or "none"))

# --------------------------------------------- options against the program
print("== every mailferry option and command used is one the program knows")
help_text = open(HELP).read()
known = set(re.findall(r"--[a-z][a-z0-9]*(?:-[a-z0-9]+)*", help_text))
cmds = set()
block = help_text.split("Commands:", 1)[1].split("\n\n", 1)[0]
for ln in block.splitlines():
    m = re.match(r"^  ([a-z][^ ]*)", ln)
    if m:
        cmds |= set(m.group(1).split("|"))
man = re.sub(r"\\-", "-", open(os.path.join(SRC, "man", "mailferry.1")).read())
man_env = set(re.findall(r"^\.B (MAILFERRY_[A-Z_]+)$",
                         man.split(".SH ENVIRONMENT", 1)[1].split("\n.SH ", 1)[0], re.M))
# docs/distributed.md: lines that run mailferry, continuations joined.
dist = os.path.join(SRC, "docs", "distributed.md")
if os.path.exists(dist):
    joined = re.sub(r"\\\n\s*", " ", open(dist).read())
    for ln in joined.splitlines():
        # "mailferry CMD", "registry/mailferry:TAG CMD" (docker run), and
        # compose's "run --rm worker CMD".
        for m in re.finditer(r"(?:(?:^|[\s(`])(?:\S*/)?mailferry(?::[\w.-]+)?|\brun --rm worker)\s+"
                             r"((?:migrate|status|serve|preflight|verify|enable|"
                             r"disable|plugins|version|--version|--help)\b[^`|;&#]*)", ln):
            try:
                invocations.append(("docs/distributed.md", shlex.split(m.group(1))))
            except ValueError:
                invocations.append(("docs/distributed.md", m.group(1).split()))
else:
    fail("docs/distributed.md is missing")
pending_seen = set()
nopts = 0
for where, argv in invocations:
    words = [a for a in argv if not a.startswith("-")]
    if words and words[0] not in cmds and not argv[0].startswith("-"):
        fail("%s: 'mailferry %s': no such command in --help" % (where, words[0]))
    for a in argv:
        if re.match(r"^--[a-z]", a):
            o = a.split("=", 1)[0]
            nopts += 1
            if o in known:
                continue
            if o in PENDING_OPTS:
                pending_seen.add(o)
                continue
            fail("%s: option %s is not in 'mailferry --help'" % (where, o))
for where, name in env_used:
    if name.startswith("MAILFERRY_") and name not in man_env:
        if name in PENDING_ENV:
            pending_seen.add(name)
        else:
            fail("%s: %s is not in mailferry(1) ENVIRONMENT" % (where, name))
note("%d invocations, %d options, all known%s" % (
    len(invocations), nopts,
    "" if not pending_seen else
    "; NOT YET in --help / ENVIRONMENT (issue 14 work in progress): " + " ".join(sorted(pending_seen))))
sys.exit(bad)
