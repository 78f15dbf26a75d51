"""Documents for the filter tests: one clean file per language that no rule drops, and helpers."""

from __future__ import annotations

import functools

import polars as pl

from opencoder.core.config import load
from opencoder.data.filter import signals
from opencoder.data.filter.cli import complete
from opencoder.data.filter.engine import Engine

PYTHON = '''"""Inventory helpers for a small shop."""
import json
from pathlib import Path


class Inventory:
    """Items and their counts, saved as JSON."""

    def __init__(self, path):
        self.path = Path(path)
        self.items = {}

    def add(self, name, count):
        if count <= 0:
            raise ValueError(f"count must be positive, got {count}")
        current = self.items.get(name, 0)
        self.items[name] = current + count
        return self.items[name]

    def remove(self, name, count):
        left = self.items.get(name, 0) - count
        if left < 0:
            raise KeyError(name)
        if left == 0:
            del self.items[name]
        else:
            self.items[name] = left

    def save(self):
        with open(self.path, "w") as handle:
            json.dump(self.items, handle, indent=2, sort_keys=True)

    def total(self):
        result = 0
        for count in self.items.values():
            result += count
        return result
'''

C = '''#include <stdio.h>
#include <stdlib.h>

/* Sum the numbers given on the command line. */
static long parse(const char *text, int *ok)
{
    char *end = NULL;
    long value = strtol(text, &end, 10);
    *ok = (end != text && *end == '\\0');
    return value;
}

int main(int argc, char **argv)
{
    long total = 0;
    for (int i = 1; i < argc; i++) {
        int ok = 0;
        long value = parse(argv[i], &ok);
        if (!ok) {
            fprintf(stderr, "not a number: %s\\n", argv[i]);
            return 1;
        }
        total += value;
    }
    printf("%ld\\n", total);
    return 0;
}
'''

GO = '''package shop

import "errors"

// Inventory keeps item counts.
type Inventory struct {
\titems map[string]int
}

// Add puts count more of name into the inventory.
func (inv *Inventory) Add(name string, count int) error {
\tif count <= 0 {
\t\treturn errors.New("count must be positive")
\t}
\tif inv.items == nil {
\t\tinv.items = make(map[string]int)
\t}
\tcurrent := inv.items[name]
\tinv.items[name] = current + count
\treturn nil
}

// Total counts every item.
func (inv *Inventory) Total() int {
\tresult := 0
\tfor _, count := range inv.items {
\t\tresult += count
\t}
\treturn result
}
'''

JAVASCRIPT = '''// Inventory helpers for a small shop.
const fs = require("fs");

class Inventory {
  constructor(path) {
    this.path = path;
    this.items = new Map();
  }

  add(name, count) {
    if (count <= 0) {
      throw new Error(`count must be positive, got ${count}`);
    }
    const current = this.items.get(name) || 0;
    this.items.set(name, current + count);
    return this.items.get(name);
  }

  save() {
    const data = JSON.stringify(Object.fromEntries(this.items), null, 2);
    fs.writeFileSync(this.path, data);
  }

  total() {
    let result = 0;
    for (const count of this.items.values()) {
      result += count;
    }
    return result;
  }
}

module.exports = { Inventory };
'''

HTML = '''<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Opening hours</title>
</head>
<body>
  <h1>Opening hours of the corner shop</h1>
  <p>We are open from Monday to Friday between nine in the morning and six in the evening.</p>
  <p>On Saturdays we open a little later and close early, so please plan your visit.</p>
  <ul>
    <li>Fresh bread arrives every morning before we open the doors.</li>
    <li>Vegetables come from farms in the valley twice a week.</li>
  </ul>
  <p>Questions about orders can be sent to the shop by post or asked at the counter.</p>
</body>
</html>
'''

ENGLISH = '''Opening hours of the corner shop

The shop opens from Monday to Friday between nine in the morning and six in the evening.
On Saturdays it opens a little later and closes early, so please plan your visit ahead.
Fresh bread arrives every morning before the doors open, and it usually sells out by noon.
Vegetables come from farms in the valley twice a week, on Tuesdays and on Fridays.
Questions about orders can be sent by post or asked at the counter during opening hours.
Gift cards are available in several amounts and never expire once they have been bought.
Deliveries inside the town are free for orders above a modest amount, otherwise a fee applies.
Please bring your own bags if you can, because the shop tries to avoid plastic packaging.
Thank you for shopping locally and for supporting the people who grow and bake our food.
'''

CHINESE = '''街角商店的营业时间

本店周一至周五上午九点到下午六点营业，欢迎各位顾客光临。
周六开门稍晚并且提前关门，请大家提前安排好购物的时间。
新鲜面包每天早上开门之前送到，通常在中午之前就会卖完。
蔬菜每周两次从山谷里的农场运来，分别是周二和周五两天。
有关订单的问题可以写信寄来，也可以在营业时间到柜台询问。
礼品卡有多种面额可以选择，购买之后永远不会过期失效。
城里的送货服务对一定金额以上的订单免费，其余收取少量费用。
如果可以的话请自带购物袋，本店尽量避免使用塑料包装材料。
感谢大家在本地购物，也感谢种植粮食和烘焙面包的每一个人。
'''

CLEAN = {
    "shop.py": PYTHON, "sum.c": C, "shop.go": GO, "shop.js": JAVASCRIPT, "hours.html": HTML,
    "hours.txt": ENGLISH, "hours_zh.txt": CHINESE,
}


@functools.cache
def engine() -> Engine:
    """The release's rule set alone: text-file recall (tests/test_filter_text_recall.py) switched off."""
    params = load()["filter"]
    return Engine({**params, "text_recall": {**params["text_recall"], "enabled": False}})


def documents(items: list[tuple[str, str]]) -> pl.DataFrame:
    """(path, text) pairs → documents with derived language, doc_type and bytes."""
    frame = pl.DataFrame({"id": [f"doc{i}" for i in range(len(items))], "path": [p for p, _ in items],
                          "text": [t for _, t in items]})
    return complete(frame, "test documents")


def decide(items: list[tuple[str, str]]) -> pl.DataFrame:
    decisions, _ = engine().decide_chunk(documents(items))
    return decisions


def fired(path: str, text: str) -> list[str]:
    return decide([(path, text)])["fired"][0].to_list()


def value(rule_id: str, path: str, text: str):
    """The signal behind `rule_id` for one document."""
    frame = engine().analyse(documents([(path, text)]))
    return signals.compute(signals.prepare(frame), [rule_id])[rule_id][0]
