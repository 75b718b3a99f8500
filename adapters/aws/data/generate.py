"""Generate the EC2 instance-type and price tables of fleetplan's AWS adapter.

Writes instance-types.tsv (sizes, ENI limits, accelerators of every EC2 instance type) and
prices.tsv (on-demand Linux USD per hour by region) beside this script, from two pinned
public sources: moto's DescribeInstanceTypes data and Apache Libcloud's pricing snapshot.

    python generate.py          # write both files
    python generate.py --check  # regenerate in memory, exit 1 if a committed file differs

Exit codes: 0 done or up to date, 1 a file is out of date (--check), 2 wrong source
versions or source data the tables cannot represent.
"""

import datetime
import gzip
import importlib.metadata
import json
import os
import sys

MOTO_VERSION = "5.2.6"
LIBCLOUD_VERSION = "3.9.1"
PIP_INSTALL = f"pip install moto=={MOTO_VERSION} apache-libcloud=={LIBCLOUD_VERSION}"
HERE = os.path.dirname(os.path.abspath(__file__))
TYPES_FILE = "instance-types.tsv"
PRICES_FILE = "prices.tsv"
TYPE_COLUMNS = ["name", "current", "arch", "mac", "vcpus", "memory_mib", "enis",
                "ipv4_per_eni", "gpus", "gpu_manufacturer", "gpu_name", "gpu_memory_mib",
                "neuron_devices", "neuron_cores", "neuron_name", "local_storage_gb", "spot",
                "bare_metal"]


class SourceError(Exception):
    """The source data lacks a field the tables need, or has it with an unexpected type."""


def check_versions():
    """Exit 2 unless the pinned versions of both source packages are installed."""
    for dist, pinned in (("moto", MOTO_VERSION), ("apache-libcloud", LIBCLOUD_VERSION)):
        try:
            found = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found = "none"
        if found != pinned:
            print(f"generate.py: needs {dist} {pinned}, found {found}; "
                  f"install the pinned sources with: {PIP_INSTALL}", file=sys.stderr)
            sys.exit(2)


def load_sources():
    """Return (moto instance types by name, libcloud ec2_linux prices, libcloud updated date)."""
    import libcloud
    import moto
    path = os.path.join(os.path.dirname(moto.__file__), "ec2", "resources",
                        "instance_types.json.gz")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        types = json.load(f)
    with open(os.path.join(os.path.dirname(libcloud.__file__), "data", "pricing.json"),
              encoding="utf-8") as f:
        pricing = json.load(f)
    updated = datetime.datetime.fromtimestamp(pricing["updated"], datetime.timezone.utc)
    return types, pricing["compute"]["ec2_linux"], updated.date().isoformat()


def need(name, entry, path, kind):
    """The value at dotted `path` in `entry`, which must be of `kind` (bools are not ints)."""
    value = entry
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            raise SourceError(f"{name}: field {path} is missing")
        value = value[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SourceError(f"{name}: field {path} is {value!r}, expected {kind.__name__}")
    return value


def arch_of(name, entry):
    """The Kubernetes architecture of a type and whether it is an EC2 Mac type."""
    archs = need(name, entry, "ProcessorInfo.SupportedArchitectures", list)
    x86 = "x86_64" in archs or "x86_64_mac" in archs
    arm = "arm64" in archs or "arm64_mac" in archs
    if x86 == arm:
        raise SourceError(f"{name}: field ProcessorInfo.SupportedArchitectures is {archs!r}, "
                          "expected exactly one of x86_64 and arm64")
    mac = all(a.endswith("_mac") for a in archs)
    return ("amd64" if x86 else "arm64"), mac


def enis_of(name, entry):
    """ENIs the VPC CNI can use: those of the default network card, as eni-max-pods counts."""
    net = need(name, entry, "NetworkInfo", dict)
    if "NetworkCards" not in net:
        return need(name, entry, "NetworkInfo.MaximumNetworkInterfaces", int)
    default = need(name, entry, "NetworkInfo.DefaultNetworkCardIndex", int)
    for card in need(name, entry, "NetworkInfo.NetworkCards", list):
        if need(name, card, "NetworkCardIndex", int) == default:
            return need(name, card, "MaximumNetworkInterfaces", int)
    raise SourceError(f"{name}: field NetworkInfo.NetworkCards has no card {default}")


def accelerators_of(name, entry):
    """GPU and Neuron columns: gpus, manufacturer, name, memory of one GPU, neuron devices,
    neuron cores, neuron name (zeros and empty strings where the type has none)."""
    gpus = need(name, entry, "GpuInfo.Gpus", list) if "GpuInfo" in entry else []
    gpu_count = sum(need(name, g, "Count", int) for g in gpus)
    makers = sorted({need(name, g, "Manufacturer", str) for g in gpus})
    gpu_names = sorted({need(name, g, "Name", str) for g in gpus})
    gpu_mem = need(name, gpus[0], "MemoryInfo.SizeInMiB", int) if gpus else 0
    neurons = (need(name, entry, "NeuronInfo.NeuronDevices", list)
               if "NeuronInfo" in entry else [])
    devices = sum(need(name, n, "Count", int) for n in neurons)
    cores = sum(need(name, n, "Count", int) * need(name, n, "CoreInfo.Count", int)
                for n in neurons)
    neuron_names = sorted({need(name, n, "Name", str) for n in neurons})
    return [gpu_count, "+".join(makers), "+".join(gpu_names), gpu_mem,
            devices, cores, "+".join(neuron_names)]


def type_row(name, entry):
    """One row of instance-types.tsv, as a list of cells in TYPE_COLUMNS order."""
    if need(name, entry, "InstanceType", str) != name:
        raise SourceError(f"{name}: field InstanceType is {entry['InstanceType']!r}")
    arch, mac = arch_of(name, entry)
    storage = (need(name, entry, "InstanceStorageInfo.TotalSizeInGB", int)
               if "InstanceStorageInfo" in entry else 0)
    usage = need(name, entry, "SupportedUsageClasses", list)
    return [name, int(need(name, entry, "CurrentGeneration", bool)), arch, int(mac),
            need(name, entry, "VCpuInfo.DefaultVCpus", int),
            need(name, entry, "MemoryInfo.SizeInMiB", int), enis_of(name, entry),
            need(name, entry, "NetworkInfo.Ipv4AddressesPerInterface", int),
            *accelerators_of(name, entry), storage, int("spot" in usage),
            int(need(name, entry, "BareMetal", bool))]


def tsv(comments, rows):
    """Comment lines, then tab-separated rows, `\\n`-terminated, no trailing whitespace: a
    row's trailing empty cells are left out, so a row may have fewer cells than the header."""
    lines = [f"# {c}".rstrip() for c in comments]
    lines += ["\t".join(str(cell) for cell in row).rstrip("\t") for row in rows]
    return "".join(line + "\n" for line in lines)


def build(types, prices, updated):
    """Return ({file name: text}, summary lines) for the two tables."""
    generated = "Generated by adapters/aws/data/generate.py; do not edit."
    type_rows = [type_row(name, types[name]) for name in sorted(types)]
    regions = sorted({region for by_region in prices.values() for region in by_region})
    price_rows = []
    for name in sorted(set(types) & set(prices)):
        cells = []
        for region in regions:
            value = prices[name].get(region)
            if value is not None and (not isinstance(value, (int, float))
                                      or isinstance(value, bool) or value < 0):
                raise SourceError(f"{name}: field ec2_linux.{region} is {value!r}")
            cells.append(repr(float(value)) if value else "")
        if any(cells):
            price_rows.append([name, *cells])
    files = {
        TYPES_FILE: tsv([
            "EC2 instance types: size, ENIs of the default network card, accelerators.",
            f"Source: moto {MOTO_VERSION}, moto/ec2/resources/instance_types.json.gz "
            "(EC2 DescribeInstanceTypes data), Apache-2.0.",
            "arch is the Kubernetes spelling; mac marks EC2 Mac types.", generated,
        ], [TYPE_COLUMNS] + type_rows),
        PRICES_FILE: tsv([
            "EC2 on-demand Linux prices, USD per hour, one column per region.",
            "Empty cell = the source has no price; trailing empty cells are left out.",
            f"Source: Apache Libcloud {LIBCLOUD_VERSION}, libcloud/data/pricing.json "
            f"compute.ec2_linux, updated {updated}, Apache-2.0.",
            "A third-party snapshot of AWS's public price list: a planning estimate.", generated,
        ], [["name", *regions]] + price_rows),
    }
    priced = {row[0]: row for row in price_rows}
    east = regions.index("us-east-1") + 1 if "us-east-1" in regions else None
    current = [row[0] for row in type_rows if row[1] == 1]
    unpriced = [name for name in current if name not in priced]
    summary = [
        f"instance types: {len(type_rows)}",
        f"current-generation types: {len(current)}",
        f"types with a us-east-1 price: "
        f"{sum(1 for row in price_rows if east and row[east])}",
        f"types with any price: {len(price_rows)}",
        f"current-generation types without any price: {len(unpriced)}",
        f"price regions: {len(regions)}",
        f"libcloud prices updated: {updated}",
        "first current-generation types without a price: " + " ".join(unpriced[:20]),
    ]
    return files, summary


def first_difference(old, new):
    """A few lines showing where two texts first differ."""
    a, b = old.splitlines(), new.splitlines()
    i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    end = "<end of file>"
    return [f"  line {i + 1}:",
            f"    committed: {a[i] if i < len(a) else end!r}",
            f"    generated: {b[i] if i < len(b) else end!r}"]


def main(argv):
    """Generate (or with --check, verify) the tables; return the exit code."""
    if argv not in ([], ["--check"]):
        print("usage: generate.py [--check]", file=sys.stderr)
        return 2
    check_versions()
    try:
        files, summary = build(*load_sources())
    except SourceError as err:
        print(f"generate.py: unexpected source data: {err}", file=sys.stderr)
        return 2
    if not argv:
        print("\n".join(summary), file=sys.stderr)
        for name, text in files.items():
            with open(os.path.join(HERE, name), "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
        print(f"wrote {', '.join(files)} in {HERE}", file=sys.stderr)
        return 0
    stale = 0
    for name, text in files.items():
        path = os.path.join(HERE, name)
        old = None
        if os.path.exists(path):
            with open(path, "rb") as f:
                old = f.read()
        if old != text.encode("utf-8"):
            stale = 1
            print(f"{name} differs from what generate.py produces", file=sys.stderr)
            if old is None:
                print("  (file is missing)", file=sys.stderr)
            else:
                lines = first_difference(old.decode("utf-8", "replace"), text)
                print("\n".join(lines), file=sys.stderr)
    if stale:
        print("regenerate with: python adapters/aws/data/generate.py", file=sys.stderr)
    else:
        print(f"{TYPES_FILE} and {PRICES_FILE} are up to date")
    return stale


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
