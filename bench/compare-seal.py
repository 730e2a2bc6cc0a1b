#!/usr/bin/env python3
"""Compare a BenchmarkDotNet run of bench/PrivateHealth.Benchmarks with Microsoft SEAL 4.4.3.

Usage:  python3 bench/compare-seal.py [report-full.json ...]
Without arguments, reads the newest *-report-full.json under ./BenchmarkDotNet.Artifacts/results.
Prints one markdown table per ring degree (and one for the aggregation workload): our median and mean
in microseconds, SEAL's median (min-max) from /work/shared/anchors/seal.md, the ratio ours/SEAL of the
medians, and the managed bytes allocated per operation. Rows above 1.5x SEAL are flagged.
"""
import glob
import json
import os
import sys

BAR = 1.5

# SEAL 4.4.3 on this machine kind (seal.md): median (min, max) in microseconds, single thread.
SEAL = {
    # (suite, method): {N: (median, min, max)}
    ("KeyGenBenchmarks", "SecretKey"): {4096: (556, 521, 563), 8192: (1544, 1055, 1736), 16384: (5613, 4555, 6689)},
    ("KeyGenBenchmarks", "PublicKey"): {4096: (949, 878, 1095), 8192: (3595, 2693, 5615), 16384: (12387, 9522, 13392)},
    ("KeyGenBenchmarks", "RelinKey"): {4096: (2363, 1665, 2657), 8192: (13654, 10085, 17146), 16384: (102885, 91523, 123640)},
    ("KeyGenBenchmarks", "GaloisKey"): {4096: (2386, 1698, 2648), 8192: (14221, 12216, 16612), 16384: (98450, 85397, 110422)},
    ("EncodingBenchmarks", "Encode"): {4096: (246, 241, 398), 8192: (1272, 772, 1327), 16384: (4457, 3843, 5303)},
    ("EncodingBenchmarks", "Decode"): {4096: (343, 310, 549), 8192: (2228, 1398, 2485), 16384: (12916, 12029, 14879)},
    ("EncryptionBenchmarks", "EncryptSecret"): {4096: (754, 560, 932), 8192: (3039, 2004, 3106), 16384: (11508, 9606, 12365)},
    ("EncryptionBenchmarks", "EncryptPublic"): {4096: (1532, 1393, 2320), 8192: (6015, 4241, 7998), 16384: (24395, 22304, 26733)},
    ("EncryptionBenchmarks", "Decrypt"): {4096: (56.1, 36.7, 86.6), 8192: (269, 143, 299), 16384: (976, 842, 1019)},
    ("EvaluatorBenchmarks", "AddCt"): {4096: (30.9, 21.9, 37.3), 8192: (149, 112, 210), 16384: (739, 581, 824)},
    ("EvaluatorBenchmarks", "AddPt"): {4096: (15.9, 13.4, 20.8), 8192: (91.8, 52.7, 97.4), 16384: (396, 331, 433)},
    ("EvaluatorBenchmarks", "SubCt"): {4096: (37.7, 29.1, 42.0), 8192: (142, 136, 167), 16384: (736, 633, 838)},
    ("EvaluatorBenchmarks", "Negate"): {4096: (18.4, 16.3, 21.5), 8192: (92.0, 69.6, 109), 16384: (457, 397, 489)},
    ("EvaluatorBenchmarks", "MulCt"): {4096: (181, 110, 212), 8192: (539, 431, 795), 16384: (3081, 3033, 3335)},
    ("EvaluatorBenchmarks", "MulPt"): {4096: (83.5, 57.3, 92.4), 8192: (236, 196, 590), 16384: (1568, 1138, 2066)},
    ("EvaluatorBenchmarks", "Square"): {4096: (138, 110, 144), 8192: (424, 366, 542), 16384: (2418, 1959, 3174)},
    ("EvaluatorBenchmarks", "Relinearize"): {4096: (1187, 726, 1569), 8192: (4740, 3826, 5729), 16384: (38334, 36686, 40327)},
    ("EvaluatorBenchmarks", "Rescale"): {4096: (303, 179, 405), 8192: (1131, 889, 1474), 16384: (6574, 6106, 6808)},
    ("EvaluatorBenchmarks", "Rotate"): {4096: (1209, 663, 1562), 8192: (5511, 3647, 6638), 16384: (37779, 35485, 39511)},
    ("NttCiphertextBenchmarks", "ForwardCiphertext"): {4096: (363, 242, 450), 8192: (1492, 1033, 1651), 16384: (6960, 6626, 7212)},
    ("NttCiphertextBenchmarks", "InverseCiphertext"): {4096: (260, 168, 521), 8192: (1156, 659, 1214), 16384: (5100, 4551, 5287)},
    ("NttBenchmarks", "Forward"): {4096: (98.8, 64.9, 110), 8192: (183, 126, 231), 16384: (440, 356, 491)},
    ("NttBenchmarks", "Inverse"): {4096: (63.8, 40.9, 93.4), 8192: (141, 81.9, 147), 16384: (294, 234, 310)},
}

# The aggregation program (seal.md): n = 8192, {60, 40, 40, 60}, 1,000 public-key ciphertexts; medians only.
SEAL_AGGREGATION = {
    "Encode": 949, "EncryptPublic": 5741, "Decrypt": 130, "Decode": 1100, "AddInPlace": 93.7,
    "RawVectorAddLoop": 36,  # "a plain AVX-512 loop over the same data" on SEAL's (Intel) box
}

LABELS = {
    "SecretKey": "KeyGen secret key", "PublicKey": "KeyGen public key", "RelinKey": "KeyGen relin key",
    "GaloisKey": "KeyGen Galois key (1 step)", "Encode": "Encode (doubles)", "Decode": "Decode (doubles)",
    "EncryptSecret": "Encrypt, secret key", "EncryptPublic": "Encrypt, public key", "Decrypt": "Decrypt",
    "AddCt": "Add ct+ct", "AddPt": "Add ct+pt", "SubCt": "Sub ct-ct", "Negate": "Negate",
    "MulCt": "Multiply ct*ct (no relin)", "MulPt": "Multiply ct*pt", "Square": "Square (no relin)",
    "Relinearize": "Relinearize (3→2)", "Rescale": "Rescale to next", "Rotate": "Rotate vector by 1",
    "AddCtInPlace": "Add ct+ct in place", "AddPtInPlace": "Add ct+pt in place", "NegateInPlace": "Negate in place",
    "RotateInPlace": "Rotate by 1 in place", "ForwardCiphertext": "NTT fwd, whole ciphertext",
    "InverseCiphertext": "NTT inv, whole ciphertext", "Forward": "NTT fwd, 1 prime", "Inverse": "NTT inv, 1 prime",
    "AddInPlace": "Ciphertext add in place (per add)", "RawVectorAddLoop": "Bare Vector512 add loop (reference, not our API)",
}

ORDER = ["KeyGenBenchmarks", "EncodingBenchmarks", "EncryptionBenchmarks", "EvaluatorBenchmarks",
         "NttCiphertextBenchmarks", "NttBenchmarks"]


def load(paths):
    rows = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
        for b in report["Benchmarks"]:
            params = dict(kv.split("=", 1) for kv in (b.get("Parameters") or "").split("&") if "=" in kv)
            if "LogN" in params:
                n = 1 << int(params["LogN"])
            elif "N" in params:
                n = int(params["N"])
            else:
                n = None
            stats = b.get("Statistics") or {}
            if not stats:
                continue
            mem = (b.get("Memory") or {}).get("BytesAllocatedPerOperation")
            rows[(b["Type"], b["Method"], n)] = (stats["Median"] / 1000, stats["Mean"] / 1000, mem)
    return rows


def fmt(us):
    if us >= 1000:
        return f"{us:,.0f}"
    if us >= 100:
        return f"{us:.0f}"
    if us >= 10:
        return f"{us:.1f}"
    return f"{us:.2f}"


def main():
    paths = sys.argv[1:] or sorted(glob.glob("BenchmarkDotNet.Artifacts/results/*-report-full.json"), key=os.path.getmtime)[-1:]
    if not paths:
        sys.exit("no *-report-full.json found; run the benchmarks first")
    rows = load(paths)
    misses = []
    for n in (4096, 8192, 16384):
        keys = sorted((k for k in rows if k[2] == n and k[0] in ORDER),
                      key=lambda k: (ORDER.index(k[0]), list(LABELS).index(k[1]) if k[1] in LABELS else 99))
        if not keys:
            continue
        print(f"\n### N = {n}\n")
        print("| Operation | Benchmark | Ours median µs | Ours mean µs | SEAL median µs (min–max) | Ours / SEAL | Allocated B/op | |")
        print("|---|---|---:|---:|---:|---:|---:|---|")
        for k in keys:
            med, mean, mem = rows[k]
            seal = SEAL.get((k[0], k[1]), {}).get(n)
            if seal:
                ratio = med / seal[0]
                if ratio > BAR:
                    flag = f"**> {BAR}x SEAL**"
                elif ratio > 1:
                    flag = "slower, within SEAL's spread" if med <= seal[2] else "slower than SEAL's slowest run"
                else:
                    flag = ""
                if ratio > BAR:
                    misses.append(f"N={n} {LABELS.get(k[1], k[1])}: {ratio:.2f}x")
                seal_s, ratio_s = f"{fmt(seal[0])} ({fmt(seal[1])}–{fmt(seal[2])})", f"{ratio:.2f}"
            else:
                seal_s, ratio_s, flag = "—", "—", ""
            print(f"| {LABELS.get(k[1], k[1])} | {k[0].replace('Benchmarks', '')}.{k[1]} | {fmt(med)} | {fmt(mean)} | {seal_s} | {ratio_s} | {mem if mem is not None else '?'} | {flag} |")
    agg = [k for k in rows if k[0] == "AggregationBenchmarks"]
    if agg:
        print("\n### Aggregation workload: N = 8192, Q = [60, 40, 40], P = [60], 1,000 public-key ciphertexts\n")
        print("| Operation | Benchmark | Ours median µs | Ours mean µs | SEAL median µs | Ours / SEAL | Allocated B/op | Per second (ours) |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for m in SEAL_AGGREGATION:
            k = ("AggregationBenchmarks", m, None)
            if k not in rows:
                continue
            med, mean, mem = rows[k]
            seal = SEAL_AGGREGATION[m]
            print(f"| {LABELS.get(m, m)} | Aggregation.{m} | {fmt(med)} | {fmt(mean)} | {fmt(seal)} | {med / seal:.2f} | {mem} | {1e6 / med:,.0f}/s |")
    print("\nAbove the 1.5x bar: " + ("; ".join(misses) if misses else "none"))


if __name__ == "__main__":
    main()
