#!/usr/bin/env python3
"""Deterministic, realistic CSV of staffing placements for the data-path benchmark.

    scripts/bench/gen_csv.py ROWS OUT.csv      # 1,000,000 rows ≈ 150 MB

Twelve columns of mixed types (BIGINT, VARCHAR, DATE, DOUBLE, BOOLEAN, TIMESTAMP), quoted fields
with embedded delimiters, and empty values. The same arguments always give the same bytes.
"""
import random
import sys

FIRST = "Ada Ben Chloe Dev Elif Femi Gus Hana Ivan Jia Kofi Lena Marco Nia Omar Priya Quinn Rosa Sami Tara Uma Victor Wen Xavi Yara Zoe".split()
LAST = "Okafor Lindqvist Moreau Patel Yilmaz Adeyemi Novak Sato Petrov Chen Mensah Fischer Rossi Brown Haddad Iyer Walsh Garcia Nieminen Kowalski".split()
ROLES = ["Data Engineer", "ML Engineer", "Analytics Engineer", "Platform Engineer", "Data Scientist",
         "Site Reliability Engineer", "Backend Engineer", "Product Analyst"]
CLIENTS = ["Northwind", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises",
           "Acme", "Soylent", "Tyrell"]
CITIES = ["London", "Berlin", "Lisbon", "Warsaw", "Amsterdam", "Paris", "Madrid", "Dublin", "Oslo", "Prague",
          "Vienna", "Zurich", "Milan", "Athens", "Helsinki"]
NOTES = ["", "", "", "extension likely", "\"needs visa, sponsored\"", "onsite twice a week",
         "\"client said \"\"excellent\"\"\"", "rate reviewed in Q3", "part of the platform squad"]


def main() -> None:
    rows, out = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(20261121)
    with open(out, "w", newline="") as f:
        f.write("placement_id,candidate,email,role,client,city,start_date,day_rate,hours_per_week,remote,placed_at,notes\n")
        buf = []
        for i in range(rows):
            month, day = rng.randint(1, 12), rng.randint(1, 28)
            first, last = rng.choice(FIRST), rng.choice(LAST)
            buf.append(
                f"{100000 + i},{first} {last},{first.lower()}.{last.lower()}{i % 997}@example.org,{rng.choice(ROLES)},{rng.choice(CLIENTS)},"
                f"{rng.choice(CITIES)},2025-{month:02d}-{day:02d},{rng.randint(300, 900) + rng.choice((0, 0.5))},"
                f"{rng.choice((20, 30, 37, 40))},{'true' if rng.random() < 0.4 else 'false'},"
                f"2024-{month:02d}-{day:02d} {rng.randint(8, 18):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d},"
                f"{rng.choice(NOTES)}\n"
            )
            if len(buf) == 10000:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))


if __name__ == "__main__":
    main()
