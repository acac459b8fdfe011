#!/usr/bin/env python3
"""The ABI check: the exported symbols of the shared library and the prototypes of the public
headers against the committed list (abi/libresumable.abi).

  abi_check.py [--absent HEADER]... LIB INCLUDE_DIR LIST VERSION CC...   check (meson test 'abi')
  abi_check.py --update LIB INCLUDE_DIR LIST CC...   rewrite LIST from the headers and LIB

CC is the C compiler command, used only to preprocess the public headers. --absent names a
public header whose part this build leaves out (a server-only build: --absent stager.h): the
library must not export its functions, and the list and the header must still agree on them.

It fails, printing the difference, when a listed symbol is no longer exported, when an exported
symbol is not listed (additions are deliberate: run tools/abi_update), when a RESUMABLE_EXPORT
prototype in the headers differs from its listed one, when a public struct's members, an enum's
values or a callback type differ from the listed ones, or when the version in
resumable/version.h or the soname disagree with the project version. Prototypes are compared
as types only: comments and parameter names are dropped and whitespace is collapsed, so that a
reformatted or renamed-parameter declaration is not a change.
"""
import os
import re
import subprocess
import sys

HEADER = """\
# libresumable's ABI: every exported symbol, one per line, with its prototype (types only).
# The `abi` test compares it with the built library and include/resumable/*.h; a change here is a
# change of the ABI. Within a major version, lines are only added (see resumable/version.h).
# Regenerate after a deliberate addition: tools/abi_update [BUILD_DIR]
"""


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def split_params(params):
    out, depth, cur = [], 0, ""
    for ch in params:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [p.strip() for p in out]


KEYWORDS = {"void", "char", "short", "int", "long", "float", "double", "signed", "unsigned",
            "_Bool", "const", "volatile", "restrict", "struct", "enum", "union"}
QUALIFIERS = {"const", "volatile", "restrict", "struct", "enum", "union"}


def param_type(p):
    """The parameter's type without its name: 'const char *path' -> 'const char *'."""
    p = re.sub(r"\s*\[[^\]]*\]$", "[]", p)  # arrays keep their brackets, not their bound
    arr = p.endswith("[]")
    if arr:
        p = p[:-2].rstrip()
    m = re.match(r"^(.*?)([A-Za-z_]\w*)$", p)
    if "(" not in p and m:
        before, last = m.group(1), m.group(2)
        words = re.findall(r"[A-Za-z_]\w*", before)
        # `last` is a name when something before it is a type: a '*', or a word other than a
        # qualifier ("unsigned n" has a name, "const foo" and "struct foo" do not).
        if last not in KEYWORDS and ("*" in before or any(w not in QUALIFIERS for w in words)):
            p = before
    return p.strip() + ("[]" if arr else "")


def normalise(decl):
    """'RESUMABLE_EXPORT int f(const char *a,\n int b)' -> ('f', 'int f(const char *, int)')."""
    decl = re.sub(r"\s+", " ", decl.replace("RESUMABLE_EXPORT", "")).strip().rstrip(";").strip()
    m = re.match(r"^(.*?)\b([A-Za-z_]\w*)\s*\((.*)\)$", decl)
    if not m:
        raise SystemExit("abi_check: cannot read the declaration: " + decl)
    ret, name, params = m.group(1).strip(), m.group(2), m.group(3)
    types = ", ".join(param_type(p) for p in split_params(params))
    proto = "%s %s(%s)" % (ret, name, types)
    proto = re.sub(r"\s*\*\s*", "*", proto)  # one style of stars: "char *p", "char **"
    proto = re.sub(r"([^\s*(])\*", r"\1 *", proto)
    proto = re.sub(r"\s+", " ", proto).replace("( ", "(").replace(" )", ")").replace(" ,", ",")
    return name, proto


def public_headers(include_dir):
    hdr_dir = os.path.join(include_dir, "resumable")
    return [fn for fn in sorted(os.listdir(hdr_dir)) if fn.endswith(".h") and fn != "export.h"]


def header_prototypes(include_dir):
    """{name: prototype}, {name: header} of every RESUMABLE_EXPORT declaration."""
    protos, where = {}, {}
    hdr_dir = os.path.join(include_dir, "resumable")
    for fn in public_headers(include_dir):
        text = strip_comments(open(os.path.join(hdr_dir, fn), encoding="utf-8").read())
        for m in re.finditer(r"\bRESUMABLE_EXPORT\b[^;{]*;", text):
            name, proto = normalise(m.group(0))
            if name in protos:
                raise SystemExit("abi_check: %s declared twice (%s and %s)" % (name, where[name], fn))
            protos[name], where[name] = proto, fn
    return protos, where


def type_definitions(include_dir, cc):
    """The public structs, enums and callback types, from the public headers preprocessed by
    `cc` (so that X-macros and array bounds are expanded), one normalised line per type:
    'struct resumable_complete_info { uint64_t size; uint8_t sha256[32]; }',
    'enum resumable_log_level { RESUMABLE_LOG_ERROR = 0, ... }',
    'typedef void (*resumable_log_fn)(void *, resumable_log_level, const char *)'."""
    # Every public header by name rather than resumable.h, which a build may generate parts of
    # (and which leaves out the headers of a part not built): the types are the same in every
    # build.
    tu = "".join('#include "resumable/%s"\n' % h for h in public_headers(include_dir))
    text = subprocess.run(cc + ["-E", "-P", "-I" + include_dir, "-x", "c", "-"], input=tu,
                          check=True, capture_output=True, text=True).stdout
    text = re.sub(r"\s+", " ", strip_comments(text))
    types = {}
    for m in re.finditer(r"typedef (struct|enum) (resumable_\w+) ?\{(.*?)\} ?\w+ ?;", text):
        kind, name, body = m.groups()
        if kind == "struct":
            members = [member(d) for d in body.split(";") if d.strip()]
            types[name] = "struct %s { %s; }" % (name, "; ".join(members))
        else:
            values, nxt = [], 0
            for e in (e.strip() for e in body.split(",")):
                if not e:
                    continue
                n, _, v = (x.strip() for x in e.partition("="))
                nxt = int(v, 0) if v else nxt  # an implicit value follows the previous one
                values.append("%s = %d" % (n, nxt))
                nxt += 1
            types[name] = "enum %s { %s }" % (name, ", ".join(values))
    for m in re.finditer(r"typedef ([^;{}]*?)\( ?\* ?(resumable_\w+) ?\) ?\(([^;]*)\) ?;", text):
        ret, name, params = m.groups()
        _, proto = normalise("%s %s(%s)" % (ret, name, params))
        types[name] = "typedef " + proto.replace(name + "(", "(*" + name + ")(", 1)
    return types


def member(decl):
    """A struct member, normalised: a function pointer's parameters lose their names."""
    decl = decl.strip()
    m = re.match(r"^(.*?)\( ?\* ?(\w+) ?\) ?\((.*)\)$", decl)
    if m:
        ret, name, params = m.groups()
        _, proto = normalise("%s %s(%s)" % (ret, name, params))
        return proto.replace(name + "(", "(*" + name + ")(", 1)
    decl = re.sub(r"\s*\*\s*", "*", decl)
    decl = re.sub(r"([^\s*(])\*", r"\1 *", decl)
    return re.sub(r"\s*\[\s*", "[", re.sub(r"\s*\]", "]", decl))


def exported_symbols(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True, capture_output=True,
                         text=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        # Names starting with '_' belong to the toolchain (_init, sanitizer hooks), not to us.
        if len(parts) >= 3 and not parts[2].startswith("_"):
            syms.add(parts[2].split("@")[0])
    return syms


def read_list(path):
    """(prototypes, types) of the list: 'struct', 'enum' and 'typedef' lines are types."""
    listed, types = {}, {}
    for line in open(path, encoding="utf-8"):
        line = line.strip().rstrip(";")
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^(?:struct|enum) (\w+) \{|^typedef [^(]*\(\*(\w+)\)", line)
        if m:
            types[m.group(1) or m.group(2)] = line
        else:
            name, proto = normalise(line)
            listed[name] = proto
    return listed, types


def soname(lib):
    out = subprocess.run(["objdump", "-p", lib], check=True, capture_output=True, text=True).stdout
    m = re.search(r"^\s*SONAME\s+(\S+)", out, flags=re.M)
    return m.group(1) if m else None


def header_version(include_dir):
    text = open(os.path.join(include_dir, "resumable", "version.h"), encoding="utf-8").read()
    parts = [re.search(r"#define RESUMABLE_VERSION_%s (\d+)" % k, text) for k in
             ("MAJOR", "MINOR", "PATCH")]
    string = re.search(r'#define RESUMABLE_VERSION_STRING "([^"]*)"', text)
    if not all(parts) or not string:
        return None, None
    return ".".join(p.group(1) for p in parts), string.group(1)


def main(argv):
    args = argv[1:]
    update = bool(args) and args[0] == "--update"
    if update:
        args = args[1:]
    # --absent HEADER (repeatable): a part this build leaves out (-Dclient=disabled: stager.h);
    # its functions are listed and checked in the headers, but the library must not export them.
    absent = set()
    while len(args) >= 2 and args[0] == "--absent":
        absent.add(args[1])
        args = args[2:]
    if len(args) < (4 if update else 5):
        sys.stderr.write(__doc__)
        return 2
    lib, include_dir, list_path = args[:3]
    cc = args[3:] if update else args[4:]
    protos, where = header_prototypes(include_dir)
    types = type_definitions(include_dir, cc)
    syms = exported_symbols(lib)
    built = {n: p for n, p in protos.items() if where[n] not in absent}

    problems = []
    for name in sorted(syms - set(built)):
        problems.append("exported but declared in no public header with RESUMABLE_EXPORT "
                        "(or in one this build leaves out): " + name)
    for name in sorted(set(built) - syms):
        problems.append("declared RESUMABLE_EXPORT but not exported by the library: " + name)

    if update and absent:
        print("abi_update: regenerate the list from a build with every part (no --absent)")
        return 1
    if update:
        if problems:
            print("\n".join(problems))
            print("abi_update: the headers and the library disagree; fix that first")
            return 1
        with open(list_path, "w", encoding="utf-8") as f:
            f.write(HEADER)
            for name in sorted(protos):
                f.write(protos[name] + ";\n")
            f.write("# The public types: struct members in order, enum values, callback types.\n")
            for name in sorted(types):
                f.write(types[name] + ";\n")
        print("abi_update: wrote %d symbols and %d types to %s" % (len(protos), len(types),
                                                                  list_path))
        return 0

    listed, listed_types = read_list(list_path)
    symbols = list(problems)
    for name in sorted(set(listed) - syms):
        if name in where and where[name] in absent:
            continue  # a part this build leaves out; its prototype is still checked below
        symbols.append("REMOVED: listed but no longer exported: " + listed[name])
    for name in sorted(syms - set(listed)):
        symbols.append("ADDED: exported but not in the list (run tools/abi_update if "
                       "deliberate): " + protos.get(name, name))
    prototypes = []
    for name in sorted(set(listed) & set(protos)):
        if listed[name] != protos[name]:
            prototypes.append("CHANGED: %s\n  list:   %s\n  header: %s" %
                              (name, listed[name], protos[name]))

    layouts = []
    for name in sorted(set(listed_types) | set(types)):
        if listed_types.get(name) != types.get(name):
            layouts.append("CHANGED: %s\n  list:   %s\n  header: %s" %
                           (name, listed_types.get(name, "(none)"), types.get(name, "(none)")))

    version = args[3]
    versions = []
    numbers, string = header_version(include_dir)
    if numbers != version or string != version:
        versions.append("version.h says %s (string %s), the project %s" % (numbers, string, version))
    want = "libresumable.so." + version.split(".")[0]
    got = soname(lib)
    if got != want:
        versions.append("soname is %s, the major version wants %s" % (got, want))

    # TAP, one case per check; the differences as comments.
    checks = [("the exported symbols are the listed ones (%d)" % len(listed), symbols),
              ("the public prototypes are the listed ones", prototypes),
              ("the public structs, enums and callback types are the listed ones (%d)" %
               len(listed_types), layouts),
              ("version.h and the soname (%s) match the project version %s" % (got, version),
               versions)]
    print("1..%d" % len(checks))
    for i, (what, diffs) in enumerate(checks, 1):
        print("%s %d - %s" % ("not ok" if diffs else "ok", i, what))
        for d in diffs:
            for line in d.splitlines():
                print("# " + line)
    failed = sum(1 for _, d in checks if d)
    if failed:
        print("# abi: differences from %s; if deliberate (an addition in a minor release), "
              "regenerate it with tools/abi_update" % list_path)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
