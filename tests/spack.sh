#!/bin/sh
# SPDX-License-Identifier: MIT
# The Spack recipe (packaging/spack/packages/tide/package.py), without Spack: a stand-in
# for spack.package records what the recipe declares; the recipe must be an
# AutotoolsPackage at the version in VERSION, depend on mpi and hwloc, give every variant
# to configure as an option configure has, and the configure line it makes (for each
# variant, on and off) must configure tide from this source tree.
set -u
src=${TIDE_SRCDIR:-.}
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
command -v python3 >/dev/null || { echo "FAIL: python3 is needed to read the recipe"; exit 1; }
"$src/configure" --help >"$d/help" || { echo "FAIL: configure --help"; exit 1; }
python3 - "$src" "$d" <<'EOF' || exit 1
import ast, os, re, sys, types

src, d = sys.argv[1], sys.argv[2]
path = os.path.join(src, "packaging/spack/packages/tide/package.py")
text = open(path).read()
ast.parse(text, path)  # a syntax error stops here, naming the line

declared = {"versions": [], "variants": {}, "depends": []}
class AutotoolsPackage:
    pass
def version(v, *a, **k): declared["versions"].append(v)
def variant(name, default=False, description="", **k):
    assert description, f"variant {name} has no description"
    declared["variants"][name] = default
def depends_on(spec, when=None, type=None): declared["depends"].append((spec, when))
spack = types.ModuleType("spack")
pkg = types.ModuleType("spack.package")
for f in (AutotoolsPackage, version, variant, depends_on):
    setattr(pkg, f.__name__, f)
pkg.__all__ = [f.__name__ for f in (AutotoolsPackage, version, variant, depends_on)]
sys.modules["spack"] = spack
sys.modules["spack.package"] = pkg
ns = {}
exec(compile(text, path, "exec"), ns)

fails = []
cls = ns.get("Tide")
if cls is None or not issubclass(cls, AutotoolsPackage):
    fails.append("no class Tide(AutotoolsPackage)")
want = open(os.path.join(src, "VERSION")).read().strip()
if want not in declared["versions"]:
    fails.append(f"version {want} (VERSION) not declared: {declared['versions']}")
names = {re.split(r"[@+~ ]", s)[0] for s, _ in declared["depends"]}
for need in ("mpi", "hwloc"):
    if need not in names:
        fails.append(f"does not depend on {need}")
for v in declared["variants"]:
    if not any(s.startswith(v) and w == f"+{v}" for s, w in declared["depends"]) and v != "tests":
        fails.append(f"variant {v} brings no dependency")

help_text = open(os.path.join(d, "help")).read()
class Spec(dict):
    def __init__(self, on):
        super().__init__(mpi=types.SimpleNamespace(mpicc="mpicc"))
        self.on = on
    def satisfies(self, s):
        return self.on.get(s.lstrip("+"), False)
lines = []
for flip in [None] + list(declared["variants"]):
    on = dict(declared["variants"])
    if flip:
        on[flip] = not on[flip]
    p = cls.__new__(cls)
    p.spec = Spec(on)
    p.with_or_without = lambda n, p=p: [("--with-" if p.spec.on[n] else "--without-") + n]
    p.enable_or_disable = lambda n, p=p: [("--enable-" if p.spec.on[n] else "--disable-") + n]
    args = p.configure_args()
    for a in args:
        if a.startswith("--"):
            opt = a.split("=")[0]
            base = re.sub(r"^--(with|without|enable|disable)-", "", opt)
            if not re.search(r"--(with|without|enable|disable)-" + re.escape(base) + r"(?=[\s=\[])", help_text):
                fails.append(f"configure has no option {opt}")
    lines.append(" ".join(args))
for f in fails:
    print("FAIL:", f)
if fails:
    sys.exit(1)
open(os.path.join(d, "lines"), "w").write("\n".join(lines) + "\n")
print(f"ok: the recipe declares {want}, depends on {sorted(names)}, variants {declared['variants']}")
EOF
# The configure lines the recipe makes, run against this tree (configure only: the build
# is every other test's). A variant whose library is missing here may fail, saying so.
status=0
while IFS= read -r line; do
  mkdir -p "$d/b" && rm -rf "$d/b"/*
  # shellcheck disable=SC2086
  if (cd "$d/b" && "$src/configure" -q $line) >"$d/log" 2>&1; then
    echo "ok: configure $line"
  elif grep -q "install the Debian package" "$d/log"; then
    echo "skipped: configure $line ($(grep -m1 'install the Debian package' "$d/log" | sed 's/.*error: //'))"
  else
    tail -5 "$d/log"; echo "FAIL: configure $line"; status=1
  fi
done <"$d/lines"
exit $status
