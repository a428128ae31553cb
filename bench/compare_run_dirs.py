"""Compares two output trees of bench/run_bitwise_compare.sh byte for byte: every dataset of the
checkpoints, ratings and relevance files, and the CSV and JSON outputs (paths inside
explain_summary.json aside). Prints each difference; exit 1 if there is one."""
import filecmp
import json
import sys

import h5py


def datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def same(x, y):
    return x.tobytes() == y.tobytes() if hasattr(x, "tobytes") else x == y


def main(a, b):
    differences = 0
    for space in ["latent", "completed"]:
        for rel in [f"run_{space}/checkpoint.h5", f"rate_{space}/ratings.h5", f"explain_{space}/relevance.h5"]:
            da, db = datasets(f"{a}/{rel}"), datasets(f"{b}/{rel}")
            for key in sorted(set(da) | set(db)):
                if key not in da or key not in db or not same(da[key], db[key]):
                    print(f"differs: {rel} /{key}")
                    differences += 1
        for rel in [f"rate_{space}/ratings.csv", f"explain_{space}/relevance.csv", f"run_{space}/metrics.json"]:
            if not filecmp.cmp(f"{a}/{rel}", f"{b}/{rel}", shallow=False):
                print(f"differs: {rel}")
                differences += 1
        ja, jb = (json.load(open(f"{d}/explain_{space}/explain_summary.json")) for d in (a, b))
        for j in (ja, jb):
            j.pop("checkpoint"), j.pop("data")
        if ja != jb:
            print(f"differs: explain_{space}/explain_summary.json")
            differences += 1
    print(f"{differences} differences")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
