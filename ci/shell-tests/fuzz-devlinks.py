#!/usr/bin/env python3
"""Seeded fuzz run of nb-devlinks over its three listing formats.

    fuzz-devlinks.py --nb-devlinks PATH [--seconds N] [--seed S] [--case I]

Each case builds a /proc/scsi/scsi, `lsscsi -g` or `sg_map -x` listing from
the real layouts with hostile parts (paths and quotes as numbers, escapes,
control bytes and backslashes in vendor/model, duplicates, cut lines) and runs
nb-devlinks on it with a --root that sits twelve directories below the case
directory, in one of four ways (devfs links, udev links, --udev-rules,
--dry-run).  After each run:
  - the exit status is 0, 1 or 3 (2 is a usage error; the fuzz never misuses);
  - nothing exists in the case directory but the input, the rules file, the
    directory chain down to the root, ROOT/dev/{sg,st} and links named
    [n]hHcCtTlL with decimal numbers, pointing at /dev/sgN, /dev/nstN or the
    devfs path of the same numbers; the temporary directory is empty again;
  - every line of the rules file is a comment of printable ASCII that does
    not end in a backslash, or one of the two fixed rules.
Case I draws from random.Random(f"{seed}:{I}"), so `--seed S --case I` replays
one case.  Exit 0 when every case passed, 1 on the first failure (printed
with its seed, case number, command and listing), 2 on bad arguments.
"""

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

DEPTH = 12  # directories between the case directory and the root
MAX_CLIMB = DEPTH - 2  # the fuzz never climbs further, so escapes stay visible

LINK_NAME = re.compile(r"n?h(0|[1-9][0-9]*)c(0|[1-9][0-9]*)t(0|[1-9][0-9]*)l(0|[1-9][0-9]*)")
RULE_SG = re.compile(
    r'SUBSYSTEM=="scsi_generic", KERNELS=="(\d+):(\d+):(\d+):(\d+)", SYMLINK\+="sg/h\1c\2t\3l\4"'
)
RULE_ST = re.compile(
    r'SUBSYSTEM=="scsi_tape", KERNEL=="nst\*\[0-9\]", KERNELS=="(\d+):(\d+):(\d+):(\d+)", '
    r'SYMLINK\+="st/nh\1c\2t\3l\4"'
)
COMMENT = re.compile(r"#[ -~]*")


def number(rng):
    """A host/bus/target/lun field: mostly good, often hostile."""
    good = [str(rng.randrange(0, 16)), "0" + str(rng.randrange(0, 10)), str(rng.randrange(0, 4000))]
    bad = [
        "/" + "/".join([".."] * rng.randrange(1, MAX_CLIMB + 1)) + "/outside/x",
        "../" * rng.randrange(1, MAX_CLIMB + 1) + "esc",
        "-1", "0x1f", "1e3", "+3", "1.0", "", "٣", "1\"", '1",RUN+="/x', "1\\n2",
        "9" * rng.randrange(10, 30), "1/2", "$(id)", "`id`", "*", "?", "[0-9]",
    ]
    return rng.choice(bad) if rng.random() < rng.hostile else rng.choice(good)


def text(rng):
    """A vendor or model string."""
    parts = [
        "HP", "SONY", "Ultrium 1-SCSI", "C7200", "\\nRUN+=\"/bin/sh\"", "\\", "\\\\", "\"", "'",
        "\\c", "\\0101", "%s%n", "$(reboot)", "\t", "\r", "\x01", "\x1b[2J", "é", "\xff",
        "# END", "SYMLINK+=\"x\"", "KERNELS==\"0:0:0:0\"", " ", "\\x41",
    ]
    return "".join(rng.choice(parts) for _ in range(rng.randrange(1, 5)))


def node(rng, kind):
    """An sg or st node field."""
    n = rng.randrange(0, 40)
    good = {"sg": f"/dev/sg{n}", "st": f"/dev/{rng.choice(['st', 'nst'])}{n}"}[kind]
    bad = [f"/dev/{kind}../../x", f"/dev/{kind}{n}/../../x", "-", f"/dev/{kind}", f"/dev/{kind}{n}\"", text(rng)]
    return rng.choice(bad) if rng.random() < rng.hostile else good


def proc_listing(rng):
    lines = ["Attached devices:"]
    for _ in range(rng.randrange(1, 8)):
        host = "scsi" + number(rng) if rng.random() < 0.9 else number(rng)
        fields = [("Host:", host), ("Channel:", number(rng)), ("Id:", number(rng)), ("Lun:", number(rng))]
        if rng.random() < rng.hostile / 2:
            fields.pop(rng.randrange(len(fields)))
        lines.append(" ".join(f"{k} {v}" for k, v in fields))
        lines.append(f"  Vendor: {text(rng)} Model: {text(rng)} Rev: {rng.choice(['0105', 'E36R', text(rng)])}")
        kind = rng.choice(["Sequential-Access", "Medium Changer", "Direct-Access", text(rng)])
        lines.append(f"  Type:   {kind}                    ANSI SCSI revision: 03")
    return lines


def lsscsi_listing(rng):
    lines = []
    for _ in range(rng.randrange(1, 8)):
        hctl = ":".join(number(rng) for _ in range(rng.choice([4, 4, 4, 4, 3, 5])))
        kind = rng.choice(["tape", "mediumx", "disk", "cd/dvd", text(rng)])
        dev = node(rng, "st") if kind == "tape" else rng.choice(["-", "/dev/sda"])
        fields = [f"[{hctl}]", kind, text(rng), text(rng), "E36R", dev, node(rng, "sg")]
        if rng.random() < rng.hostile / 2:
            fields = fields[: rng.randrange(1, len(fields))]
        lines.append("    ".join(fields))
    return lines


def sgmap_listing(rng):
    lines = []
    for _ in range(rng.randrange(1, 8)):
        kind = rng.choice(["1", "8", "0", "5", number(rng)])
        fields = [node(rng, "sg"), number(rng), number(rng), number(rng), number(rng), kind]
        if kind == "1" or rng.random() < 0.2:
            fields.append(node(rng, "st"))
        if rng.random() < rng.hostile / 2:
            fields = fields[: rng.randrange(1, len(fields))]
        lines.append("  ".join(fields))
    return lines


def listing(rng, fmt):
    lines = {"proc": proc_listing, "lsscsi": lsscsi_listing, "sgmap": sgmap_listing}[fmt](rng)
    # whole-line damage: duplicates, cut lines, garbage, a NUL byte
    for _ in range(rng.randrange(0, 3) if rng.hostile else 0):
        op = rng.randrange(4)
        i = rng.randrange(len(lines))
        if op == 0:
            lines.insert(rng.randrange(len(lines) + 1), lines[i])
        elif op == 1:
            lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
        elif op == 2:
            lines.insert(i, text(rng))
        else:
            lines[i] = lines[i].replace(" ", "\0", 1)
    data = "\n".join(lines)
    if rng.random() < 0.9:
        data += "\n"
    return data.encode("utf-8", "surrogateescape")


def check_tree(case, root, rules, inp):
    """Problems in what the run left below the case directory."""
    problems = []
    chain = set()
    d = case
    for i in range(DEPTH):
        d = os.path.join(d, f"d{i}")
        chain.add(d)
    allowed_dirs = chain | {root, os.path.join(root, "dev"), os.path.join(root, "dev", "sg"),
                            os.path.join(root, "dev", "st"), os.path.join(case, "tmp")}
    allowed_files = {rules, inp}
    for top, dirs, files in os.walk(case):
        for name in dirs + files:
            p = os.path.join(top, name)
            if os.path.islink(p):
                sub = os.path.relpath(top, root)
                if sub not in ("dev/sg", "dev/st"):
                    problems.append(f"link outside ROOT/dev/sg, ROOT/dev/st: {p!r}")
                    continue
                m = LINK_NAME.fullmatch(name)
                if not m or (sub == "dev/st") != name.startswith("n"):
                    problems.append(f"link with a name not [n]hHcCtTlL: {p!r}")
                    continue
                h, c, t, l = m.groups()
                target = os.readlink(p)
                devfs = f"/dev/scsi/host{h}/bus{c}/target{t}/lun{l}/" + ("mtn" if sub == "dev/st" else "generic")
                plain = r"/dev/nst\d+" if sub == "dev/st" else r"/dev/sg\d+"
                if target != devfs and not re.fullmatch(plain, target):
                    problems.append(f"link {p!r} points to {target!r}")
            elif os.path.isdir(p):
                if p not in allowed_dirs:
                    problems.append(f"unexpected directory {p!r}")
            elif p not in allowed_files:
                problems.append(f"unexpected file {p!r}")
    left = os.listdir(os.path.join(case, "tmp"))
    if left:
        problems.append(f"temporary files left: {left!r}")
    return problems


def check_rules(path):
    problems = []
    if not os.path.exists(path):
        return problems
    with open(path, "rb") as f:
        for n, raw in enumerate(f.read().split(b"\n"), 1):
            line = raw.decode("latin-1")
            if line == "" or RULE_SG.fullmatch(line) or RULE_ST.fullmatch(line):
                continue
            if COMMENT.fullmatch(line) and not line.endswith("\\"):
                continue
            problems.append(f"rules line {n} is neither a comment nor a fixed rule: {line!r}")
    return problems


def run_case(prog, seed, i, work):
    rng = random.Random(f"{seed}:{i}")
    # how often a field is broken: a third of the cases are clean listings
    # (with hostile vendor/model text), so the paths that make links and
    # rules are fuzzed as well as the ones that refuse
    rng.hostile = rng.choice([0.0, 0.03, 0.3])
    fmt = rng.choice(["proc", "lsscsi", "sgmap"])
    how = rng.choice(["devfs", "udev", "rules", "dry"])
    case = os.path.join(work, f"case{i}")
    root = case
    for j in range(DEPTH):
        root = os.path.join(root, f"d{j}")
    root = os.path.join(root, "root")
    os.makedirs(root)
    os.makedirs(os.path.join(case, "tmp"))
    inp = os.path.join(case, "input.txt")
    rules = os.path.join(case, "out.rules")
    data = listing(rng, fmt)
    with open(inp, "wb") as f:
        f.write(data)
    cmd = [prog, "--input", inp, "--root", root]
    if rng.random() < 0.8:
        cmd += ["--format", fmt]
    if how in ("devfs", "udev"):
        cmd += ["--mode", how]
    elif how == "rules":
        cmd += ["--udev-rules", rules]
    else:
        cmd += ["--mode", rng.choice(["devfs", "udev"]), "--dry-run"]
    env = dict(os.environ, TMPDIR=os.path.join(case, "tmp"))
    try:
        p = subprocess.run(cmd, env=env, cwd=case, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        rc, out = p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        rc, out = "timeout", ""
    problems = []
    if rc not in (0, 1, 3):
        problems.append(f"exit status {rc}, not 0, 1 or 3")
    problems += check_tree(case, root, rules, inp)
    problems += check_rules(rules)
    if how == "dry" and os.path.exists(os.path.join(root, "dev")):
        problems.append("--dry-run made ROOT/dev")
    return rc, problems, cmd, data, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nb-devlinks", required=True)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--case", type=int, default=None, help="run only this case of the seed")
    a = ap.parse_args()
    if not os.access(a.nb_devlinks, os.X_OK):
        print(f"fuzz-devlinks: {a.nb_devlinks}: not an executable", file=sys.stderr)
        return 2
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1, 2**31)
    print(f"fuzz-devlinks: seed {seed} (replay: --seed {seed}), budget {a.seconds:g} s", flush=True)
    work = tempfile.mkdtemp(prefix="nb-fuzz-devlinks.")
    statuses = {}
    cases = [a.case] if a.case is not None else None
    start = time.monotonic()
    i = 0
    try:
        while True:
            if cases is not None:
                if not cases:
                    break
                i = cases.pop()
            elif time.monotonic() - start >= a.seconds:
                break
            rc, problems, cmd, data, out = run_case(a.nb_devlinks, seed, i, work)
            if problems:
                print(f"fuzz-devlinks: FAILED at case {i} (replay: --seed {seed} --case {i})")
                print("  command: " + " ".join(cmd))
                print(f"  listing: {data!r}")
                for p in problems[:20]:
                    print("  " + p)
                print("  its output:\n" + "\n".join("    " + s for s in out.splitlines()[:30]))
                return 1
            statuses[rc] = statuses.get(rc, 0) + 1
            shutil.rmtree(os.path.join(work, f"case{i}"))
            i += 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    total = sum(statuses.values())
    spread = ", ".join(f"exit {k}: {v}" for k, v in sorted(statuses.items(), key=str))
    print(f"fuzz-devlinks: {total} cases in {time.monotonic() - start:.0f} s, all passed ({spread})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
