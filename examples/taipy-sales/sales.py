# SPDX-License-Identifier: MIT
"""sales.py - the task functions of the taipy-sales example (config.toml).

Each function takes and returns what Taipy hands a task: pandas DataFrames
for the csv, excel and sql_table nodes, a str for text, a dict for json.
"""
import numpy as np
import pandas as pd

PRICES = {"Espresso Beans 1kg": 18.50, "Paper Filters": 4.25, "Burr Grinder": 129.99,
          "Milk Jug": 12.00, "Tamper": 24.90}
REGIONS = ["North", "South", "East", "West"]


def generate():
    """2,000 orders of 2026 from a fixed seed: the same file on every run."""
    rng = np.random.default_rng(2026)
    n = 2000
    products = rng.choice(list(PRICES), n)
    days = np.sort(rng.integers(0, 365, n))
    return pd.DataFrame({
        "date": (pd.Timestamp("2026-01-01") + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d"),
        "region": rng.choice(REGIONS, n),
        "product": products,
        "units": rng.integers(1, 12, n),
        "unit_price": [PRICES[p] for p in products],
    })


def _revenue(orders):
    return orders.assign(revenue=(orders.units * orders.unit_price).round(2))


def by_region(orders):
    t = _revenue(orders).groupby("region", as_index=False)[["units", "revenue"]].sum()
    return t.sort_values("revenue", ascending=False)


def by_product(orders):
    t = _revenue(orders).groupby("product", as_index=False)[["units", "revenue"]].sum()
    return t.sort_values("revenue", ascending=False)


def by_month(orders):
    o = _revenue(orders).assign(month=orders.date.str[:7])
    return o.groupby("month", as_index=False).agg(orders=("units", "size"), units=("units", "sum"),
                                                  revenue=("revenue", "sum"))


def write_report(regions, products, months):
    total = round(float(months.revenue.sum()), 2)
    lines = [f"Sales 2026: {int(months.orders.sum())} orders, {int(months.units.sum())} units, "
             f"revenue {total:,.2f}", "", "By region:"]
    lines += [f"  {r.region:<20} {r.units:>6} {r.revenue:>12,.2f}" for r in regions.itertuples()]
    lines += ["", "By product:"]
    lines += [f"  {r.product:<20} {r.units:>6} {r.revenue:>12,.2f}" for r in products.itertuples()]
    lines += ["", "By month:"]
    lines += [f"  {r.month:<20} {r.units:>6} {r.revenue:>12,.2f}" for r in months.itertuples()]
    best = months.loc[months.revenue.idxmax()]
    summary = {"revenue": total, "best_region": regions.iloc[0].region,
               "best_product": products.iloc[0]["product"], "best_month": best.month}
    return "\n".join(lines) + "\n", summary
