#!/usr/bin/env python3
"""Dependency audit over `cargo metadata`, in place of `cargo deny` (see .ci/run for why).

Checks, for the packages built on this platform (dev and build dependencies included):
- licenses: each package's SPDX expression is satisfied by the allow list below;
- sources: every package comes from crates.io or from this workspace (no git, no other registry);
- bans: none of the crates below, which would bypass a choice the project made;
- rust-version: the workspace's is no lower than any dependency's (cargo would refuse to build
  with an older toolchain anyway) and no higher than the toolchain CI builds with.
Duplicate versions are listed (as `cargo tree -d` does) but do not fail: most come from
dependencies between two major versions of a common crate, and the one who adds a dependency
is the one to look at them.
Exits non-zero with one line per problem.
"""

import json
import re
import subprocess
import sys

# Licenses the project may ship inside its binary (MIT OR Apache-2.0 itself).
ALLOWED_LICENSES = {
    "MIT",
    "Apache-2.0",
    "Apache-2.0 WITH LLVM-exception",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "ISC",
    "Zlib",
    "0BSD",
    "BSL-1.0",
    "CC0-1.0",
    "Unlicense",
    "Unicode-3.0",
    "CDLA-Permissive-2.0",  # webpki-roots: the Mozilla root certificates
}

# Crates that would bypass a project choice, with the reason.
BANNED = {
    "openssl-sys": "TLS is rustls with ring (reqwest and sqlx are built without native-tls)",
    "native-tls": "TLS is rustls with ring (reqwest and sqlx are built without native-tls)",
    "aws-lc-sys": "rustls uses the ring provider; aws-lc needs cmake and a C toolchain",
}

CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"


def licence_ok(expr: str) -> bool:
    """Whether an SPDX expression (AND, OR, WITH, parentheses; old `/` for OR) is satisfied."""
    tokens = re.findall(r"\(|\)|[A-Za-z0-9.\-+]+(?: WITH [A-Za-z0-9.\-+]+)?", expr.replace("/", " OR "))
    pos = 0

    def disjunction():
        nonlocal pos
        ok = conjunction()
        while pos < len(tokens) and tokens[pos] == "OR":
            pos += 1
            ok = conjunction() or ok
        return ok

    def conjunction():
        nonlocal pos
        ok = atom()
        while pos < len(tokens) and tokens[pos] == "AND":
            pos += 1
            ok = atom() and ok
        return ok

    def atom():
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        if tok == "(":
            ok = disjunction()
            pos += 1  # ")"
            return ok
        return tok in ALLOWED_LICENSES

    ok = disjunction()
    return ok and pos == len(tokens)


def version(text: str) -> tuple:
    """`1.94` and `1.94.0` as the same (major, minor, patch)."""
    parts = [int(x) for x in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main() -> int:
    host = re.search(r"^host: (\S+)$", subprocess.check_output(["rustc", "-vV"], text=True), re.M)[1]
    toolchain = re.search(r"^release: (\d+\.\d+)", subprocess.check_output(["rustc", "-vV"], text=True), re.M)[1]
    meta = json.loads(
        subprocess.check_output(
            ["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform", host]
        )
    )
    used = {n["id"] for n in meta["resolve"]["nodes"]}
    members = set(meta["workspace_members"])
    problems = []
    by_name = {}
    for p in meta["packages"]:
        if p["id"] not in used:
            continue
        name = f'{p["name"]} {p["version"]}'
        by_name.setdefault(p["name"], []).append(p["version"])
        if p["id"] in members:
            continue
        if p["source"] != CRATES_IO:
            problems.append(f"{name}: comes from {p['source']}, not crates.io")
        if not p.get("license"):
            problems.append(f"{name}: no SPDX license expression (license-file: {p.get('license_file')})")
        elif not licence_ok(p["license"]):
            problems.append(f"{name}: license {p['license']!r} is not in .ci/audit.py's allow list")
        if p["name"] in BANNED:
            problems.append(f"{name}: banned: {BANNED[p['name']]}")

    root = next(p for p in meta["packages"] if p["id"] in members and p["name"] == "popctl")
    declared = root.get("rust_version")
    if not declared:
        problems.append("popctl: Cargo.toml has no rust-version")
    else:
        needed = max(
            (version(p["rust_version"]), p["name"])
            for p in meta["packages"]
            if p["id"] in used and p["id"] not in members and p.get("rust_version")
        )
        if version(declared) < needed[0]:
            problems.append(
                f"popctl: rust-version {declared} is below {needed[1]}'s "
                f"{'.'.join(map(str, needed[0]))}"
            )
        if version(declared) > version(toolchain):
            problems.append(f"popctl: rust-version {declared} is above the toolchain's {toolchain}")

    dups = {n: v for n, v in sorted(by_name.items()) if len(v) > 1}
    if dups:
        print("audit: crates built in more than one version (see `cargo tree -d`): "
              + ", ".join(f"{n} {'/'.join(sorted(v))}" for n, v in dups.items()))
    for p in problems:
        print(f"audit: {p}", file=sys.stderr)
    print(f"audit: {len(used)} packages, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
