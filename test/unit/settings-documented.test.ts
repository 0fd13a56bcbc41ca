/**
 * Every environment variable the code reads is in the README's settings tables: read directly
 * (process.env.X, env.X), through start.ts's checked settings (numberSetting("X")), or as a key of
 * the functions' typed configuration (shared/config.ts).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { test } from "node:test";

const ROOT = resolve(import.meta.dirname, "../..");

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mjs)$/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

test("every setting the code reads is in the README's settings tables", () => {
  const read = new Set<string>();
  for (const file of ["infra", "shared", "functions"].flatMap(sources)) {
    if (file.includes(`${join("infra", "cdk")}`)) continue; // the CDK app is configured by environments.ts, not env
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/\b(?:process\.)?env\.([A-Z][A-Z0-9_]+)/g)) read.add(m[1]!);
    for (const m of text.matchAll(/\b\w+Setting\("([A-Z][A-Z0-9_]+)"/g)) read.add(m[1]!);
    if (file.endsWith(join("shared", "config.ts")))
      for (const m of text.matchAll(/^ {2}([A-Z][A-Z0-9_]+): v\./gm)) read.add(m[1]!);
  }
  assert.ok(
    read.has("PORT") && read.has("NOTIFY_TIMEOUT_MS") && read.has("LEDGER_TABLE"),
    "the search finds settings",
  );
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const documented = new Set([...readme.matchAll(/^\| `([A-Z][A-Z0-9_]+)`/gm)].map((m) => m[1]!));
  const missing = [...read].filter((name) => !documented.has(name)).sort();
  assert.deepEqual(missing, [], "settings read by the code but missing from the README's tables");
});
